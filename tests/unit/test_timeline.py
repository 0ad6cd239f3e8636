"""Timeline entries are typed: each is stored with its kind and read back as itself."""

from __future__ import annotations

import pytest

from shared.status import outlet_states
from shared.timeline import (
    DeliveryAttempted,
    EditorActed,
    Enriched,
    Queued,
    Received,
    Route,
    Routed,
    TimelineEvent,
    parse,
    stored,
)

ENTRIES: list[TimelineEvent] = [
    Received(
        partner="p",
        uri="u",
        version=1,
        headline="h",
        trace_id="t",
        received_as="new",
        pubstatus="usable",
        format="ninjs2",
    ),
    Enriched(version=1),
    Routed(version=1, routing=[Route(outlet="web", decision="deliver", reason="takes everything")]),
    Queued(version=1, queued={"web": "created"}),
    DeliveryAttempted(outlet="web", result="delivered", status_code=200, attempt=1),
    EditorActed(action="kill", editor="desk"),
]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.event)
def test_every_entry_reads_back_as_itself(entry: TimelineEvent) -> None:
    raw = stored(entry.model_copy(update={"at": 1.0, "service": "x"}))
    assert raw["event"] == entry.event
    assert parse(raw) == entry.model_copy(update={"at": 1.0, "service": "x"})


def test_outlet_states_come_from_typed_entries_only() -> None:
    timeline = [stored(e.model_copy(update={"at": 2.0})) for e in ENTRIES]
    skipped = Routed(routing=[Route(outlet="print", decision="skip", reason="language")])
    untyped = {"at": 3.0, "event": "delivery:print", "result": "delivered"}  # written before kinds
    states = outlet_states([*timeline, stored(skipped), untyped])
    assert {name: view.state for name, view in states.items()} == {"web": "delivered", "print": "skipped"}
    assert states["web"].detail["status_code"] == 200
    assert parse(untyped) is None
