"""The publish queue: every delivery's durable state in Redis, one outlet per hash tag.

All keys of an outlet live under `{P:outlet:NAME}`, and every state change is one
Lua script over them (`lua/*.lua`, called through scripts.py), so the rules below hold
atomically (and on Redis Cluster). The states, transitions and editors' actions are
data in deliveries.py; whether a copy may leave at all is the gate's (gate.py).

- `d:ID`        hash: the delivery (status, attempts, errors, timestamps, payload…)
- `st:STATUS`   sorted set per status, scored by last change: the index editors list
- `due`/`urgent` sorted sets scored by when a delivery may be sent (kills and
                flashes in `urgent`, which is always drained first)
- `lease`       deliveries being sent, scored by when their worker counts as lost
- `s:SID`       hash per story: the waiting delivery (`pending`), the one being sent
                (`inflight`), the newest version delivered (`sent`), whether any version
                was ever attempted (`tried`), the kill marker (`killed`); it expires with
                the retention of finished deliveries
- `disabled`    set when the outlet answered 410

Ordering per outlet and story: only one delivery of a story is ever in flight; a
newer version replaces an older one still waiting; an older version is refused once
a newer one waits, is in flight or was delivered; after a kill nothing but the kill
notice is sent, and only to an outlet that received something or may have (an
attempt was made: a timeout or a garbled answer may still have delivered it, and a
kill notice too many is harmless where a missing one leaves a killed story live).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.publish.deliveries import (
    FINISHED,
    PAST,
    STATUSES,
    Action,
    allowed_actions,
    allowed_from,
    waiting_reason,
)
from services.publish.scripts import script
from shared.coalesce import Coalescer
from shared.connections import RedisClient
from shared.keys import Keys
from shared.redis_client import RedisPipeline


def now_ms() -> int:
    return int(time.time() * 1000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _iso(ms: str) -> str | None:
    if not ms:
        return None
    return datetime.fromtimestamp(int(float(ms)) / 1000, UTC).isoformat()


@dataclass(frozen=True)
class Delivery:
    """One outlet's copy of one story version, as stored."""

    outlet: str
    fields: dict[str, str]

    @property
    def id(self) -> str:
        return self.fields["id"]

    @property
    def status(self) -> str:
        return self.fields.get("status", "")

    @property
    def story_id(self) -> str:
        return self.fields.get("story_id", "")

    @property
    def attempts(self) -> int:
        return int(self.fields.get("attempts") or 0)

    @property
    def round_attempts(self) -> int:
        return self.attempts - int(self.fields.get("round_start") or 0)

    @property
    def updated_ms(self) -> int:
        return int(float(self.fields.get("updated_at") or 0))

    @property
    def flags(self) -> list[str]:
        flags: list[str] = json.loads(self.fields.get("flags") or "[]")
        return flags

    def public(self) -> dict[str, Any]:
        """The Delivery JSON of the editors' API and the live feed."""
        f = self.fields
        code = f.get("status_code") or ""
        return {
            "id": self.id,
            "story_id": self.story_id,
            "outlet": self.outlet,
            "partner": f.get("partner", ""),
            "headline": f.get("headline", ""),
            "version": int(f.get("version") or 0),
            "status": self.status,
            "attempts": self.attempts,
            "last_error": f.get("last_error") or None,
            "status_code": int(code) if code.isdigit() else None,
            "queued_at": _iso(f.get("queued_at", "")),
            "sent_at": _iso(f.get("sent_at", "")),
            "updated_at": _iso(f.get("updated_at", "")),
            "next_attempt_at": _iso(f.get("next_attempt_at", "")),
            "hold_reason": f.get("hold_reason") or None,
            "age_label": f.get("age_label") or None,
            "flags": self.flags,
            "event_type": f.get("event_type", ""),
            "actions": allowed_actions(f, self.flags),
            "waiting": waiting_reason(f, self.flags),
        }


def markers(raw: dict[bytes, bytes]) -> dict[str, str]:
    """A story's markers hash (`s:SID`) as read."""
    return {_text(k): _text(v) for k, v in raw.items()}


