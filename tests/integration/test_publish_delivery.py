"""Publish on a real Redis with real HTTP outlets: signatures, retries, dead letter, 410,
isolation, version ordering, kills, embargo release, withheld stories.

The publisher and one sender per outlet run in the test's event loop exactly as
the service wires them; outlets are real HTTP servers answering as scripted.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.publish.atom import AtomStore
from services.publish.publisher import Publisher, delivery_id
from services.publish.queue import Claim, OutletQueue
from services.publish.senders import OutletSender
from services.publish.transports import make_transport
from shared.config import NewsroomConfig, Outlet, OutletFilters
from shared.connections import RedisClient
from shared.events import Enrichment, StoryEnriched
from shared.settings import Settings
from shared.story import Story
from shared.webhooks import verify
from tests.helpers.receiver import Answer, Receiver
from tests.helpers.waiting import until as until  # re-exported: other publish tests import it from here

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
        received_as=received_as,
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
        for sender in senders.values():
            sender.stopping = True
        for task in tasks:
            task.cancel()
        done, _ = await asyncio.wait(tasks, timeout=5)
        assert len(done) == len(tasks), "a sender loop outlived its cancellation"
        for sender in senders.values():
            await sender.stop()


async def claims_from_now(queue: OutletQueue, count: int = 1, timeout: float = 10.0) -> list[Claim]:
    """Wait until the outlet's sender has made `count` claims that began from now on; their
    results. The positive event behind "nothing was sent": the sender looked at the queue
    after the moment that matters and took nothing. A spy: the real claim runs."""
    real = queue.claim
    seen: list[Claim] = []

    async def claim(token: str, lease_ms: int, limit: int = 1) -> Claim:
        found = await real(token, lease_ms, limit)
        if len(seen) < count:  # the first `count`: a claim more may land before the wait notices
            seen.append(found)
        return found

    setattr(queue, "claim", claim)  # noqa: B010 (mypy refuses assigning to a method)
    try:
        await until(lambda: len(seen) >= count, timeout, "the sender's next claim")
    finally:
        delattr(queue, "claim")
    return seen


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
        assert gaps[0] >= 0.18  # the schedule grows
        assert gaps[1] >= 0.28
        assert delivery is not None
        public = delivery.public()
        assert public["attempts"] == 3
        assert public["status_code"] == 200
        assert public["sent_at"] is not None
        assert json.loads(delivery.fields["payload"])["data"]["item"]["uri"] == "urn:wire:1"


async def _status_is(publisher: Publisher, outlet: str, event: StoryEnriched, wanted: str) -> bool:
    return await status_of(publisher, outlet, event) == wanted


async def test_last_attempt_fails_dead_letters_then_editor_replay_delivers(
    settings: Settings, redis: RedisClient
) -> None:
    healthy = {"on": False}

    def down(_receiver: Receiver, _request: Any) -> Answer:
        return Answer(200) if healthy["on"] else Answer(500)

    with Receiver(down) as outlet:
        cfg = fast(settings, retry_schedule_seconds=[0.1, 0.1])
        async with publishing(cfg, redis, [webhook("down", outlet)]) as publisher:
            event = story_event()
            await publisher.accept(event)
            await until(lambda: _status_is(publisher, "down", event, "failed"))
            failed = await publisher.queues["down"].get(delivery_id("down", event))
            assert failed is not None
            assert failed.attempts == 3
            assert "HTTP 500" in failed.fields["last_error"]
            assert "gave up after 3 attempts" in failed.fields["last_error"]
            dead = await redis.xrange(settings.keys.dead_letter)
            assert [d[1][b"source"] for d in dead] == [b"publish:down"]
            assert dead[0][1][b"entry_id"].decode() == failed.id
            assert await publisher.counts() == {
                "by_status": {**_zero(), "failed": 1},
                "by_outlet": {"down": {**_zero(), "failed": 1}},
            }

            healthy["on"] = True
            assert await publisher.act(failed, "retry") == ("ok", "queued")
            await until(lambda: _status_is(publisher, "down", event, "delivered"))
        assert len(outlet.attempts) == 4
        assert len(outlet.received) == 1


def _zero() -> dict[str, int]:
    return dict.fromkeys(("queued", "held", "sending", "delivered", "retrying", "failed", "canceled"), 0)


async def test_410_disables_the_outlet_until_an_editor_enables_it(
    settings: Settings, redis: RedisClient
) -> None:
    gone = {"on": True}
    with Receiver(lambda _r, _q: Answer(410 if gone["on"] else 200)) as outlet:
        async with publishing(fast(settings), redis, [webhook("gone", outlet)]) as publisher:
            first, second = story_event("urn:wire:a"), story_event("urn:wire:b")
            await publisher.accept(first)
            await until(lambda: _status_is(publisher, "gone", first, "failed"))
            assert await publisher.queues["gone"].disabled()
            await publisher.accept(second)
            looked = await claims_from_now(publisher.queues["gone"])
            assert [c.delivery for c in looked] == [None]
            assert looked[0].disabled
            assert len(outlet.attempts) == 1  # nothing more is sent to a disabled outlet
            assert await status_of(publisher, "gone", second) == "queued"
            gone["on"] = False
            assert await publisher.queues["gone"].enable()
            publisher.wake("gone")
            await until(lambda: _status_is(publisher, "gone", second, "delivered"))
        failed = await publisher.queues["gone"].get(delivery_id("gone", first))
        assert failed is not None
        assert failed.attempts == 1
        assert "410" in failed.fields["last_error"]


async def test_redirects_and_timeouts_are_failures_and_retry_after_is_honoured(
    settings: Settings, redis: RedisClient
) -> None:
    script = [Answer(302, headers={"location": "http://127.0.0.1:1/elsewhere"}), Answer(200, delay=2.0)]
    script += [Answer(503, headers={"retry-after": "1"}), Answer(200)]

    def scripted(receiver: Receiver, _request: Any) -> Answer:
        return script[min(len(receiver.attempts), len(script) - 1)]

    with Receiver(scripted) as outlet:
        cfg = fast(settings, retry_schedule_seconds=[0.1, 0.1, 0.1, 0.1])
        async with publishing(cfg, redis, [webhook("picky", outlet, timeout_seconds=0.5)]) as publisher:
            event = story_event()
            await publisher.accept(event)
            await until(lambda: _status_is(publisher, "picky", event, "delivered"), timeout=15)
        times = [a.at for a in outlet.attempts]
        assert len(times) == 4
        assert times[3] - times[2] >= 0.95  # Retry-After: 1 beats the 0.1 s schedule
        delivery = await publisher.queues["picky"].get(delivery_id("picky", event))
        assert delivery is not None
        assert delivery.attempts == 4


async def test_a_hanging_outlet_does_not_delay_a_healthy_one(settings: Settings, redis: RedisClient) -> None:
    async def latencies(publisher: Publisher, healthy: Receiver, tag: str) -> list[float]:
        found = []
        for n in range(8):
            before = len(healthy.received)
            started = time.time()
            event = story_event(f"urn:wire:{tag}{n}")
            await publisher.accept(event)
            await until(lambda b=before: len(healthy.received) > b, timeout=5)  # type: ignore[misc]
            found.append(healthy.received[-1].at - started)
            # Recorded too: leaving `publishing` right after the outlet's 2xx would cancel the
            # sender before it marks the delivery delivered (it would come back after the lease).
            await until(lambda e=event: _status_is(publisher, "healthy", e, "delivered"))  # type: ignore[misc]
        return found

    with Receiver() as healthy, Receiver(lambda _r, _q: Answer(200, delay=30)) as hanging:
        cfg = fast(settings, outlet_timeout_seconds=10.0)
        async with publishing(cfg, redis, [webhook("healthy", healthy)]) as publisher:
            alone = await latencies(publisher, healthy, "alone")
        outlets = [webhook("healthy", healthy), webhook("hanging", hanging, concurrency=2)]
        async with publishing(cfg, redis, outlets) as publisher:
            beside = await latencies(publisher, healthy, "beside")
            assert len(hanging.attempts) == 2  # its two slots are stuck; its queue waits, nobody else's

            async def settled() -> bool:
                counts = (await publisher.counts())["by_outlet"]
                return bool(counts["healthy"]["delivered"] == 16)

            await until(settled, timeout=2)
            counts = (await publisher.counts())["by_outlet"]
            assert counts["hanging"]["sending"] == 2
            assert counts["hanging"]["queued"] == 6
    assert max(beside) < 0.5
    assert sorted(beside)[4] < sorted(alone)[4] + 0.1


async def test_versions_arrive_in_order_under_retries(settings: Settings, redis: RedisClient) -> None:
    failing = {"on": True}

    def slow_and_failing(_receiver: Receiver, _request: Any) -> Answer:
        return Answer(500, delay=0.3) if failing["on"] else Answer(200)

    with Receiver(slow_and_failing) as outlet:
        cfg = fast(settings, retry_schedule_seconds=[0.5, 0.5, 0.5, 0.5])
        async with publishing(cfg, redis, [webhook("order", outlet)]) as publisher:
            v1, v2, v3 = (story_event(version=v) for v in (1, 2, 3))
            await publisher.accept(v1)
            await until(lambda: len(outlet.attempts) == 1)  # v1 is in flight (its answer is slow)
            await publisher.accept(v2)  # waits behind the one in flight
            await until(lambda: _status_is(publisher, "order", v1, "canceled"))
            await until(lambda: _status_is(publisher, "order", v2, "retrying"))
            await publisher.accept(v3)  # replaces v2, which was never sent
            assert await status_of(publisher, "order", v2) == "canceled"
            failing["on"] = False
            await until(lambda: _status_is(publisher, "order", v3, "delivered"))
            older = story_event(version=2)
            assert (await publisher.accept(older))["order"].startswith("exists")
            late = story_event(version=1, headline="late copy")
            assert (
                "already delivered"
                in (await publisher.accept(story_event(uri="urn:wire:1", version=0)))["order"]
            )
            assert late.story.version == 1
        versions = [a.json["data"]["version"] for a in outlet.attempts]
        assert versions == sorted(versions)  # never an older version after a newer one
        assert [r.json["data"]["version"] for r in outlet.received] == [3]
        v1_row = await publisher.queues["order"].get(delivery_id("order", v1))
        assert v1_row is not None
        assert "SUPERSEDED" in v1_row.flags
        assert "superseded by version 2" in v1_row.fields["last_error"]


async def test_kill_goes_to_every_outlet_that_received_a_version_and_nothing_follows(
    settings: Settings, redis: RedisClient
) -> None:
    with Receiver() as english, Receiver() as french:
        outlets = [
            webhook("english", english),
            webhook("french", french, filters=OutletFilters(languages=["fr"])),
        ]
        async with publishing(fast(settings), redis, outlets) as publisher:
            v1 = story_event()
            results = await publisher.accept(v1)
            assert results["french"].startswith("skipped: language 'en' not in ['fr']")
            await until(lambda: english.received)
            kill = story_event(version=1, received_as="kill", pubstatus="canceled")
            results = await publisher.accept(kill)
            assert results == {"english": "created", "french": "skipped: outlet never received the story"}
            await until(lambda: len(english.received) == 2)
            after = await publisher.accept(story_event(version=2))
            assert after["english"] == "skipped: story was killed"
            assert [c.delivery for c in await claims_from_now(publisher.queues["english"])] == [None]
        assert [r.json["type"] for r in english.received] == ["story.published", "story.killed"]
        assert english.received[1].json["data"]["flags"] == ["KILLED"]
        assert english.received[0].webhook_id != english.received[1].webhook_id
        assert french.attempts == []
        timeline = await redis.lrange(settings.keys.story_timeline(v1.story_id), 0, -1)
        routed = [json.loads(t) for t in timeline if json.loads(t)["event"] == "routed"]
        assert routed[0]["routing"][1]["reason"] == "language 'en' not in ['fr']"


async def test_kill_overtakes_routine_traffic_and_cancels_what_waits(
    settings: Settings, redis: RedisClient
) -> None:
    accepted_all = threading.Event()

    def answer(receiver: Receiver, _request: object) -> Answer:
        # The first routine story stays in flight until every accept below is done, so what
        # is due next is decided by priority alone, however loaded the machine is.
        if len(receiver.attempts) == 1:
            accepted_all.wait(8)
        return Answer(200)

    with Receiver(answer) as outlet:
        patient = fast(settings, outlet_timeout_seconds=10.0)
        async with publishing(patient, redis, [webhook("busy", outlet, concurrency=1)]) as publisher:
            target = story_event("urn:wire:target")
            await publisher.accept(target)
            await until(lambda: outlet.received)
            for n in range(6):
                await publisher.accept(story_event(f"urn:wire:routine{n}"))
            update = story_event("urn:wire:target", version=2)
            await publisher.accept(update)  # waits behind the routine stories
            await publisher.accept(
                story_event("urn:wire:target", version=2, received_as="kill", pubstatus="canceled")
            )
            accepted_all.set()
            await until(lambda: len(outlet.received) == 8, timeout=20)
        order = [(r.json["data"]["uri"], r.json["type"]) for r in outlet.received]
        kill_at = order.index(("urn:wire:target", "story.killed"))
        assert kill_at <= 2  # behind at most the routine story already in flight
        assert ("urn:wire:target", "story.updated") not in order
        assert await status_of(publisher, "busy", update) == "canceled"


async def test_embargo_is_released_on_time_with_the_label_computed_at_release(
    settings: Settings, redis: RedisClient
) -> None:
    with Receiver() as outlet:
        async with publishing(fast(settings), redis, [webhook("embargo", outlet)]) as publisher:
            release = datetime.now(UTC) + timedelta(seconds=1.5)
            event = story_event(
                embargoed=release,
                firstcreated=release - timedelta(days=31, seconds=0.3),  # 31 days old just after release
            )
            await publisher.accept(event)
            held = await publisher.queues["embargo"].get(delivery_id("embargo", event))
            assert held is not None
            assert held.status == "held"
            assert held.fields["hold_reason"] == "embargo"
            assert held.fields["age_label"] == ""  # not live yet: no label
            assert held.flags[0].startswith("EMBARGOED until")
            await until(lambda: outlet.received, timeout=5)
        arrived = datetime.fromtimestamp(outlet.received[0].at, UTC)
        assert release <= arrived < release + timedelta(seconds=1)
        data = outlet.received[0].json["data"]
        assert data["age_label"] == "This article is more than 1 month old."
        assert data["flags"] == []


async def test_withheld_is_not_sent_and_cancels_an_older_version_waiting(
    settings: Settings, redis: RedisClient
) -> None:
    with Receiver() as outlet:
        outlets = [webhook("desk", outlet)]
        before_senders_run = Publisher(fast(settings), NewsroomConfig(outlets=outlets), redis)
        v1 = story_event()
        await before_senders_run.accept(v1)
        withheld = await before_senders_run.accept(story_event(version=2, pubstatus="withheld"))
        assert withheld == {"desk": "skipped: withheld: waiting version canceled"}
        assert await status_of(before_senders_run, "desk", v1) == "canceled"
        async with publishing(fast(settings), redis, outlets) as publisher:
            assert [c.delivery for c in await claims_from_now(publisher.queues["desk"])] == [None]
            assert outlet.attempts == []
            assert (await publisher.accept(story_event("urn:wire:other", pubstatus="withheld")))[
                "desk"
            ].startswith("skipped: withheld")
            v3 = story_event(version=3)
            await publisher.accept(v3)
            await until(lambda: outlet.received)
            await until(lambda: _status_is(publisher, "desk", v3, "delivered"))
            assert [c.delivery for c in await claims_from_now(publisher.queues["desk"])] == [None]
        assert [r.json["data"]["version"] for r in outlet.attempts] == [3]


async def test_directory_drop_writes_one_complete_file_per_version(
    settings: Settings, redis: RedisClient, tmp_path: Path
) -> None:
    drop = tmp_path / "drop"
    outlets = [Outlet(name="files", transport="directory", path=str(drop), format="html")]
    async with publishing(fast(settings), redis, outlets) as publisher:
        v1, v2 = story_event(), story_event(version=2, headline="Second take")
        await publisher.accept(v1)
        await until(lambda: _status_is(publisher, "files", v1, "delivered"))
        await publisher.accept(v2)
        await until(lambda: _status_is(publisher, "files", v2, "delivered"))
    names = sorted(p.name for p in drop.iterdir())
    assert names == [f"{v1.story_id}-v1-published.html", f"{v1.story_id}-v2-updated.html"]  # no .tmp- left
    assert "<h1>Second take</h1>" in (drop / names[1]).read_text()


async def test_atom_outlet_keeps_the_newest_version_of_each_story(
    settings: Settings, redis: RedisClient
) -> None:
    outlets = [Outlet(name="feed", transport="atom", format="html")]
    async with publishing(fast(settings), redis, outlets) as publisher:
        v1, v2 = story_event(), story_event(version=2, headline="Updated & corrected")
        await publisher.accept(v1)
        await until(lambda: _status_is(publisher, "feed", v1, "delivered"))
        await publisher.accept(v2)
        await until(lambda: _status_is(publisher, "feed", v2, "delivered"))
        entries = await AtomStore(redis, settings.keys, 10).entries("feed")
    assert [(e["version"], e["headline"]) for e in entries] == [(2, "Updated & corrected")]
