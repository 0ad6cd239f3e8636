"""Publish's use cases over the outlet queues: accept an enriched story, act as an editor asks.

Routing and formatting are pure (routing.py, formats.py); the queue's rules live
in its scripts (queue.py). This module strings them together, records every
decision in the story's timeline, and announces every delivery state change on
the live feed the queue page listens to.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.publish.deliveries import STATUSES, Action
from services.publish.formats import Rendition, event_type, render
from services.publish.gate import Gate, OutletHas, StoryState, decide, is_kill, is_withheld, outlet_has
from services.publish.queue import Delivery, OutletQueue, enqueue_many, markers
from services.publish.routing import Decision, route
from shared import status
from shared.age import editor_flags, story_age_label
from shared.coalesce import Coalescer
from shared.config import NewsroomConfig, Outlet
from shared.connections import RedisClient
from shared.events import DeliveryDone, DeliveryFailed, KillRequested, StoryEnriched
from shared.logging import get_logger
from shared.redis_client import RedisPipeline
from shared.settings import Settings
from shared.streams import decode_entry, encode_event
from shared.timeline import EditorActed, Queued, Route, Routed

log = get_logger(__name__)
CHANGES_KEPT = 10_000


def delivery_id(outlet: str, enriched: StoryEnriched) -> str:
    """Webhook id: the same on every retry of one version, different between versions."""
    kind = event_type(enriched).removeprefix("story.")
    return f"msg_{enriched.story_id}_v{enriched.story.version}_{kind}_{outlet}"


@dataclass
class DeliveryFilter:
    outlet: str | None = None
    status: str | None = None
    story: str | None = None
    partner: str | None = None
    flag: str | None = None
    q: str | None = None
    limit: int = 200

    def matches(self, d: Delivery) -> bool:
        f = d.fields
        if self.story and d.story_id != self.story:
            return False
        if self.partner and f.get("partner") != self.partner:
            return False
        if self.flag and not any(x.upper().startswith(self.flag.upper()) for x in d.flags):
            return False
        return not (self.q and self.q.casefold() not in f.get("headline", "").casefold())


@dataclass
class Publisher:
    settings: Settings
    config: NewsroomConfig
    redis: RedisClient
    queues: dict[str, OutletQueue] = field(default_factory=dict)
    wake: Callable[[str], None] = lambda _outlet: None
    together: Coalescer = field(init=False)  # every sender's per-delivery writes and reads

    def __post_init__(self) -> None:
        self.together = Coalescer(self.redis)
        for outlet in self.config.outlets:
            self.queues[outlet.name] = OutletQueue(
                self.redis,
                self.settings.keys,
                outlet.name,
                self.settings.delivery_retention_hours,
                self.together,
            )

    @property
    def keys(self) -> Any:
        return self.settings.keys

    # --- formatting at delivery time ---------------------------------------------
    def render(self, enriched: StoryEnriched, outlet: Outlet, now: datetime) -> Rendition:
        """The outlet's copy now: the age label and flags are computed at this moment."""
        sentence, flags = self.label_and_flags(enriched, outlet, now)
        return render(enriched, outlet, sentence, flags)

    def label_and_flags(
        self, enriched: StoryEnriched, outlet: Outlet, now: datetime
    ) -> tuple[str | None, list[str]]:
        story = enriched.story
        label = story_age_label(story, now, exempt_genres=outlet.exempt_genres or self.config.exempt_genres)
        flags = editor_flags(
            story,
            now,
            received_at=enriched.received_at,
            stale_after=timedelta(hours=self.settings.stale_after_hours),
        )
        return (label.sentence(outlet.wording.age_sentence) if label else None), flags

    # --- accepting stories -----------------------------------------------------------
    async def accept(self, enriched: StoryEnriched, outlets: list[Outlet] | None = None) -> dict[str, str]:
        """Route a story version to the outlets and queue it; returns each outlet's result."""
        (result,) = await self.accept_many([enriched], outlets)
        if isinstance(result, BaseException):
            raise result
        return result

    async def accept_many(
        self, batch: Sequence[StoryEnriched], outlets: list[Outlet] | None = None
    ) -> list[dict[str, str] | BaseException]:
        """`accept` for a batch, in three round trips whatever its size: (1) every version into
        its story's versions, read back, with its routing in the timeline; (2) every copy into
        its outlet's queue; (3) the created deliveries indexed and announced, and the queue
        results in the timelines. Pipelines keep their order, so the versions of one story are
        remembered and queued in batch order, as one at a time would. Per story: each outlet's
        result, or the error that stopped it (the caller retries that story alone)."""
        now = datetime.now(UTC)
        chosen = outlets if outlets is not None else self.config.outlets
        plans = [_Accepting(enriched, [(o, route(o, enriched, now)) for o in chosen]) for enriched in batch]
        states = await self._remember_versions(plans)
        copies: list[tuple[_Accepting, _Copy]] = []
        for plan, state in zip(plans, states, strict=True):
            if plan.error is not None:
                continue
            enriched = plan.enriched
            # A withhold reaches every queue: it cancels an older version waiting there.
            for outlet, decision in plan.decisions:
                if decision.enqueue or is_withheld(enriched):
                    try:
                        copy = await self._plan_copy(outlet, enriched, state, now, plan.json)
                        copies.append((plan, copy))
                    except Exception as exc:
                        plan.error = exc
                else:
                    plan.results[outlet.name] = "skipped: " + decision.reason
        await self._queue_copies([c for p, c in copies if p.error is None])
        for plan, copy in copies:
            answer = copy.answer
            if plan.error is not None or answer is None:
                continue
            if isinstance(answer, BaseException):
                plan.error = answer
            else:
                plan.queued[copy.outlet.name] = answer
        # Every delivery created is indexed and announced, even when its story failed on
        # another outlet: the retry finds it `exists` and would not do it again.
        created = [c for _p, c in copies if c.row is not None]
        await self._index_and_record(created, [p for p in plans if p.error is None])
        for plan in plans:
            if plan.error is not None:
                continue
            story = plan.enriched.story
            plan.results.update(plan.queued)
            log.info(
                "story routed",
                story_id=plan.enriched.story_id,
                trace_id=plan.enriched.trace_id,
                version=story.version,
                routing=[r.model_dump() for r in plan.routing],
                queued=plan.queued,
            )
        for name in {c.outlet.name for c in created}:
            self.wake(name)
        return [plan.error if plan.error is not None else plan.results for plan in plans]

    async def _remember_versions(self, plans: list[_Accepting]) -> list[StoryState | None]:
        """Round trip (1): each version into its story's versions and the story's state with it
        read back, and each story's routing recorded."""
        records = [plan.routed() for plan in plans]

        def add(pipe: RedisPipeline) -> int:
            for plan in plans:
                enriched = plan.enriched
                key = self.keys.story_versions(enriched.story_id)
                pipe.hset(key, f"{enriched.story.version}:{enriched.received_as}", plan.json)
                pipe.hvals(key)
            return 2 * len(plans) + status.queue_records(pipe, self.keys, records)

        replies = await self.together.run(add)
        errors = status.record_errors(replies[2 * len(plans) :], len(plans))
        states: list[StoryState | None] = []
        for n, (plan, error) in enumerate(zip(plans, errors, strict=True)):
            written, raw = replies[2 * n], replies[2 * n + 1]
            plan.error = next((r for r in (written, raw, error) if isinstance(r, BaseException)), None)
            if plan.error is not None:
                states.append(None)
                continue
            try:
                states.append(StoryState.fold(_versions(raw, plan.enriched, plan.json)))
            except Exception as exc:
                plan.error = exc
                states.append(None)
        return states

    async def queue_copy(
        self, outlet: Outlet, enriched: StoryEnriched, state: StoryState | None, now: datetime
    ) -> str:
        """Queue one copy for one outlet as the gate allows: 'created', or why not."""
        copy = await self._plan_copy(outlet, enriched, state, now)
        await self._queue_copies([copy])
        if isinstance(copy.answer, BaseException):
            raise copy.answer
        if copy.row is not None:
            await self._index_and_record([copy], [])
            self.wake(outlet.name)
        assert copy.answer is not None
        return copy.answer

    async def _plan_copy(
        self,
        outlet: Outlet,
        enriched: StoryEnriched,
        state: StoryState | None,
        now: datetime,
        dumped: str | None = None,
    ) -> _Copy:
        """One outlet's copy as the gate allows it: its enqueue call, or the answer without one."""
        kind = "withheld" if is_withheld(enriched) else event_type(enriched).removeprefix("story.")
        held_until: datetime | None = None
        copy = _Copy(outlet, enriched, delivery_id(outlet.name, enriched))
        if kind not in ("killed", "withheld"):
            # Kills and withholds always reach the queue: they cancel what waits there. What
            # the outlet has is the queue's to judge here, atomically (its script refuses a
            # version older than one waiting, in flight or delivered); the sender's gate
            # judges it again with the outlet's markers before anything leaves.
            gate = decide(enriched, state, outlet, OutletHas(), now)
            if gate.verdict == "never" and gate.refusal != "SUPERSEDED":
                known = await self.queues[outlet.name].get(copy.did)
                copy.answer = f"exists: {known.status}" if known else "skipped: " + gate.reason
                return copy
            held_until = gate.until
        story = enriched.story
        age_label, flags = self.label_and_flags(enriched, outlet, now)
        urgent = kind == "killed" or (story.urgency is not None and story.urgency <= 2)
        copy.call = self.queues[outlet.name].enqueue_arguments(
            delivery_id=copy.did,
            story_id=enriched.story_id,
            version=story.version,
            kind=kind,
            held_until_ms=int(held_until.timestamp() * 1000) if held_until else None,
            fields={
                "outlet": outlet.name,
                "partner": story.partner,
                "headline": story.headline,
                "event_type": event_type(enriched),
                "trace_id": enriched.trace_id,
                "urgent": "1" if urgent else "0",
                "age_label": age_label or "",
                "flags": json.dumps(flags),
                "event": dumped if dumped is not None else enriched.model_dump_json(),
            },
        )
        return copy

    async def _queue_copies(self, copies: list[_Copy]) -> None:
        """Round trip (2): every planned copy into its queue, in order."""
        calls = [c for c in copies if c.call is not None]
        answers = await enqueue_many(
            self.together, [(self.queues[c.outlet.name], c.call or {}) for c in calls]
        )
        for copy, answer in zip(calls, answers, strict=True):
            if isinstance(answer, BaseException):
                copy.answer = answer
                continue
            result, detail, row = answer
            copy.answer = result if result == "created" else f"{result}: {detail}"
            copy.row = row if result == "created" else None

    async def _index_and_record(self, created: list[_Copy], plans: list[_Accepting]) -> None:
        """Round trip (3): each created delivery under its story and on the live feed, and each
        story's queue results in its timeline. A failure fails its story (retried: the queue
        answers `exists` then, and nothing is queued twice)."""
        if not created and not plans:
            return
        records = [plan.queued_record() for plan in plans if plan.queued]
        announcements = [self.announcement(copy.row) if copy.row else "" for copy in created]

        def add(pipe: RedisPipeline) -> int:
            for copy, announcement in zip(created, announcements, strict=True):
                pipe.hset(self.keys.story_deliveries(copy.enriched.story_id), copy.did, copy.outlet.name)
                if copy.row is not None:
                    self.queue_announcement(pipe, copy.row, announcement)
            return 2 * len(created) + status.queue_records(pipe, self.keys, records)

        replies = await self.together.run(add)
        failed: dict[str, BaseException] = {}
        at = 0
        for copy in created:
            for reply in replies[at : at + 2]:
                if isinstance(reply, BaseException):
                    failed.setdefault(copy.enriched.story_id, reply)
            at += 2
        for record, error in zip(records, status.record_errors(replies[at:], len(records)), strict=True):
            if error is not None:
                failed.setdefault(record.story_id, error)
        for plan in plans:
            plan.error = plan.error or failed.get(plan.enriched.story_id)
        if failed and not plans:
            raise next(iter(failed.values()))

    # --- the gate -----------------------------------------------------------------------
    async def story_state(self, story_id: str) -> StoryState | None:
        raw = await self.redis.hvals(self.keys.story_versions(story_id))
        return StoryState.fold(StoryEnriched.model_validate_json(v) for v in raw)

    async def announce_and_gate(
        self, delivery: Delivery, copy: StoryEnriched, outlet: Outlet, now: datetime
    ) -> Gate:
        """A claimed delivery on the live feed ("sending") and the gate's answer for it, in one
        round trip (shared with other senders' at the same moment): the announcement, the
        story's versions and the outlet's markers of it."""
        announcement = self.announcement(delivery)
        versions_key = self.keys.story_versions(copy.story_id)
        markers_key = self.queues[outlet.name].key("s:" + copy.story_id)

        def add(pipe: RedisPipeline) -> int:
            self.queue_announcement(pipe, delivery, announcement)
            pipe.hvals(versions_key)
            pipe.hgetall(markers_key)
            return 3

        replies = await self.together.run(add)
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply
        _announced, versions, has = replies
        state = StoryState.fold(_versions(versions, copy, delivery.fields.get("event", "")))
        return decide(copy, state, outlet, outlet_has(markers(has), delivery.id), now)

    async def gate(
        self,
        copy: StoryEnriched,
        outlet: Outlet,
        *,
        delivery_id: str | None = None,
        state: StoryState | None = None,
        now: datetime | None = None,
    ) -> Gate:
        """The gate's answer for this copy and outlet, from the story and the outlet as they are now."""
        markers_read = self.queues[outlet.name].story_markers(copy.story_id)
        if state is None:
            state, markers = await asyncio.gather(self.story_state(copy.story_id), markers_read)
        else:
            markers = await markers_read
        return decide(copy, state, outlet, outlet_has(markers, delivery_id), now or datetime.now(UTC))

    async def backfill(self, outlet: Outlet, since: datetime, until: datetime) -> dict[str, Any]:
        """Queue for one outlet each story of a stretch of the enriched stream, as it stands now.

        Only the story's current state goes: its latest usable version, nothing of a
        killed story, nothing withheld; embargoed stories wait for their time. The
        report says per story what was queued and what was skipped, and why.
        """
        now = datetime.now(UTC)
        scanned, seen = 0, dict[str, list[StoryEnriched]]()
        async for fields in self._enriched_between(since, until):
            scanned += 1
            try:
                enriched = StoryEnriched.model_validate_json(decode_entry(fields))
            except ValueError:
                continue
            seen.setdefault(enriched.story_id, []).append(enriched)
        counts = {"created": 0, "exists": 0, "skipped": 0}
        stories: list[dict[str, Any]] = []
        for story_id, in_window in seen.items():
            raw = await self.redis.hvals(self.keys.story_versions(story_id))
            versions = in_window + [StoryEnriched.model_validate_json(v) for v in raw]
            state = StoryState.fold(versions)
            copies = [v for v in versions if not is_kill(v) and not is_withheld(v)]
            newest = max(copies, key=lambda v: v.story.version) if copies else None
            if state is not None and state.killed:
                answer = "skipped: story was killed"
            elif newest is None or (state is not None and state.withheld):
                answer = "skipped: story withheld"
            else:
                answer = await self.queue_copy(outlet, newest, state, now)
            result = answer.split(":")[0]
            counts[result if result in counts else "skipped"] += 1
            stories.append(
                {
                    "story_id": story_id,
                    "version": newest.story.version if newest else in_window[-1].story.version,
                    "result": result,
                    "reason": answer.partition(": ")[2] or None,
                }
            )
        log.info("backfilled", outlet=outlet.name, scanned=scanned, **counts)
        return {"scanned": scanned, **counts, "stories": stories}

    async def _enriched_between(self, since: datetime, until: datetime) -> AsyncIterator[dict[bytes, bytes]]:
        start, end = int(since.timestamp() * 1000), int(until.timestamp() * 1000)
        cursor = f"{start}-0"
        while True:
            entries = await self.redis.xrange(
                self.keys.enriched, min=cursor, max=f"{end}-{2**64 - 1}", count=200
            )
            for _entry_id, fields in entries:
                yield fields
            if len(entries) < 200:
                return
            ms, _, seq = entries[-1][0].decode().partition("-")
            cursor = f"{ms}-{int(seq) + 1}"

    # --- editors ------------------------------------------------------------------------
    async def find(self, did: str) -> Delivery | None:
        for name, queue in self.queues.items():
            if did.endswith("_" + name):
                found = await queue.get(did)
                if found:
                    return found
        return None

    async def act(self, delivery: Delivery, action: Action) -> tuple[str, str]:
        not_before: datetime | None = None
        outlet = self.config.outlet(delivery.outlet)
        if action in ("retry", "release") and outlet is not None:
            # Whatever an editor clicks, the copy leaves only when the gate lets it.
            copy = StoryEnriched.model_validate_json(delivery.fields["event"])
            gate = await self.gate(copy, outlet, delivery_id=delivery.id)
            if gate.verdict == "never":
                return "conflict", gate.reason
            not_before = gate.until
        result, detail = await self.queues[delivery.outlet].act(delivery, action, not_before)
        if result == "ok":
            await self.announce(delivery.outlet, delivery.id)
            self.wake(delivery.outlet)
            await status.record(
                self.redis,
                self.keys,
                delivery.story_id,
                EditorActed(action=action, outlet=delivery.outlet, delivery_id=delivery.id, result=detail),
                service="publish",
            )
        return result, detail

    async def latest_version(self, story_id: str) -> StoryEnriched | None:
        raw = await self.redis.hvals(self.keys.story_versions(story_id))
        if not raw:
            return None
        versions = [StoryEnriched.model_validate_json(v) for v in raw]
        return max(versions, key=lambda e: (e.story.version, is_kill(e)))

    async def kill(self, story_id: str, editor: str | None = None) -> dict[str, str] | None:
        """Kill a story everywhere: a kill notice to every outlet that received any version."""
        latest = await self.latest_version(story_id)
        if latest is None:
            return None
        killed = latest.model_copy(
            update={
                "received_as": "kill",
                "story": latest.story.model_copy(update={"pubstatus": "canceled"}),
            }
        )
        results = await self.accept(killed)
        await self._kill_upstream(killed, editor)
        return results

    async def _kill_upstream(self, killed: StoryEnriched, editor: str | None) -> None:
        """Ask ingest to record the kill where a partner's kill would be (`KillRequested`):
        in the version registry, so no later version of the item resurrects it, and on the
        priority stream, so enrich drops it from the related index. When that kill reaches
        publish again, its deliveries already exist and nothing is sent twice."""
        command = KillRequested(
            story_id=killed.story_id, trace_id=killed.trace_id, story=killed.story, editor=editor
        )
        payload = await encode_event(command, killed.trace_id)
        await self.redis.xadd(self.keys.kill_requested, {"__data__": payload})

    async def deliveries(self, flt: DeliveryFilter) -> list[Delivery]:
        names = [flt.outlet] if flt.outlet else list(self.queues)
        statuses = [flt.status] if flt.status else list(STATUSES)
        scan = flt.limit if not (flt.story or flt.partner or flt.flag or flt.q) else max(flt.limit, 1000)
        found: list[Delivery] = []
        for name in names:
            if name in self.queues:
                found.extend(d for d in await self.queues[name].recent(statuses, scan) if flt.matches(d))
        found.sort(key=lambda d: d.updated_ms, reverse=True)
        return found[: flt.limit]

    async def story_deliveries(self, story_id: str) -> list[Delivery]:
        raw = await self.redis.hgetall(self.keys.story_deliveries(story_id))
        found = []
        for did, outlet in raw.items():
            queue = self.queues.get(outlet.decode())
            delivery = await queue.get(did.decode()) if queue else None
            if delivery:
                found.append(delivery)
        found.sort(key=lambda d: int(float(d.fields.get("created_at") or 0)))
        return found

    async def counts(self) -> dict[str, Any]:
        by_outlet = {name: await queue.counts() for name, queue in self.queues.items()}
        by_status = {s: sum(c[s] for c in by_outlet.values()) for s in STATUSES}
        return {"by_status": by_status, "by_outlet": by_outlet}

    # --- the live feed -----------------------------------------------------------------
    async def announce(self, outlet: str, did: str) -> None:
        delivery = await self.queues[outlet].get(did)
        if delivery is not None:
            await self.announce_delivery(delivery)

    async def announce_delivery(self, delivery: Delivery) -> None:
        await self.redis.xadd(
            self.keys.delivery_changes,
            {"data": json.dumps(delivery.public())},
            maxlen=CHANGES_KEPT,
            approximate=True,
        )

    def announcement(self, delivery: Delivery) -> str:
        """The live feed's entry for the delivery as it is."""
        return json.dumps(delivery.public())

    def queue_announcement(self, pipe: RedisPipeline, delivery: Delivery, announcement: str = "") -> None:
        """`announce_delivery` as one command of a pipeline another write shares."""
        pipe.xadd(
            self.keys.delivery_changes,
            {"data": announcement or self.announcement(delivery)},
            maxlen=CHANGES_KEPT,
            approximate=True,
        )

    async def record_outcome(self, delivery: Delivery, final: bool) -> None:
        """Done/failed events for operators (the `{P:events}:deliveries` stream)."""
        payload = await self.outcome(delivery, final)
        async with self.redis.pipeline(transaction=False) as pipe:
            self.queue_outcome(pipe, payload)
            (reply,) = await pipe.execute(raise_on_error=False)
        if isinstance(reply, BaseException):
            raise reply

    def queue_outcome(self, pipe: RedisPipeline, payload: bytes) -> None:
        """`record_outcome` as one command of a pipeline another write shares."""
        pipe.xadd(self.keys.delivery_events, {"__data__": payload}, maxlen=CHANGES_KEPT)

    async def outcome(self, delivery: Delivery, final: bool) -> bytes:
        """The done/failed event of a delivery as it is, encoded for its stream."""
        code = delivery.fields.get("status_code", "")
        trace_id = delivery.fields.get("trace_id", "")
        common: dict[str, Any] = {
            "delivery_id": delivery.id,
            "story_id": delivery.story_id,
            "trace_id": trace_id,
            "outlet": delivery.outlet,
            "version": int(delivery.fields.get("version") or 0),
            "attempts": delivery.attempts,
        }
        event: DeliveryDone | DeliveryFailed
        if delivery.status == "delivered":
            event = DeliveryDone(status_code=int(code) if code.isdigit() else 200, **common)
        else:
            event = DeliveryFailed(
                error=delivery.fields.get("last_error", ""),
                status_code=int(code) if code.isdigit() else None,
                final=final,
                **common,
            )
        return await encode_event(event, trace_id or None)


