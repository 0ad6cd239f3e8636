"""`newsroom tag`: the tags of a story file, or of a JSON-lines corpus, for editors and batch jobs.

newsroom tag story.json             ninjs, NewsML-G2/NITF XML or plain text → JSON tags
newsroom tag - < story.txt          the same from stdin
newsroom tag --jsonl corpus.jsonl   {"id", "headline", "body", "language"} per line →
                                    {"id", "people", "organisations", "places", "events"} per line
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from services.enrich.tagging.tagger import Tagger, TextItem
from shared.story import Story

CHUNK = 256  # stories per nlp.pipe call in --jsonl mode


StoryReader = Callable[[bytes], list[Story]]
"""Reads a story file (ninjs or XML) into stories; ingest's parsers, wired in by `newsroom`."""


def _items_of(raw: bytes, read_stories: StoryReader) -> list[TextItem]:
    """A story file as the tagger reads it: ninjs and XML through `read_stories`, else plain text."""
    if raw.lstrip()[:1] in (b"{", b"[", b"<"):
        return [TextItem.of_story(story) for story in read_stories(raw)]
    return [TextItem(id="-", body=raw.decode("utf-8"))]


def _jsonl_items(stream: TextIO) -> Iterator[TextItem]:
    for number, line in enumerate(stream, 1):
        if not line.strip():
            continue
        record: dict[str, Any] = json.loads(line)
        yield TextItem(
            id=str(record.get("id", number)),
            headline=str(record.get("headline") or ""),
            body=str(record.get("body") or ""),
            language=record.get("language") or "en",
        )


def _tagger(model: str | None, kb_extra: Path | None) -> Tagger:
    from services.enrich.tagging.model import load_tagger
    from shared.logging import configure_logging
    from shared.settings import Settings

    configure_logging("tag")  # logs on stderr: stdout carries only the tags

    settings = Settings()
    overrides: dict[str, Any] = {}
    if model:
        overrides["spacy_model"] = model
    if kb_extra:
        overrides["kb_extra_path"] = kb_extra
    return load_tagger(settings.model_copy(update=overrides))


Source = Annotated[str, typer.Argument(help="Story file (ninjs, NewsML-G2, NITF, text) or - for stdin.")]
JsonLines = Annotated[bool, typer.Option("--jsonl", help="One JSON story per line in, one tags line out.")]
Model = Annotated[str | None, typer.Option(help="spaCy pipeline (default: NEWSROOM_SPACY_MODEL).")]
KbExtra = Annotated[Path | None, typer.Option(help="Editors' KB file (default: NEWSROOM_KB_EXTRA_PATH).")]


def make_tag_command(read_stories: StoryReader) -> Callable[..., None]:
    """The `newsroom tag` command, reading story files with `read_stories`."""

    def tag(source: Source, jsonl: JsonLines = False, model: Model = None, kb_extra: KbExtra = None) -> None:
        """Print the people, organisations, places and events of a story, with ids, relevance and offsets."""
        tagger = _tagger(model, kb_extra)
        if jsonl:
            stream = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
            with stream:
                records = _jsonl_items(stream)
                while chunk := list(islice(records, CHUNK)):
                    for item, tags in zip(chunk, tagger.tag_texts(chunk), strict=True):
                        sys.stdout.write(
                            json.dumps({"id": item.id, **tags.ninjs()}, ensure_ascii=False) + "\n"
                        )
            return
        raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
        items = _items_of(raw, read_stories)
        out = [
            {"id": item.id, **tags.ninjs()} for item, tags in zip(items, tagger.tag_texts(items), strict=True)
        ]
        json.dump(out[0] if len(out) == 1 else out, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")

    return tag
