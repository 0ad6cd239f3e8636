"""Editorial safety as a stateful property (issue 19), on a real Redis through the real publish code.

Hypothesis drives random sequences of story events (new version, embargo, withhold,
kill, expiry), editor actions (retry, hold, release, cancel, kill, backfill, replay),
outlet faults (5xx, a timeout after the outlet took the copy, 410) and lost workers
(a worker dies after the bytes left, before it recorded anything). Sending is
stepped by the test (claim, then the real `OutletSender.send`), so "after the kill"
means a later step. After every step, whatever the outlets received must satisfy:

- nothing of a killed story after its kill, except the kill notice;
- a kill notice only where a copy was at least attempted;
- nothing before its embargo; no withheld version, no version at or below a withhold;
- nothing of an expired version (or an older one) once it expired; nothing an
  outlet's filters refuse;
- never an older version after a newer one.

At the end of each sequence the faults stop, an editor retries and releases
everything, the queues drain, and everything allowed must have arrived: each live
story's latest version at each outlet that takes it, and the kill notice wherever a
killed story's copy arrived.

Budget: `NEWSROOM_STATEFUL_EXAMPLES` sequences of up to `NEWSROOM_STATEFUL_STEPS`
steps (small by default, for CI; `make fuzz` runs a large one). The totals are printed.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from services.publish.deliveries import ACTIONS, Action
from services.publish.formats import Rendition
from services.publish.gate import is_kill
from services.publish.publisher import DeliveryFilter, Publisher
from services.publish.retries import Attempt
from services.publish.senders import OutletSender
from shared.config import NewsroomConfig, Outlet, OutletFilters
from shared.connections import RedisClient, discover, make_redis
from shared.events import StoryEnriched
from shared.settings import Settings
from shared.streams import encode_event
from tests.helpers.redis_target import RedisTarget
from tests.integration.test_publish_delivery import SECRET, story_event

pytestmark = [pytest.mark.integration, pytest.mark.stateful]

EXAMPLES = int(os.environ.get("NEWSROOM_STATEFUL_EXAMPLES", "40"))
STEPS = int(os.environ.get("NEWSROOM_STATEFUL_STEPS", "40"))
SHORT_EMBARGO = timedelta(milliseconds=250)
LONG_EMBARGO = timedelta(hours=1)
OUTLETS = ("all", "english")
Fault = Literal["ok", "5xx", "timeout", "410", "crash"]


class WorkerLost(BaseException):
    """The worker dies mid-send: after the outlet took the bytes, before anything was recorded."""


@dataclass(frozen=True)
class Copy:
    """One request an outlet saw."""

    story_id: str
    version: int
    killed: bool  # the kill notice
    language: str | None
    embargoed: datetime | None
    at: datetime
    step: int
    arrived: bool  # the outlet took it (2xx, or it took it and the answer was lost)


@dataclass
class RecordingOutlet:
    """The outlet end of the transport: records every request, answers as the fault says."""

    machine: EditorialSafety
    fault: Fault = "ok"
    seen: list[Copy] = field(default_factory=list)

    async def send(
        self, webhook_id: str, enriched: StoryEnriched, rendition: Rendition, now: datetime
    ) -> tuple[Attempt, bytes]:
        arrived = self.fault in ("ok", "timeout", "crash")
        story = enriched.story
        self.seen.append(
            Copy(
                enriched.story_id,
                story.version,
                is_kill(enriched),
                story.language,
                story.embargoed,
                datetime.now(UTC),
                self.machine.step,
                arrived,
            )
        )
        if self.fault == "crash":
            raise WorkerLost
        if self.fault == "timeout":
            return Attempt(error="timed out after the outlet took it"), b"{}"
        return Attempt(status_code={"ok": 200, "5xx": 503, "410": 410}[self.fault]), b"{}"

    async def close(self) -> None:
        return None


@dataclass
class StoryModel:
    """What the test did to one story, step by step."""

    uri: str
    language: str
    version: int = 0
    events: list[StoryEnriched] = field(default_factory=list)
    killed_at: int | None = None  # step
    withheld: dict[int, int] = field(default_factory=dict)  # version -> step
    expired: dict[int, int] = field(default_factory=dict)  # version -> step
    latest_embargo: datetime | None = None
    latest_usable: bool = False

    @property
    def story_id(self) -> str:
        return self.events[0].story_id


class EditorialSafety(RuleBasedStateMachine):
    target: ClassVar[RedisTarget]
    loop: ClassVar[asyncio.AbstractEventLoop]
    sequences: ClassVar[int] = 0
    steps: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        type(self).sequences += 1
        self.step = 0
        self.started = datetime.now(UTC) - timedelta(seconds=1)
        base = self.target.settings(key_prefix=f"t{uuid.uuid4().hex[:10]}")
        self.settings: Settings = base.model_copy(
            update={"retry_schedule_seconds": [0.0, 0.0], "retry_jitter": 0.0, "delivery_lease_seconds": 30.0}
        )
        self.outlets = {
            "all": Outlet(name="all", url="http://outlet.invalid/all", secret=SECRET),
            "english": Outlet(
                name="english",
                url="http://outlet.invalid/en",
                secret=SECRET,
                filters=OutletFilters(languages=["en"]),
            ),
        }
        self.redis: RedisClient = self.run(self._connect())
        self.publisher = Publisher(
            self.settings, NewsroomConfig(outlets=list(self.outlets.values())), self.redis
        )
        self.ends = {name: RecordingOutlet(self) for name in OUTLETS}
        self.senders = {
            name: OutletSender(outlet, self.publisher, self.ends[name])
            for name, outlet in self.outlets.items()
        }
        self.stories: list[StoryModel] = []

    async def _connect(self) -> RedisClient:
        client = make_redis(self.settings)
        await discover(client)
        return client

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def next_step(self) -> None:
        self.step += 1
        type(self).steps += 1

    # --- story events ------------------------------------------------------------------
    async def arrive(self, model: StoryModel, event: StoryEnriched) -> None:
        """As enrich hands it over: on the enriched stream, then accepted by publish."""
        model.events.append(event)
        await self.redis.xadd(self.settings.keys.enriched, {"__data__": await encode_event(event)})
        await self.publisher.accept(event)

    def version_of(self, model: StoryModel, embargo: str, **fields: Any) -> StoryEnriched:
        model.version += 1
        until = {"none": None, "short": SHORT_EMBARGO, "long": LONG_EMBARGO}[embargo]
        embargoed = datetime.now(UTC) + until if until else None
        event = story_event(
            model.uri, version=model.version, language=model.language, embargoed=embargoed, **fields
        )
        return event

    @rule(language=st.sampled_from(["en", "fr"]), embargo=st.sampled_from(["none", "none", "short", "long"]))
    def new_story(self, language: str, embargo: str) -> None:
        self.next_step()
        model = StoryModel(uri=f"urn:wire:{uuid.uuid4().hex[:8]}", language=language)
        self.stories.append(model)
        event = self.version_of(model, embargo)
        model.latest_embargo, model.latest_usable = event.story.embargoed, True
        self.run(self.arrive(model, event))

    @rule(pick=st.integers(0, 50), embargo=st.sampled_from(["none", "none", "short", "long"]))
    def new_version(self, pick: int, embargo: str) -> None:
        model = self.pick_story(pick)
        if model is None or model.killed_at is not None:
            return
        self.next_step()
        event = self.version_of(model, embargo)
        model.latest_embargo, model.latest_usable = event.story.embargoed, True
        self.run(self.arrive(model, event))

    @rule(pick=st.integers(0, 50))
    def withhold(self, pick: int) -> None:
        model = self.pick_story(pick)
        if model is None or model.killed_at is not None:
            return
        self.next_step()
        event = self.version_of(model, "none", pubstatus="withheld")
        event = event.model_copy(update={"received_as": "withheld"})
        model.withheld[model.version] = self.step
        model.latest_embargo, model.latest_usable = None, False
        self.run(self.arrive(model, event))

    @rule(pick=st.integers(0, 50))
    def expire(self, pick: int) -> None:
        model = self.pick_story(pick)
        if model is None or model.killed_at is not None:
            return
        self.next_step()
        event = self.version_of(model, "none", expires=datetime.now(UTC) - timedelta(seconds=1))
        model.expired[model.version] = self.step
        model.latest_embargo, model.latest_usable = None, False
        self.run(self.arrive(model, event))

    @rule(pick=st.integers(0, 50), by_editor=st.booleans())
    def kill(self, pick: int, by_editor: bool) -> None:
        model = self.pick_story(pick)
        if model is None or model.killed_at is not None:
            return
        self.next_step()
        model.killed_at = self.step
        if by_editor:
            self.run(self.publisher.kill(model.story_id, "desk"))
            return
        event = story_event(
            model.uri,
            version=model.version,
            language=model.language,
            received_as="kill",
            pubstatus="canceled",
        )
        self.run(self.arrive(model, event))

    @rule(pick=st.integers(0, 50), which=st.integers(0, 20))
    def replay(self, pick: int, which: int) -> None:
        """An older event comes round again (a redelivered entry, a dead letter replayed)."""
        model = self.pick_story(pick)
        if model is None:
            return
        self.next_step()
        self.run(self.publisher.accept(model.events[which % len(model.events)]))

    # --- editors, outlets, workers ---------------------------------------------------------
    @rule(
        pick=st.integers(0, 50),
        outlet=st.sampled_from(OUTLETS),
        which=st.integers(0, 5),
        action=st.sampled_from(ACTIONS),
    )
    def editor(self, pick: int, outlet: str, which: int, action: Action) -> None:
        model = self.pick_story(pick)
        if model is None:
            return
        self.next_step()

        async def act() -> None:
            rows = [d for d in await self.publisher.story_deliveries(model.story_id) if d.outlet == outlet]
            if rows:
                await self.publisher.act(rows[which % len(rows)], action)

        self.run(act())

    @rule(outlet=st.sampled_from(OUTLETS))
    def backfill(self, outlet: str) -> None:
        self.next_step()
        until = datetime.now(UTC) + timedelta(seconds=1)
        self.run(self.publisher.backfill(self.outlets[outlet], self.started, until))

    @rule(
        outlet=st.sampled_from(OUTLETS), fault=st.sampled_from(["ok", "ok", "5xx", "timeout", "410", "crash"])
    )
    def outlet_answers(self, outlet: str, fault: Fault) -> None:
        self.next_step()
        self.ends[outlet].fault = fault

    @rule(outlet=st.sampled_from(OUTLETS))
    def enable(self, outlet: str) -> None:
        self.next_step()
        self.run(self.publisher.queues[outlet].enable())

    @rule(outlet=st.sampled_from(OUTLETS), sends=st.integers(1, 4))
    def worker(self, outlet: str, sends: int) -> None:
        """The outlet's worker takes what is due and sends it, as its loop would."""
        self.next_step()
        for _ in range(sends):
            if self.run(self.send_one(outlet)) is not None:
                return

    @rule()
    def worker_restart(self) -> None:
        """A new worker starts: it takes over what a lost one was sending (expired leases)."""
        self.next_step()
        self.run(self.recover())

    async def send_one(self, outlet: str) -> int | None:
        """Claim and send one delivery; None when one was taken, else when the next falls due (0: never)."""
        sender = self.senders[outlet]
        crash = self.ends[outlet].fault == "crash"
        claim = await sender.queue.claim("w-" + uuid.uuid4().hex[:8], 1 if crash else 30_000)
        if claim.delivery is None:
            return claim.next_due_ms or 0
        try:
            await sender.send(claim.delivery)
        except WorkerLost:
            return 0
        return None

    async def recover(self) -> None:
        deadline = time.monotonic() + 2
        for queue in self.publisher.queues.values():
            # A lost worker's lease is 1 ms: wait for it to lapse rather than guess.
            while await self.redis.zcount(queue.key("lease"), "-inf", "+inf") and time.monotonic() < deadline:
                if not await queue.recover():
                    await asyncio.sleep(0.002)

    def pick_story(self, pick: int) -> StoryModel | None:
        return self.stories[pick % len(self.stories)] if self.stories else None

    # --- what must always hold -----------------------------------------------------------
    @invariant()
    def nothing_unsafe_ever_left(self) -> None:
        by_id = {m.story_id: m for m in self.stories if m.events}
        for outlet, end in self.ends.items():
            newest: dict[str, int] = {}
            attempted: set[str] = set()
            for copy in end.seen:
                model = by_id[copy.story_id]
                where = f"{outlet}: {copy}"
                if copy.killed:
                    assert copy.story_id in attempted, f"kill notice to an outlet that never had it — {where}"
                    continue
                attempted.add(copy.story_id)
                assert model.killed_at is None or copy.step < model.killed_at, (
                    f"copy after its kill — {where}"
                )
                assert copy.embargoed is None or copy.at >= copy.embargoed, (
                    f"copy before its embargo — {where}"
                )
                assert copy.version not in model.withheld, f"withheld version left — {where}"
                assert not any(v >= copy.version and s < copy.step for v, s in model.withheld.items()), (
                    f"version at or below a withhold left after it — {where}"
                )
                assert not any(v >= copy.version and s < copy.step for v, s in model.expired.items()), (
                    f"copy of an expired version (or an older one) after the expiry — {where}"
                )
                assert outlet != "english" or copy.language == "en", f"filtered copy left — {where}"
                if copy.arrived:
                    assert copy.version >= newest.get(copy.story_id, 0), f"older after newer — {where}"
                    newest[copy.story_id] = copy.version

    def teardown(self) -> None:
        try:
            if self.stories:
                self.run(self.drain())
                self.everything_allowed_arrived()
        finally:
            self.run(self._close())

    async def drain(self) -> None:
        """Faults stop; an editor retries and releases everything; the queues run dry."""
        for end in self.ends.values():
            end.fault = "ok"
        await self.recover()
        for name, queue in self.publisher.queues.items():
            await queue.enable()
            for row in await self.publisher.deliveries(DeliveryFilter(outlet=name, limit=1000)):
                if row.status in ("failed", "canceled", "retrying"):
                    await self.publisher.act(row, "retry")
                elif row.status == "held" and row.fields.get("hold_reason") == "editor":
                    await self.publisher.act(row, "release")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            busy = False
            for name in self.publisher.queues:
                while (next_due := await self.send_one(name)) is None:
                    busy = True
                busy = busy or 0 < next_due < (time.time() + 60) * 1000
            if not busy:
                return
            await asyncio.sleep(0.02)  # a short embargo or a retry is due in a moment
        raise AssertionError("the queues did not drain")

    def everything_allowed_arrived(self) -> None:
        short = datetime.now(UTC) + timedelta(minutes=1)
        for model in self.stories:
            for outlet, end in self.ends.items():
                got = [c for c in end.seen if c.story_id == model.story_id and c.arrived]
                if model.killed_at is not None:
                    if any(not c.killed for c in got):
                        assert any(c.killed for c in got), f"{outlet} never got the kill of {model.uri}"
                    continue
                if not model.latest_usable:
                    continue
                if model.latest_embargo is not None and model.latest_embargo > short:
                    continue
                if outlet == "english" and model.language != "en":
                    continue
                assert any(c.version == model.version for c in got), (
                    f"{outlet} never got version {model.version} of {model.uri}: {got}"
                )

    async def _close(self) -> None:
        try:
            async for key in self.redis.scan_iter(match=f"*{self.settings.key_prefix}*", count=1000):
                await self.redis.delete(key)
        finally:
            await self.redis.aclose()


def test_no_path_sends_what_editorial_rules_forbid(redis_target: RedisTarget) -> None:
    loop = asyncio.new_event_loop()
    EditorialSafety.target, EditorialSafety.loop = redis_target, loop
    EditorialSafety.sequences = EditorialSafety.steps = 0
    started = time.monotonic()
    try:
        run_state_machine_as_test(
            EditorialSafety,
            settings=settings(
                max_examples=EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        loop.close()
        print(
            f"\nstateful editorial safety: {EditorialSafety.sequences} sequences, "
            f"{EditorialSafety.steps} steps, {time.monotonic() - started:.1f} s"
        )
    assert EditorialSafety.steps > 0