def _versions(raw: Iterable[bytes], known: StoryEnriched, known_json: str) -> Iterator[StoryEnriched]:
    """A story's stored versions; the one in hand (stored as `known_json`) is not parsed again."""
    encoded = known_json.encode()
    for value in raw:
        yield known if value == encoded else StoryEnriched.model_validate_json(value)


@dataclass
class _Accepting:
    """One story version on its way through `accept_many`."""

    enriched: StoryEnriched
    decisions: list[tuple[Outlet, Decision]]
    results: dict[str, str] = field(default_factory=dict)
    queued: dict[str, str] = field(default_factory=dict)
    error: BaseException | None = None
    json: str = ""  # the version as stored: in its story's versions and in each copy's row

    def __post_init__(self) -> None:
        self.json = self.enriched.model_dump_json()

    @property
    def routing(self) -> list[Route]:
        return [Route(outlet=o.name, decision=d.decision, reason=d.reason) for o, d in self.decisions]

    def routed(self) -> status.Record:
        entry = Routed(version=self.enriched.story.version, routing=self.routing)
        return status.Record(self.enriched.story_id, entry, "publish")

    def queued_record(self) -> status.Record:
        entry = Queued(version=self.enriched.story.version, queued=self.queued)
        return status.Record(self.enriched.story_id, entry, "publish")


@dataclass
class _Copy:
    """One outlet's copy of one version: its enqueue call, then the queue's answer."""

    outlet: Outlet
    enriched: StoryEnriched
    did: str
    call: dict[str, Any] | None = None  # None: decided without the queue (`answer` is set)
    answer: str | BaseException | None = None
    row: Delivery | None = None  # the delivery as created


async def sleep_until_woken(event: asyncio.Event, seconds: float) -> None:
    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
    # arrives as the event fires, and the sender loop would then outlive shutdown.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    event.clear()
