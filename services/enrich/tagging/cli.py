"""`newsroom tag`: the tags of a story file, or of a JSON-lines corpus, for editors and batch jobs.

newsroom tag story.json             ninjs, NewsML-G2/NITF XML or plain text → JSON tags
newsroom tag - < story.txt          the same from stdin
newsroom tag --jsonl corpus.jsonl   {"id", "headline", "body", "language"} per line →
                                    {"id", "people", "organisations", "places", "events"} per line
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from services.enrich.tagging.tagger import Tagger, TextItem

CHUNK = 256  # stories per nlp.pipe call in --jsonl mode


def _items_of(raw: bytes) -> list[TextItem]:
    """A story file as the tagger reads it: ingest's own parsers for ninjs and XML, else plain text."""
    from services.ingest.formats import read_items
    from services.ingest.schemas import NinjsSchemas

    head = raw.lstrip()[:1]
    if head in (b"{", b"[", b"<"):
        content_type = "application/xml" if head == b"<" else "application/json"
        parsed = read_items(raw, content_type, "cli", NinjsSchemas(), max_original=0)
        stories = [item.story for item in parsed.items if item.story is not None]
        errors = [str(item.error) for item in parsed.items if item.error is not None]
        if not stories:
            raise typer.BadParameter("; ".join(errors) or "no story in the file")
        return [TextItem.of_story(story) for story in stories]
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


def tag(source: Source, jsonl: JsonLines = False, model: Model = None, kb_extra: KbExtra = None) -> None:
    """Print the people, organisations, places and events of a story, with ids, relevance and offsets."""
    tagger = _tagger(model, kb_extra)
    if jsonl:
        stream = sys.stdin if source == "-" else open(source, encoding="utf-8")  # noqa: SIM115
        with stream:
            records = _jsonl_items(stream)
            while chunk := list(islice(records, CHUNK)):
                for item, tags in zip(chunk, tagger.tag_texts(chunk), strict=True):
                    sys.stdout.write(json.dumps({"id": item.id, **tags.ninjs()}, ensure_ascii=False) + "\n")
        return
    raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    items = _items_of(raw)
    out = [{"id": item.id, **tags.ninjs()} for item, tags in zip(items, tagger.tag_texts(items), strict=True)]
    json.dump(out[0] if len(out) == 1 else out, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
