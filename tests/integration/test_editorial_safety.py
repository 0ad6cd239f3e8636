"""Issue 19's two reproductions, on a real Redis with real HTTP outlets and real senders.

- An editor's cancel-then-retry on an embargoed delivery must not send it before its embargo.
- Backfilling a new outlet from the stream must send each story's current state only:
  nothing of a killed story (not even the kill notice), nothing of a withheld one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.publish.publisher import DeliveryFilter, delivery_id
from shared.connections import RedisClient
from shared.settings import Settings
from shared.streams import encode_event
from tests.helpers.receiver import Receiver
from tests.integration.test_publish_api import AUTH, api_app, config
from tests.integration.test_publish_delivery import fast, publishing, story_event, until, webhook

pytestmark = pytest.mark.integration


async def test_cancel_then_retry_of_an_embargoed_delivery_keeps_the_embargo(
    settings: Settings, redis: RedisClient
) -> None:
    with Receiver() as outlet:
        async with publishing(fast(settings), redis, [webhook("desk", outlet)]) as publisher:
            embargo = datetime.now(UTC) + timedelta(seconds=2)
            event = story_event(embargoed=embargo)
            await publisher.accept(event)
            found = await publisher.find(delivery_id("desk", event))
            assert found is not None
            assert found.status == "held"
            assert (await publisher.act(found, "cancel"))[0] == "ok"
            result, detail = await publisher.act(found, "retry")
            assert (result, detail) == ("ok", "held")
            again = await publisher.find(found.id)
            assert again is not None
            assert again.fields["hold_reason"] == "embargo"
            await until(lambda: outlet.received, timeout=10)
        assert len(outlet.received) == 1
        assert outlet.received[0].at >= embargo.timestamp()


async def test_hold_release_cancel_retry_of_an_embargoed_delivery_keep_the_embargo(
    settings: Settings, redis: RedisClient
) -> None:
    with Receiver() as outlet:
        async with publishing(fast(settings), redis, [webhook("desk", outlet)]) as publisher:
            embargo = datetime.now(UTC) + timedelta(seconds=2)
            event = story_event(embargoed=embargo)
            await publisher.accept(event)
            found = await publisher.find(delivery_id("desk", event))
            assert found is not None
            assert await publisher.act(found, "hold") == ("ok", "held")
            assert await publisher.act(found, "release") == ("ok", "held")
            assert await publisher.act(found, "cancel") == ("ok", "canceled")
            assert await publisher.act(found, "retry") == ("ok", "held")
            await until(lambda: outlet.received, timeout=10)
        assert outlet.received[0].at >= embargo.timestamp()


async def test_backfilling_a_new_outlet_sends_current_state_only(
    settings: Settings, redis: RedisClient
) -> None:
    now = datetime.now(UTC)
    plain = story_event("urn:wire:plain")
    killed = story_event("urn:wire:killed")
    kill = story_event("urn:wire:killed", version=1, received_as="kill", pubstatus="canceled")
    embargoed = story_event("urn:wire:embargo-killed", embargoed=now + timedelta(milliseconds=300))
    embargo_kill = story_event("urn:wire:embargo-killed", version=1, received_as="kill", pubstatus="canceled")
    first = story_event("urn:wire:withheld", version=1)
    withheld = story_event("urn:wire:withheld", version=2, received_as="withheld", pubstatus="withheld")
    updated = [story_event("urn:wire:updated", version=1), story_event("urn:wire:updated", version=2)]
    for event in (plain, killed, kill, embargoed, embargo_kill, first, withheld, *updated):
        await redis.xadd(settings.keys.enriched, {"__data__": await encode_event(event)})
    window = {"since": (now - timedelta(seconds=1)).isoformat()}
    with Receiver() as outlet:
        desk = webhook("new-desk", outlet)
        async with publishing(fast(settings), redis, [desk]) as publisher:
            publisher.config = publisher.config.model_copy(update={"editors": config().editors})
            app = api_app(publisher, settings, redis)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://publish") as client:
                response = await client.post("/v1/outlets/new-desk/backfill", headers=AUTH, json=window)
            assert response.status_code == 200

            async def settled() -> bool:
                rows = await publisher.deliveries(DeliveryFilter(outlet="new-desk"))
                return bool(rows) and all(r.status in ("delivered", "canceled", "failed") for r in rows)

            await until(settled)
        got = sorted(
            (r.json["data"]["uri"], r.json["data"]["version"], r.json["type"]) for r in outlet.received
        )
        assert got == [("urn:wire:plain", 1, "story.published"), ("urn:wire:updated", 2, "story.updated")]
        report = response.json()
        by_story = {s["story_id"]: s for s in report["stories"]}
        assert (by_story[plain.story_id]["result"], by_story[updated[1].story_id]["version"]) == (
            "created",
            2,
        )
        assert "killed" in by_story[killed.story_id]["reason"]
        assert "killed" in by_story[embargoed.story_id]["reason"]
        assert "withheld" in by_story[first.story_id]["reason"]
        assert (report["created"], report["skipped"]) == (2, 3)


async def test_kill_cancels_a_waiting_copy_and_an_outlet_that_never_had_it_gets_nothing(
    settings: Settings, redis: RedisClient
) -> None:
    with Receiver() as outlet:
        async with publishing(fast(settings), redis, [webhook("desk", outlet)]) as publisher:
            event = story_event(embargoed=datetime.now(UTC) + timedelta(minutes=5))
            await publisher.accept(event)
            results = await publisher.accept(story_event(version=1, received_as="kill", pubstatus="canceled"))
            assert results["desk"].startswith("skipped")
            held = await publisher.find(delivery_id("desk", event))
            assert held is not None
            assert held.status == "canceled"
            assert (await publisher.act(held, "retry"))[0] == "conflict"
        assert outlet.received == []
