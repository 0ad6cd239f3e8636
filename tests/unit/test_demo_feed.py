"""The demo feed `make run` sends: fresh stories on every run, the rest of each story untouched."""

from __future__ import annotations

import json
from pathlib import Path

from services.cli import demo_stories

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "stories").glob("*.json"))


def test_each_run_sends_the_demo_stories_under_uris_of_its_own() -> None:
    first = demo_stories(EXAMPLES, "20261128T170000")
    second = demo_stories(EXAMPLES, "20261128T180000")
    assert [name for name, _, _ in first] == [path.name for path in EXAMPLES]
    first_uris = {json.loads(body)["uri"] for _, body, _ in first}
    second_uris = {json.loads(body)["uri"] for _, body, _ in second}
    assert len(first_uris) == len(EXAMPLES)
    assert not first_uris & second_uris
    for path, (_, body, content_type) in zip(EXAMPLES, first, strict=True):
        original, sent = json.loads(path.read_bytes()), json.loads(body)
        assert sent["uri"] == f"{original['uri']}:run-20261128T170000"
        assert {k: v for k, v in sent.items() if k != "uri"} == {
            k: v for k, v in original.items() if k != "uri"
        }
        assert content_type == "application/json"
