"""The delivery state machine, walked line by line on a real Redis through the real queue scripts.

Every transition of `deliveries.TRANSITIONS` is taken from every status it names,
reaching that status only through the queue's own operations; every editor action
from every status it is not allowed from is refused. The status index must agree
with the row after each step.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.publish.deliveries import ACTIONS, STATUSES, TRANSITIONS, Status, allowed_from
from services.publish.queue import Delivery, OutletQueue, now_ms
from shared.connections import RedisClient
from shared.settings import Settings

pytestmark = pytest.mark.integration
LATER = timedelta(minutes=10)


class Walk:
    """One story's deliveries on one outlet queue, moved only by the queue's scripts."""

    def __init__(self, queue: OutletQueue) -> None:
        self.queue = queue
        self.story = "wire-" + uuid.uuid4().hex[:12]
        self.sending: Delivery | None = None  # the row as its worker claimed it

    def did(self, version: int, kind: str = "published") -> str:
        return f"msg_{self.story}_v{version}_{kind}_{self.queue.outlet}"

    async def enqueue(self, version: int = 1, kind: str = "published", held: datetime | None = None) -> str:
        did = self.did(version, kind)
        result, detail, _ = await self.queue.enqueue(
            delivery_id=did,
            story_id=self.story,
            version=version,
            kind=kind,
            held_until_ms=int(held.timestamp() * 1000) if held else None,
            fields={"event": "{}", "headline": "h"},
        )
        assert result in ("created", "skipped"), detail
        return did

    async def row(self, did: str | None = None) -> Delivery:
        found = await self.queue.get(did or self.did(1))
        assert found is not None
        return found

    async def claim(self, lease_ms: int = 30_000) -> Delivery:
        """Claim the next due delivery, once one is due (an embargo may end a moment later)."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            claim = await self.queue.claim("token-" + uuid.uuid4().hex[:6], lease_ms)
            if claim.delivery is not None:
                return claim.delivery
        raise AssertionError("nothing became due")

    async def finish(self, outcome: str, **extra: object) -> None:
        sending = await self.row()
        assert sending.status == "sending"
        await self.queue.finish(sending, outcome=outcome, **extra)  # type: ignore[arg-type]

    async def to(self, status: Status) -> None:
        """Bring version 1 to `status` by the queue's own operations."""
        await self.enqueue()
        if status == "queued":
            return
        if status == "held":
            assert (await self.queue.act(await self.row(), "hold"))[0] == "ok"
            return
        if status == "canceled":
            assert (await self.queue.act(await self.row(), "cancel"))[0] == "ok"
            return
        await self.claim()
        if status == "retrying":
            await self.finish("retry", next_ms=now_ms() + 600_000)
        elif status == "failed":
            await self.finish("failed")
        elif status == "delivered":
            await self.finish("delivered")

    async def assert_status(self, expected: Status, did: str | None = None) -> None:
        row = await self.row(did)
        assert row.status == expected
        for status in STATUSES:
            indexed = await self.queue.redis.zscore(self.queue.key("st:" + status), row.id)
            assert (indexed is not None) == (status == expected), f"index st:{status} disagrees"


Step = Callable[[Walk], Awaitable[object]]


def later() -> datetime:
    return datetime.now(UTC) + LATER


async def _act(walk: Walk, action: str, not_before: datetime | None = None) -> None:
    result, detail = await walk.queue.act(await walk.row(), action, not_before)  # type: ignore[arg-type]
    assert result == "ok", detail


async def _claim_due(walk: Walk) -> None:
    row = await walk.row()
    if row.status == "retrying":
        await walk.queue.act(row, "retry")  # due now
    await walk.claim()


async def _lost(walk: Walk) -> None:
    await walk.queue.finish(await walk.row(), outcome="retry", next_ms=now_ms())
    await walk.claim(lease_ms=1)
    deadline = time.monotonic() + 5
    while not await walk.queue.recover():
        assert time.monotonic() < deadline, "the lease never expired"


async def _cancel_while_sending(walk: Walk) -> None:
    await walk.enqueue()
    walk.sending = await walk.claim()
    await _act(walk, "cancel")


async def _delivered_after_cancel(walk: Walk) -> None:
    assert walk.sending is not None
    await walk.queue.finish(walk.sending, outcome="delivered")


async def _embargo_over_soon(walk: Walk) -> None:
    await walk.enqueue(held=datetime.now(UTC) + timedelta(milliseconds=30))


