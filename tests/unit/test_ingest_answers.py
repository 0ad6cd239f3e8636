"""The log lines a batch's answers write: every story named, one line for the accepted ones."""

from __future__ import annotations

import json

from structlog.testing import capture_logs

from services.ingest.acceptance import Acceptance
from services.ingest.answers import Answer, answer_items
from services.ingest.intake import Intake, prepare
from services.ingest.schemas import NinjsSchemas
from shared.config import Partner

PARTNER = Partner.model_validate({"id": "alpha", "keys_sha256": ["0" * 64]})


async def _pairs(count: int) -> list[Answer]:
    items = [
        {"uri": f"urn:a:{n}", "version": "1", "headlines": [{"value": f"Story {n}"}]} for n in range(count)
    ]
    items[1]["urgency"] = "soon"  # dropped with a warning, the story kept
    body = "\n".join(json.dumps(item) for item in items).encode()
    intake = await prepare(body, {"content-type": "application/x-ndjson"}, PARTNER, NinjsSchemas(), 4096)
    assert isinstance(intake, Intake)
    acceptances = [Acceptance("accepted", entry_id=f"1-{n}", received_as="new") for n in range(count)]
    acceptances[2] = Acceptance("duplicate", current_version=1)
    return [
        (item, (event, acceptance))
        for item, event, acceptance in zip(intake.parsed.items, intake.events, acceptances, strict=True)
    ]


async def test_a_batch_logs_its_accepted_stories_on_one_line_and_the_rest_on_their_own() -> None:
    pairs = await _pairs(4)
    with capture_logs() as lines:
        results, records = answer_items("alpha", pairs, batch=True)
    assert [r.status for r in results] == ["accepted", "accepted", "duplicate", "accepted"]
    assert len(records) == 3
    summary = [line for line in lines if line["event"] == "stories accepted"]
    assert len(summary) == 1
    assert summary[0]["count"] == 3
    events = [outcome[0] for _item, outcome in pairs if outcome is not None]
    assert [s["story_id"] for s in summary[0]["stories"]] == [events[n].story_id for n in (0, 1, 3)]
    assert [s["trace_id"] for s in summary[0]["stories"]] == [events[n].trace_id for n in (0, 1, 3)]
    by_event = {line["event"]: line for line in lines if line["event"] != "stories accepted"}
    assert by_event["story read with warnings"]["story_id"] == events[1].story_id
    assert by_event["story not forwarded"]["story_id"] == events[2].story_id
    assert "story accepted" not in by_event


async def test_a_single_story_keeps_its_own_accepted_line() -> None:
    pairs = (await _pairs(4))[:1]
    with capture_logs() as lines:
        answer_items("alpha", pairs)
    assert [(line["event"], line["story_id"]) for line in lines] == [("story accepted", intake_ids(pairs)[0])]


def intake_ids(pairs: list[Answer]) -> list[str]:
    return [outcome[0].story_id for _item, outcome in pairs if outcome is not None]
