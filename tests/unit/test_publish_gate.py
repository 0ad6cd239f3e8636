"""The gate (pure): what may leave for one outlet, from the story's current state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.publish.deliveries import TRANSITIONS, allowed_actions, allowed_from, waiting_reason
from services.publish.gate import OutletHas, StoryState, decide, outlet_has
from shared.config import Outlet, OutletFilters
from shared.events import Enrichment, StoryEnriched
from shared.story import Story

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
OUTLET = Outlet(name="web", url="http://outlet.invalid/hook", secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")


def copy(version: int = 1, received_as: str = "new", **fields: Any) -> StoryEnriched:
    story = Story(partner="wire", uri="urn:wire:1", version=version, headline="h", language="en", **fields)
    return StoryEnriched(
        story_id=story.id,
        trace_id="t",
        received_at=NOW,
        enriched_at=NOW,
        received_as=received_as,
        story=story,
        enrichment=Enrichment(),
    )


def state(*versions: StoryEnriched) -> StoryState:
    folded = StoryState.fold(versions)
    assert folded is not None
    return folded


KILL = copy(1, "kill", pubstatus="canceled")


def test_a_killed_storys_copy_never_leaves_and_the_notice_only_where_it_was() -> None:
    assert decide(copy(1), state(copy(1), KILL), OUTLET, OutletHas(), NOW).refusal == "KILLED"
    assert decide(KILL, state(copy(1), KILL), OUTLET, OutletHas(), NOW).refusal == "NOTHING-TO-KILL"
    assert decide(KILL, state(copy(1), KILL), OUTLET, OutletHas(delivered_version=1), NOW).sends
    assert decide(KILL, state(copy(1), KILL), OUTLET, OutletHas(tried=True), NOW).sends


def test_nothing_leaves_before_the_embargo_of_the_story_as_it_stands() -> None:
    later = NOW + timedelta(hours=2)
    gate = decide(copy(1, embargoed=later), None, OUTLET, OutletHas(), NOW)
    assert (gate.verdict, gate.until) == ("wait", later)
    assert decide(copy(1, embargoed=later), None, OUTLET, OutletHas(), later).sends


def test_withheld_superseded_expired_and_filtered_copies_never_leave() -> None:
    withheld = copy(2, "withheld", pubstatus="withheld")
    assert decide(copy(1), state(copy(1), withheld), OUTLET, OutletHas(), NOW).refusal == "WITHHELD"
    assert decide(withheld, state(copy(1), withheld), OUTLET, OutletHas(), NOW).refusal == "WITHHELD"
    assert decide(copy(1), state(copy(1), copy(2)), OUTLET, OutletHas(), NOW).refusal == "SUPERSEDED"
    assert (
        decide(copy(2), state(copy(2)), OUTLET, OutletHas(delivered_version=2), NOW).refusal == "SUPERSEDED"
    )
    expired = copy(1, expires=NOW - timedelta(seconds=1))
    assert decide(expired, None, OUTLET, OutletHas(), NOW).refusal == "EXPIRED"
    french = OUTLET.model_copy(update={"filters": OutletFilters(languages=["fr"])})
    assert decide(copy(1), None, french, OutletHas(), NOW).refusal == "FILTERED"
    assert decide(copy(2), state(copy(1), copy(2)), OUTLET, OutletHas(delivered_version=1), NOW).sends


def test_the_copy_being_decided_is_not_in_flight_to_itself() -> None:
    markers = {"inflight": "msg_1", "sent": "1", "tried": "1"}
    assert outlet_has(markers, "msg_1") == OutletHas(delivered_version=1, in_flight=False, tried=True)
    assert outlet_has(markers, "msg_2").in_flight


def test_editors_are_offered_what_the_state_machine_allows_and_never_a_refused_retry() -> None:
    assert allowed_from("cancel") == ("queued", "held", "retrying", "failed", "sending")
    assert allowed_actions({"status": "sending"}, []) == ["cancel"]
    assert allowed_actions({"status": "canceled"}, []) == ["retry"]
    assert allowed_actions({"status": "canceled"}, ["KILLED"]) == []
    assert allowed_actions({"status": "held", "hold_reason": "editor"}, []) == ["release", "cancel"]
    assert {t.target for t in TRANSITIONS} | {None} >= {s for t in TRANSITIONS for s in t.source}


def test_the_waiting_reason_is_written_for_editors() -> None:
    at = str(int(datetime(2026, 12, 1, 14, 0, tzinfo=UTC).timestamp() * 1000))
    held = {"status": "held", "hold_reason": "embargo", "next_attempt_at": at}
    assert waiting_reason(held, []) == "embargoed until 14:00 UTC"
    killed = {"status": "canceled", "last_error": "story was killed"}
    assert waiting_reason(killed, ["KILLED"]) == "story was killed"
    assert waiting_reason({"status": "delivered"}, []) is None