EVENTS: dict[str, Step] = {
    "queue": lambda w: w.enqueue(),
    "queue-embargoed": lambda w: w.enqueue(held=later()),
    "supersede": lambda w: w.enqueue(version=2),
    "kill": lambda w: w.enqueue(version=1, kind="killed"),
    "withhold": lambda w: w.enqueue(version=2, kind="withheld"),
    "claim": _claim_due,
    "claim-after-embargo": lambda w: w.claim(),
    "delivered": lambda w: w.finish("delivered"),
    "retry-later": lambda w: w.finish("retry", next_ms=now_ms() + 600_000),
    "give-up": lambda w: w.finish("failed"),
    "disable": lambda w: w.finish("disable", disabled_reason="HTTP 410"),
    "refuse": lambda w: w.finish("canceled", error="story was killed", refusal="KILLED"),
    "wait": lambda w: w.finish("wait", next_ms=now_ms() + 600_000),
    "lost": _lost,
    "delivered-after-cancel": _delivered_after_cancel,
    "hold": lambda w: _act(w, "hold"),
    "release": lambda w: _act(w, "release"),
    "release-embargoed": lambda w: _act(w, "release", later()),
    "retry": lambda w: _act(w, "retry"),
    "retry-embargoed": lambda w: _act(w, "retry", later()),
    "cancel": lambda w: _act(w, "cancel"),
}
# Where reaching the source status by `Walk.to` is not enough.
SETUPS: dict[str, Step] = {
    "claim-after-embargo": _embargo_over_soon,
    "delivered-after-cancel": _cancel_while_sending,
}
CASES = [(t.event, source, t.target) for t in TRANSITIONS for source in t.source]


def test_every_transition_has_a_step() -> None:
    assert {t.event for t in TRANSITIONS} == set(EVENTS)


@pytest.fixture
def queue(settings: Settings, redis: RedisClient) -> OutletQueue:
    return OutletQueue(redis, settings.keys, "walk", settings.delivery_retention_hours)


@pytest.mark.parametrize(("event", "source", "target"), CASES, ids=[f"{e}:{s}" for e, s, _ in CASES])
async def test_transition(queue: OutletQueue, event: str, source: Status | None, target: Status) -> None:
    walk = Walk(queue)
    if source is not None:
        await (SETUPS[event](walk) if event in SETUPS else walk.to(source))
        await walk.assert_status(source)
    await EVENTS[event](walk)
    await walk.assert_status(target)


REFUSED = [(a, s) for a in ACTIONS for s in STATUSES if s not in allowed_from(a)]


@pytest.mark.parametrize(("action", "status"), REFUSED, ids=[f"{a}:{s}" for a, s in REFUSED])
async def test_an_action_not_allowed_from_a_status_is_refused(
    queue: OutletQueue, action: str, status: Status
) -> None:
    walk = Walk(queue)
    await walk.to(status)
    result, detail = await queue.act(await walk.row(), action)  # type: ignore[arg-type]
    assert result == "conflict"
    assert f"(it is {status})" in detail
    await walk.assert_status(status)


async def test_one_claim_takes_several_due_deliveries_never_two_of_one_story(queue: OutletQueue) -> None:
    """A claim for several takes the urgent first, then routine ones; a story's newer version
    waits while its older one is in flight."""
    walks = [Walk(queue) for _ in range(3)]
    for walk in walks[:2]:
        await walk.enqueue()
    flash = walks[2]
    await queue.enqueue(
        delivery_id=flash.did(1),
        story_id=flash.story,
        version=1,
        kind="published",
        held_until_ms=None,
        fields={"event": "{}", "headline": "h", "urgent": "1"},
    )
    claim = await queue.claim("token-two", 30_000, 2)
    assert claim.deliveries[0].story_id == flash.story
    assert len(claim.deliveries) == 2
    assert all(d.status == "sending" for d in claim.deliveries)
    in_flight = next(w for w in walks if w.story == claim.deliveries[1].story_id)
    left = next(w for w in walks[:2] if w is not in_flight)
    await in_flight.enqueue(2)  # newer than the one in flight: it waits for it
    claim = await queue.claim("token-three", 30_000, 3)
    assert [d.id for d in claim.deliveries] == [left.did(1)]
    assert (await in_flight.row(in_flight.did(2))).status == "queued"
