"""Where each story is in the pipeline: a status hash and a timeline per story.

Written by all three services (received, enriched, per-outlet delivery), read by
`GET /v1/stories/{id}` and the editors' queue page. Both keys share the story's
hash tag, so one pipeline updates them together on a cluster too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from shared.connections import RedisClient
from shared.keys import Keys
from shared.redis_client import RedisPipeline
from shared.scripts import LuaScript
from shared.timeline import DeliveryAttempted, Routed, TimelineEvent, parse, stored

TIMELINE_MAX = 200
STATUS_TTL_SECONDS = 90 * 24 * 3600
_RECORD = LuaScript.load(Path(__file__).with_name("status.lua"))


@dataclass(frozen=True)
class Record:
    """One status change of one story: its typed timeline entry, by the service that wrote it."""

    story_id: str
    entry: TimelineEvent
    service: str


async def record(
    redis: RedisClient, keys: Keys, story_id: str, entry: TimelineEvent, *, service: str
) -> None:
    """Set the entry's status fields and append it to the timeline, atomically for this story."""
    (error,) = await record_many(redis, keys, [Record(story_id, entry, service)])
    if error is not None:
        raise error


async def record_many(
    redis: RedisClient, keys: Keys, records: Sequence[Record]
) -> list[BaseException | None]:
    """Several stories' records in one round trip; per record, the error it met or None."""
    if not records:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        queue_records(pipe, keys, records)
        replies = await pipe.execute(raise_on_error=False)
    return record_errors(replies, len(records))


COMMANDS_PER_RECORD = 1  # one status.lua call


def queue_records(pipe: RedisPipeline, keys: Keys, records: Sequence[Record]) -> int:
    """Add the records' commands to a pipeline another write shares (its round trip); returns
    how many replies they take, for `record_errors`."""
    now = time.time()
    for one in records:
        stamped = one.entry.model_copy(update={"at": now, "service": one.service})
        fields: list[Any] = []
        for name, value in one.entry.status_fields().items():
            if value is not None:
                fields += [
                    name,
                    value if isinstance(value, str | int | float) else json.dumps(value, default=str),
                ]
        fields += [f"{one.entry.event}_at", now, "updated_at", now]
        _RECORD.queue(
            pipe,
            [keys.story(one.story_id), keys.story_timeline(one.story_id)],
            [STATUS_TTL_SECONDS, TIMELINE_MAX, json.dumps(stored(stamped), default=str), *fields],
        )
    return COMMANDS_PER_RECORD * len(records)


def record_errors(replies: Sequence[Any], records: int) -> list[BaseException | None]:
    """Per record queued by `queue_records`, the first error among its replies, or None."""
    return [
        next((r for r in replies[i : i + COMMANDS_PER_RECORD] if isinstance(r, BaseException)), None)
        for i in range(0, COMMANDS_PER_RECORD * records, COMMANDS_PER_RECORD)
    ]


OutletStateName = Literal["queued", "skipped", "retrying", "delivered", "failed", "canceled"]
_AFTER_ATTEMPT: dict[str, OutletStateName] = {
    "delivered": "delivered",
    "retrying": "retrying",
    "failed": "failed",
    "canceled": "canceled",
}


@dataclass(frozen=True)
class OutletView:
    state: OutletStateName
    at: float | None
    detail: dict[str, Any]


def outlet_states(timeline: list[dict[str, Any]]) -> dict[str, OutletView]:
    """Each outlet's latest state, read from the typed entries: routing says which outlets
    got a delivery queued or skipped (and why); each delivery attempt carries its result."""
    outlets: dict[str, OutletView] = {}
    for raw in timeline:
        entry = parse(raw)
        if isinstance(entry, Routed):
            for route in entry.routing:
                state: OutletStateName = "skipped" if route.decision == "skip" else "queued"
                outlets[route.outlet] = OutletView(state, entry.at, route.model_dump())
        elif isinstance(entry, DeliveryAttempted) and entry.result in _AFTER_ATTEMPT:
            detail = entry.model_dump(exclude={"at", "kind", "service"}, exclude_none=True)
            outlets[entry.outlet] = OutletView(_AFTER_ATTEMPT[entry.result], entry.at, detail)
    return outlets


async def read(redis: RedisClient, keys: Keys, story_id: str) -> dict[str, Any] | None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.story(story_id))
        pipe.lrange(keys.story_timeline(story_id), 0, -1)
        raw_status, raw_timeline = await pipe.execute()
    if not raw_status:
        return None
    status = {k.decode(): v.decode() for k, v in raw_status.items()}
    return {"status": status, "timeline": [json.loads(item) for item in raw_timeline]}
