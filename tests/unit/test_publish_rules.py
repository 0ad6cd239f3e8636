"""Routing decisions with their reasons, and the retry rules (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from services.publish import retries
from services.publish.publisher import delivery_id
from services.publish.retries import Attempt, parse_retry_after, retry_delay
from services.publish.routing import route
from shared.config import Outlet, OutletFilters
from shared.events import Enrichment, StoryEnriched
from shared.settings import Settings
from shared.story import EntityTag, Story, Subject
from shared.webhooks import signature_headers

_SETTINGS = Settings()
judge = partial(
    retries.judge, jitter=_SETTINGS.retry_jitter, retry_after_max=_SETTINGS.retry_after_max_seconds
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SCHEDULE = [5.0, 300.0, 1800.0]


def event(received_as: str = "new", tags: Enrichment | None = None, **fields: Any) -> StoryEnriched:
    story = Story(**{"partner": "ap", "uri": "urn:ap:1", "language": "en-GB", "urgency": 3, **fields})
    return StoryEnriched(
        story_id=story.id,
        trace_id="t",
        received_at=NOW,
        enriched_at=NOW,
        received_as=received_as,
        story=story,
        enrichment=tags or Enrichment(),
    )


def outlet(**filters: Any) -> Outlet:
    return Outlet(name="o", filters=OutletFilters(**filters))


def test_an_outlet_without_filters_takes_every_story() -> None:
    decision = route(outlet(), event(), NOW)
    assert (decision.decision, decision.reason) == ("deliver", "outlet takes every story")


def test_each_filter_refuses_with_a_reason() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"partners": ["reuters"]}, "partner 'ap' not in ['reuters']"),
        ({"languages": ["fr"]}, "language 'en-GB' not in ['fr']"),
        ({"max_urgency": 2}, "urgency 3 is not 2 or higher"),
        ({"places": ["geo:1"]}, "no places among ['geo:1']"),
        ({"people": ["wd:Q1"]}, "no people among ['wd:Q1']"),
        ({"organisations": ["un"]}, "no organisations among ['un']"),
        ({"events": ["kb:event/olympic-games"]}, "no events among ['kb:event/olympic-games']"),
        ({"subjects": ["medtop:04000000"]}, "no subject among ['medtop:04000000']"),
    ]
    for filters, reason in cases:
        decision = route(outlet(**filters), event(), NOW)
        assert (decision.decision, decision.reason) == ("skip", reason)


def test_filters_match_by_id_and_primary_language() -> None:
    tags = Enrichment(
        places=[EntityTag(name="Baku", uri="geo:587084", kind="place")],
        organisations=[EntityTag(name="UN", literal="un", kind="organisation")],
        events=[EntityTag(name="Olympic Games", literal="kb:event/olympic-games", kind="event")],
    )
    story = event(tags=tags, subjects=[Subject(code="medtop:16000000")])
    matching = outlet(
        partners=["ap"],
        languages=["en"],
        max_urgency=3,
        places=["geo:587084"],
        organisations=["un"],
        events=["kb:event/olympic-games"],
        subjects=["medtop:16000000"],
        pubstatus=["usable"],
    )
    decision = route(matching, story, NOW)
    assert decision.decision == "deliver"
    assert decision.reason.startswith("matches filters partners, languages, max_urgency")


def test_withheld_and_expired_go_nowhere_kills_go_to_the_queue_and_embargo_holds() -> None:
    assert route(outlet(), event(pubstatus="withheld"), NOW).decision == "skip"
    expired = route(outlet(), event(expires=NOW - timedelta(minutes=1)), NOW)
    assert (expired.decision, expired.reason) == ("skip", "expired at 2026-11-28T11:59:00+00:00")
    kill = route(outlet(languages=["fr"]), event("kill", pubstatus="canceled"), NOW)
    assert kill.decision == "kill"  # filters do not apply to kills
    held = route(outlet(), event(embargoed=NOW + timedelta(hours=1)), NOW)
    assert held.decision == "hold"
    assert "embargoed until 2026-11-28T13:00:00+00:00" in held.reason


def test_success_and_the_growing_schedule_with_jitter() -> None:
    assert judge(Attempt(204), 1, SCHEDULE).outcome == "delivered"
    low = judge(Attempt(500), 1, SCHEDULE, jitter=0.2, rand=lambda: 0.0)
    high = judge(Attempt(500), 2, SCHEDULE, jitter=0.2, rand=lambda: 1.0)
    assert (low.outcome, low.delay, low.error) == ("retry", 4.0, "HTTP 500")
    assert (high.outcome, high.delay) == ("retry", 360.0)
    assert retry_delay(3, SCHEDULE, jitter=0.0, rand=lambda: 0.5) == 1800.0


def test_after_the_last_scheduled_retry_the_delivery_fails() -> None:
    judgement = judge(Attempt(error="timeout: ReadTimeout"), 4, SCHEDULE)
    assert judgement.outcome == "failed"
    assert judgement.error == "timeout: ReadTimeout (gave up after 4 attempts)"


def test_redirects_are_failures_and_410_disables() -> None:
    assert judge(Attempt(302), 1, SCHEDULE, jitter=0).error == "HTTP 302: redirects are not followed"
    assert judge(Attempt(302), 1, SCHEDULE).outcome == "retry"
    assert judge(Attempt(410), 1, SCHEDULE).outcome == "disable"


def test_retry_after_is_honoured_on_throttling_answers_only_and_capped() -> None:
    assert judge(Attempt(503, retry_after=120), 1, SCHEDULE, jitter=0).delay == 120
    assert judge(Attempt(429, retry_after=1), 1, SCHEDULE, jitter=0).delay == 5  # never sooner than planned
    assert judge(Attempt(500, retry_after=120), 1, SCHEDULE, jitter=0).delay == 5
    assert judge(Attempt(503, retry_after=10**9), 1, SCHEDULE, jitter=0, retry_after_max=600).delay == 600


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert parse_retry_after("30", NOW) == 30
    assert parse_retry_after("Sat, 28 Nov 2026 12:01:00 GMT", NOW) == 60
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_retry_after_parsing_is_total() -> None:
    assert parse_retry_after("Sat, 28 Nov 2026 12:01:00", NOW) == 60  # no zone: GMT, as RFC 9110 says
    for garbage in ("²", "٣٠", "-1", "1.5", "Mon, 99 Foo 9999 99:99:99", "\x00"):
        assert parse_retry_after(garbage, NOW) is None
    assert judge(Attempt(503, retry_after=parse_retry_after("9" * 400, NOW)), 1, SCHEDULE).delay == 86400


def test_publish_signs_exactly_like_the_standard_webhooks_test_vector() -> None:
    sent_at = datetime.fromtimestamp(1614265330, UTC)
    headers = signature_headers(
        ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        sent_at,
        b'{"test": 2432232314}',
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def test_webhook_ids_are_stable_per_version_and_differ_between_versions() -> None:
    first, again = event(), event()
    update, kill = event(version=2), event("kill", version=2, pubstatus="canceled")
    ids = [delivery_id("web", e) for e in (first, again, update, kill)]
    assert ids[0] == ids[1]
    assert len(set(ids)) == 3
    assert ids[2].endswith("_v2_updated_web")
    assert ids[3].endswith("_v2_killed_web")
    assert not any("." in i for i in ids)
