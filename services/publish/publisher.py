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
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.publish.deliveries import STATUSES, Action
from services.publish.formats import Rendition, event_type, render
from services.publish.gate import Gate, OutletHas, StoryState, decide, is_kill, is_withheld, outlet_has
from services.publish.queue import Delivery, OutletQueue
from services.publish.routing import route
from shared import status
from shared.age import editor_flags, story_age_label
from shared.config import NewsroomConfig, Outlet
from shared.connections import RedisClient
from shared.events import DeliveryDone, DeliveryFailed, KillRequested, StoryEnriched
from shared.logging import get_logger
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

    def __post_init__(self) -> None:
        for outlet in self.config.outlets:
            self.queues[outlet.name] = OutletQueue(
                self.redis, self.settings.keys, outlet.name, self.settings.delivery_retention_hours
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
        now = datetime.now(UTC)
        story = enriched.story
        state = await self.remember_version(enriched)
        chosen = outlets if outlets is not None else self.config.outlets
        decisions = [(outlet, route(outlet, enriched, now)) for outlet in chosen]
        routing = [Route(outlet=o.name, decision=d.decision, reason=d.reason) for o, d in decisions]
        await status.record(
            self.redis,
            self.keys,
            enriched.story_id,
            Routed(version=story.version, routing=routing),
            service="publish",
        )
        results: dict[str, str] = {}
        # A withhold reaches every queue: it cancels an older version waiting there.
        waiting = [o for o, d in decisions if d.enqueue or is_withheld(enriched)]
        results.update({o.name: "skipped: " + d.reason for o, d in decisions if o not in waiting})
        # Each outlet's queue is its own hash tag: queue them all at once.
        answers = await asyncio.gather(*(self.queue_copy(o, enriched, state, now) for o in waiting))
        queued = {outlet.name: answer for outlet, answer in zip(waiting, answers, strict=True)}
        results.update(queued)
        log.info(
            "story routed", version=story.version, routing=[r.model_dump() for r in routing], queued=queued
        )
        if queued:
            entry = Queued(version=story.version, queued=queued)
            await status.record(self.redis, self.keys, enriched.story_id, entry, service="publish")
        return results

    async def queue_copy(
        self, outlet: Outlet, enriched: StoryEnriched, state: StoryState | None, now: datetime
    ) -> str:
        """Queue one copy for one outlet as the gate allows: 'created', or why not."""
        kind = "withheld" if is_withheld(enriched) else event_type(enriched).removeprefix("story.")
        held_until: datetime | None = None
        if kind not in ("killed", "withheld"):
            # Kills and withholds always reach the queue: they cancel what waits there. What
            # the outlet has is the queue's to judge here, atomically (its script refuses a
            # version older than one waiting, in flight or delivered); the sender's gate
            # judges it again with the outlet's markers before anything leaves.
            gate = decide(enriched, state, outlet, OutletHas(), now)
            if gate.verdict == "never" and gate.refusal != "SUPERSEDED":
                known = await self.queues[outlet.name].get(delivery_id(outlet.name, enriched))
                return f"exists: {known.status}" if known else "skipped: " + gate.reason
            held_until = gate.until
        result, detail = await self._enqueue(outlet, enriched, kind, now, held_until)
        return result if result == "created" else f"{result}: {detail}"

    async def remember_version(self, enriched: StoryEnriched) -> StoryState | None:
        """Add this version to the story's versions; returns the story's state with it."""
        key = self.keys.story_versions(enriched.story_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, f"{enriched.story.version}:{enriched.received_as}", enriched.model_dump_json())
            pipe.hvals(key)
            _, raw = await pipe.execute()
        return StoryState.fold(StoryEnriched.model_validate_json(v) for v in raw)

    # --- the gate -----------------------------------------------------------------------
    async def story_state(self, story_id: str) -> StoryState | None:
        raw = await self.redis.hvals(self.keys.story_versions(story_id))
        return StoryState.fold(StoryEnriched.model_validate_json(v) for v in raw)

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

    async def _enqueue(
        self, outlet: Outlet, enriched: StoryEnriched, kind: str, now: datetime, held_until: datetime | None
    ) -> tuple[str, str]:
        story, queue = enriched.story, self.queues[outlet.name]
        age_label, flags = self.label_and_flags(enriched, outlet, now)
        did = delivery_id(outlet.name, enriched)
        urgent = kind == "killed" or (story.urgency is not None and story.urgency <= 2)
        result, detail, row = await queue.enqueue(
            delivery_id=did,
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
                "event": enriched.model_dump_json(),
            },
        )
        if result == "created":
            await self.redis.hset(self.keys.story_deliveries(enriched.story_id), did, outlet.name)
            if row is not None:
                await self.announce_delivery(row)
            self.wake(outlet.name)
        return result, detail

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

    async def record_outcome(self, delivery: Delivery, final: bool) -> None:
        """Done/failed events for operators (the `{P:events}:deliveries` stream)."""
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
        payload = await encode_event(event, trace_id or None)
        await self.redis.xadd(self.keys.delivery_events, {"__data__": payload}, maxlen=CHANGES_KEPT)


async def sleep_until_woken(event: asyncio.Event, seconds: float) -> None:
    # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
    # arrives as the event fires, and the sender loop would then outlive shutdown.
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
    event.clear()