async def enqueue_many(
    together: Coalescer, calls: list[tuple[OutletQueue, dict[str, Any]]]
) -> list[tuple[str, str, Delivery | None] | BaseException]:
    """Several enqueue calls, on any outlets' queues, in one round trip and in order (each
    atomic on its own): the versions of one story reach a queue in the order given."""
    if not calls:
        return []
    enqueue = script("enqueue")

    def add(pipe: RedisPipeline) -> int:
        return sum(enqueue.queue(pipe, queue.base, **named) for queue, named in calls)

    replies = await together.run(add)
    return [
        reply if isinstance(reply, BaseException) else queue.enqueued(reply)
        for (queue, _named), reply in zip(calls, replies, strict=True)
    ]


@dataclass(frozen=True)
class Claim:
    deliveries: tuple[Delivery, ...] = ()  # claimed, most urgent first
    next_due_ms: int | None = None  # when the next of those left waiting falls due
    disabled: bool = False

    @property
    def delivery(self) -> Delivery | None:
        return self.deliveries[0] if self.deliveries else None


class OutletQueue:
    """Script calls for one outlet's queue."""

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        outlet: str,
        retention_hours: float,
        together: Coalescer | None = None,
    ) -> None:
        self.redis = redis
        self.together = together or Coalescer(redis)  # the senders' finishes share round trips
        self.outlet = outlet
        self.base = keys.outlet(outlet, "")
        self.retention_ms = int(retention_hours * 3600 * 1000)

    def key(self, part: str) -> str:
        return self.base + part

    async def enqueue(
        self,
        *,
        delivery_id: str,
        story_id: str,
        version: int,
        kind: str,
        held_until_ms: int | None,
        fields: dict[str, Any],
    ) -> tuple[str, str, Delivery | None]:
        """Create a delivery unless the ordering rules refuse it.

        Returns ('created'|'exists'|'skipped', detail, the new row when created).
        """
        named = self.enqueue_arguments(
            delivery_id=delivery_id,
            story_id=story_id,
            version=version,
            kind=kind,
            held_until_ms=held_until_ms,
            fields=fields,
        )
        return self.enqueued(await script("enqueue").call(self.redis, self.base, **named))

    def enqueue_arguments(
        self,
        *,
        delivery_id: str,
        story_id: str,
        version: int,
        kind: str,
        held_until_ms: int | None,
        fields: dict[str, Any],
    ) -> dict[str, Any]:
        """The enqueue script's named arguments (for `enqueue_many`, several queues at once)."""
        now = now_ms()
        status = "held" if held_until_ms and held_until_ms > now else "queued"
        due = held_until_ms if status == "held" and held_until_ms else now
        values = {k: str(v) for k, v in fields.items()}
        values.update(id=delivery_id, story_id=story_id, version=str(version), kind=kind)
        if status == "held":
            values.update(hold_reason="embargo")
        return {
            "id": delivery_id,
            "story_id": story_id,
            "version": version,
            "kind": kind,
            "status": status,
            "due_ms": due,
            "now": now,
            "fields_json": json.dumps(values),
            "retention_ms": self.retention_ms,
        }

    def enqueued(self, result: list[Any]) -> tuple[str, str, Delivery | None]:
        """The enqueue script's answer: ('created'|'exists'|'skipped', detail, the new row)."""
        row = self._row(result[2]) if len(result) > 2 else None
        return _text(result[0]), _text(result[1]), row

    def _row(self, flat_raw: list[Any]) -> Delivery | None:
        flat = [_text(v) for v in flat_raw]
        return Delivery(self.outlet, dict(zip(flat[::2], flat[1::2], strict=True))) if flat else None

    async def claim(self, token: str, lease_ms: int, limit: int = 1) -> Claim:
        """Up to `limit` due deliveries, claimed for sending in one call (most urgent first)."""
        result = await script("claim").call(
            self.redis,
            self.base,
            now=now_ms(),
            lease_ms=lease_ms,
            token=token,
            limit=limit,
            retention_ms=self.retention_ms,
        )
        kind = _text(result[0])
        if kind == "disabled":
            return Claim(disabled=True)
        next_due = _text(result[1])
        next_due_ms = int(float(next_due)) if next_due else None
        rows = [self._row(flat) for flat in result[2:]] if kind == "claimed" else []
        return Claim(tuple(row for row in rows if row is not None), next_due_ms)

    async def finish(
        self,
        delivery: Delivery,
        *,
        outcome: str,
        status_code: int | None = None,
        error: str = "",
        next_ms: int = 0,
        payload: bytes = b"",
        age_label: str | None = None,
        flags: list[str] | None = None,
        disabled_reason: str = "",
        refusal: str = "",
    ) -> tuple[str, Delivery | None]:
        """Record an attempt's outcome; returns the resulting status and the row as it now is."""
        named = dict(
            id=delivery.id,
            story_id=delivery.story_id,
            token=delivery.fields.get("token", ""),
            now=now_ms(),
            outcome=outcome,
            status_code="" if status_code is None else status_code,
            error=error[:2000],
            next_ms=next_ms,
            payload=payload,
            age_label=age_label or "",
            flags_json="" if flags is None else json.dumps(flags),
            disabled_reason=disabled_reason,
            refusal=refusal,
            retention_ms=self.retention_ms,
        )
        (result,) = await self.together.run(lambda pipe: script("finish").queue(pipe, self.base, **named))
        if isinstance(result, BaseException):
            raise result
        return _text(result[0]), self._row(result[1])

    async def recover(self) -> list[str]:
        """Queue again every delivery whose worker was lost mid-send (lease expired)."""
        result = await script("recover").call(
            self.redis, self.base, now=now_ms(), retention_ms=self.retention_ms
        )
        return [_text(r) for r in result]

    async def act(
        self, delivery: Delivery, action: Action, not_before: datetime | None = None
    ) -> tuple[str, str]:
        """An editor's action; `not_before` is the gate's embargo for retry and release."""
        allowed = allowed_from(action)
        result = await script("act").call(
            self.redis,
            self.base,
            id=delivery.id,
            story_id=delivery.story_id,
            action=action,
            allowed=" ".join(allowed),
            now=now_ms(),
            not_before=int(not_before.timestamp() * 1000) if not_before else 0,
            retention_ms=self.retention_ms,
        )
        outcome, detail = _text(result[0]), _text(result[1])
        if outcome == "not-allowed":
            return (
                "conflict",
                f"only a {' or '.join(allowed)} delivery can be {PAST[action]} (it is {detail})",
            )
        return outcome, detail

    async def story_markers(self, story_id: str) -> dict[str, str]:
        """What this outlet has of a story: `sent` (newest version delivered), `inflight`,
        `pending`, `killed`."""
        return markers(await self.redis.hgetall(self.key("s:" + story_id)))

    async def get(self, delivery_id: str) -> Delivery | None:
        raw = await self.redis.hgetall(self.key("d:" + delivery_id))
        if not raw:
            return None
        return Delivery(self.outlet, {_text(k): _text(v) for k, v in raw.items()})

    async def recent(self, statuses: Iterable[str], limit: int) -> list[Delivery]:
        """The most recently changed deliveries of the given statuses, newest first."""
        ids: list[str] = []
        for status in statuses:
            ids.extend(_text(i) for i in await self.redis.zrevrange(self.key("st:" + status), 0, limit - 1))
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for delivery_id in ids:
                pipe.hgetall(self.key("d:" + delivery_id))
            rows = await pipe.execute()
        found = [
            Delivery(self.outlet, {_text(k): _text(v) for k, v in row.items()})
            for row in rows
            if row and b"id" in row
        ]
        found.sort(key=lambda d: d.updated_ms, reverse=True)
        return found[:limit]

    async def counts(self) -> dict[str, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for status in STATUSES:
                pipe.zcard(self.key("st:" + status))
            sizes = await pipe.execute()
        return dict(zip(STATUSES, (int(s) for s in sizes), strict=True))

    async def forget_finished(self) -> None:
        """Drop index entries of finished deliveries past retention (their hashes expire on their own)."""
        floor = now_ms() - self.retention_ms
        for status in FINISHED:
            await self.redis.zremrangebyscore(self.key("st:" + status), "-inf", floor)

    async def disabled(self) -> str | None:
        value = await self.redis.get(self.key("disabled"))
        return None if value is None else _text(value)

    async def enable(self) -> bool:
        return bool(await self.redis.delete(self.key("disabled")))
