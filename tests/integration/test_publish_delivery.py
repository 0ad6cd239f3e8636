"""Publish on a real Redis with real HTTP outlets: signatures, retries, dead letter, 410,
isolation, version ordering, kills, embargo release, withheld stories.

The publisher and one sender per outlet run in the test's event loop exactly as
the service wires them; outlets are real HTTP servers answering as scripted.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.publish.atom import AtomStore
from services.publish.publisher import Publisher, delivery_id
from services.publish.senders import OutletSender
from services.publish.transports import make_transport
from shared.config import NewsroomConfig, Outlet, OutletFilters
from shared.connections import RedisClient
from shared.events import Enrichment, StoryEnriched
from shared.settings import Settings
from shared.story import Story
from shared.webhooks import verify
from tests.helpers.receiver import Answer, Receiver

pytestmark = pytest.mark.integration

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_ZGVtby1vdXRsZXQtc2lnbmluZy1zZWNyZXQtMzJieXQ="


def fast(settings: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "retry_schedule_seconds": [0.2, 0.3],
        "retry_jitter": 0.0,
        "outlet_timeout_seconds": 2.0,
        "delivery_lease_seconds": 1.0,
        "publish_poll_ms": 50,
        **overrides,
    }
    return settings.model_copy(update=values)


def story_event(
    uri: str = "urn:wire:1",
    version: int = 1,
    received_as: str = "new",
    **fields: Any,
) -> StoryEnriched:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "partner": "wire",
        "uri": uri,
        "version": version,
        "headline": f"Headline of {uri} v{version}",
        "body_html": "<p>First paragraph.</p><p>Second paragraph.</p>",
        "language": "en",
        "firstcreated": now,
        "versioncreated": now,
        **fields,
    }
    story = Story(**values)
    return StoryEnriched(
        story_id=story.id,
        trace_id=uuid.uuid4().hex,
        received_at=now,
        enriched_at=now,
        received_as=received_as,  # type: ignore[arg-type]
        story=story,
        enrichment=Enrichment(),
    )


def webhook(name: str, receiver: Receiver, **fields: Any) -> Outlet:
    return Outlet(name=name, url=receiver.url, secret=SECRET, **fields)


@asynccontextmanager
async def publishing(
    settings: Settings, redis: RedisClient, outlets: list[Outlet]
) -> AsyncIterator[Publisher]:
    publisher = Publisher(settings, NewsroomConfig(outlets=outlets), redis)
    atom = AtomStore(redis, settings.keys, settings.atom_entries)
    senders = {
        o.name: OutletSender(
            o, publisher, make_transport(o, o.timeout_seconds or settings.outlet_timeout_seconds, atom)
        )
        for o in outlets
    }
    publisher.wake = lambda name: senders[name].wake()
    tasks = [asyncio.create_task(s.run()) for s in senders.values()]
    try:
        yield publisher
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sender in senders.values():
            await sender.stop()


async def until(check: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


async def status_of(publisher: Publisher, outlet: str, enriched: StoryEnriched) -> str | None:
    found = await publisher.queues[outlet].get(delivery_id(outlet, enriched))
    return found.status if found else None


async def test_webhook_is_signed_per_standard_webhooks_with_every_rotation_secret(
    settings: Settings, redis: RedisClient
) -> None:
    with Receiver() as outlet:
        config = webhook("wire-desk", outlet, secrets=[OLD_SECRET])
        async with publishing(fast(settings), redis, [config]) as publisher:
            event = story_event()
            await publisher.accept(event)
            await until(lambda: outlet.received)
        got = outlet.received[0]
        assert got.webhook_id == delivery_id("wire-desk", event)
        assert "." not in got.webhook_id
        signatures = got.headers["webhook-signature"].split(" ")
        assert len(signatures) == 2
        for secret in (SECRET, OLD_SECRET):
            verify(secret, got.body, got.headers)  # raises unless one signature matches
        body = got.json
        assert set(body) == {"type", "timestamp", "data"}
        assert body["type"] == "story.published"
        assert body["data"]["item"]["uri"] == "urn:wire:1"
        assert body["data"]["flags"] == []
        assert body["data"]["age_label"] is None


async def test_failing_outlet_is_retried_then_delivered_with_the_same_webhook_id(
    settings: Settings, redis: RedisClient
) -> None:
    def flaky(receiver: Receiver, _request: Any) -> Answer:
        return Answer(500) if len(receiver.attempts) < 2 else Answer(200)

    with Receiver(flaky) as outlet:
        async with publishing(fast(settings), redis, [webhook("flaky", outlet)]) as publisher:
            event = story_event()
            await publisher.accept(event)
            await until(lambda: outlet.received)
            await until(lambda: status_of(publisher, "flaky", event), timeout=2)
            delivery = await publisher.queues["flaky"].get(delivery_id("flaky", event))
            assert delivery is not None
            await until(lambda: _status_is(publisher, "flaky", event, "delivered"))
            delivery = await publisher.queues["flaky"].get(delivery_id("flaky", event))
        assert len(outlet.attempts) == 3
        assert len({a.webhook_id for a in outlet.attempts}) == 1
        gaps = [b.at - a.at for a, b in zip(outlet.attempts, outlet.attempts[1:], strict=False)]
        assert gaps[0] >= 0.18 and gaps[1] >= 0.28  # the schedule grows
        assert delivery is not None
        public = delivery.public()
        assert public["attempts"] == 3
        assert public["status_code"] == 200
        assert public["sent_at"] is not None
        assert json.loads(delivery.fields["payload"])["data"]["item"]["uri"] == "urn:wire:1"


async def _status_is(publisher: Publisher, outlet: str, event: StoryEnriched, wanted: str) -> bool:
    return await status_of(publisher, outlet, event) == wanted
