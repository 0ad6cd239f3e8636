"""Stream and consumer-group names, group setup, and the write paths onto streams.

The only place stream/group names exist (they are built from `Keys`). Writes go
through Lua scripts so that "append once" is atomic: a story appended by a
handler that is later redelivered is never appended twice.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faststream.redis.parser import BinaryMessageFormatV1
from pydantic import BaseModel
from redis.exceptions import ResponseError

from shared.connections import RedisClient
from shared.events import (
    DeadLettered,
    DeliveryChanged,
    DeliveryDone,
    DeliveryFailed,
    KillRequested,
    StoryEnriched,
    StoryReceived,
)
from shared.keys import Keys
from shared.scripts import LuaScript

DATA_FIELD = b"__data__"


@dataclass(frozen=True)
class Stream:
    name: str
    group: str


@dataclass(frozen=True)
class Streams:
    """Every stream of the pipeline with the group that consumes it."""

    received: Stream  # routine stories written before lanes, or by hand (replays, tools)
    received_priority: Stream
    enriched: Stream
    kill_requested: Stream
    lanes: tuple[Stream, ...] = ()  # one per partner: its routine stories

    @classmethod
    def for_keys(cls, keys: Keys, partners: Iterable[str] = ()) -> Streams:
        return cls(
            received=Stream(keys.received, "enrich"),
            received_priority=Stream(keys.received_priority, "enrich"),
            enriched=Stream(keys.enriched, "publish"),
            kill_requested=Stream(keys.kill_requested, "ingest"),
            lanes=tuple(Stream(keys.received_lane(partner), "enrich") for partner in partners),
        )

    def for_enrich(self) -> list[Stream]:
        """What enrich reads, each stream by its own consumer: kills and flashes, then every
        partner's lane side by side (the fairness between partners), then the shared stream."""
        return [self.received_priority, *self.lanes, self.received]

    def all(self) -> list[Stream]:
        return [self.received, self.received_priority, *self.lanes, self.enriched, self.kill_requested]


def is_received_lane(keys: Keys, name: str) -> bool:
    return name.startswith(keys.received_lane(""))


@dataclass(frozen=True)
class Channel:
    """A stream as the AsyncAPI document (docs/asyncapi.json) describes it."""

    address: str
    messages: tuple[type[BaseModel], ...]
    sender: str
    receiver: str
    description: str


def channels(keys: Keys) -> list[Channel]:
    """Every stream the services write, with the events on it (the document is built from this)."""
    return [
        Channel(
            keys.received_lane("{partner}"),
            (StoryReceived,),
            "ingest",
            "enrich",
            "One partner's routine stories (its lane; one stream per configured partner).",
        ),
        Channel(
            keys.received,
            (StoryReceived,),
            "tools and replays",
            "enrich",
            "Routine stories not in a lane: entries from before lanes, hand-written entries.",
        ),
        Channel(
            keys.received_priority,
            (StoryReceived,),
            "ingest",
            "enrich",
            "Kills and flashes/bulletins (urgency 1-2): enrich drains this before routine traffic.",
        ),
        Channel(
            keys.kill_requested,
            (KillRequested,),
            "publish",
            "ingest",
            "An editor's kill, for ingest to record where versions are decided.",
        ),
        Channel(keys.enriched, (StoryEnriched,), "enrich", "publish", "Enriched stories, once per version."),
        Channel(
            keys.delivery_events,
            (DeliveryDone, DeliveryFailed),
            "publish",
            "operators",
            "Each delivery attempt's outcome.",
        ),
        Channel(
            keys.delivery_changes, (DeliveryChanged,), "publish", "the queue page", "Delivery state changes."
        ),
        Channel(
            keys.dead_letter, (DeadLettered,), "every worker", "operators", "Entries no handler could take."
        ),
    ]


async def ensure_groups(redis: RedisClient, streams: Iterable[Stream]) -> None:
    """Create each group at id 0 so entries written before it existed are read too."""
    for stream in streams:
        try:
            await redis.xgroup_create(stream.name, stream.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


async def not_ready_reason(redis: RedisClient, streams: Iterable[Stream]) -> str | None:
    """Why a service cannot serve yet — Redis not answering or not serving its slots, a
    stream or consumer group not created — or None when it can. /readyz answers with it."""
    try:
        await redis.ping()
        for stream in streams:
            try:
                groups = await redis.xinfo_groups(stream.name)
            except ResponseError as exc:
                if "no such key" not in str(exc).lower():
                    raise  # CLUSTERDOWN, LOADING, TRYAGAIN: Redis is not serving, see below
                return f"stream {stream.name} does not exist yet"
            if stream.group not in {_text(g["name"]) for g in groups}:
                return f"consumer group {stream.group!r} missing on {stream.name}"
    except Exception as exc:
        return f"redis not serving: {exc!r}"
    return None


async def groups_present(redis: RedisClient, streams: Iterable[Stream]) -> bool:
    """Redis answers and every stream exists with its consumer group."""
    return await not_ready_reason(redis, streams) is None


async def encode_event(event: BaseModel, trace_id: str | None = None) -> bytes:
    """FastStream's own envelope, so FastStream subscribers decode our Lua-written entries."""
    return await BinaryMessageFormatV1.encode(
        message=event.model_dump_json().encode(),
        reply_to=None,
        headers={"content-type": "application/json"},
        correlation_id=trace_id or uuid.uuid4().hex,
    )


def decode_entry(fields: Mapping[bytes, bytes]) -> bytes:
    """The JSON body of a stream entry written by FastStream, our scripts or a plain XADD."""
    raw = fields.get(DATA_FIELD)
    if raw is None:
        raise ValueError(f"entry has no {DATA_FIELD.decode()} field (fields: {sorted(fields)})")
    body, _headers = BinaryMessageFormatV1.parse(raw)
    return body


_APPEND_ONCE = LuaScript.load(Path(__file__).with_name("append_once.lua"))


@dataclass(frozen=True)
class Append:
    """One event to append unless its `marker` was appended before."""

    marker: str
    event: BaseModel
    trace_id: str


async def append_once(
    redis: RedisClient,
    stream: str,
    ledger: str,
    marker: str,
    event: BaseModel,
    trace_id: str,
    window_ms: int,
) -> str | None:
    """Append `event` unless `marker` was appended before. Returns the entry id, or None."""
    (answer,) = await append_once_each(redis, stream, ledger, [Append(marker, event, trace_id)], window_ms)
    if isinstance(answer, BaseException):
        raise answer
    return answer


async def append_once_each(
    redis: RedisClient, stream: str, ledger: str, appends: Sequence[Append], window_ms: int
) -> list[str | BaseException | None]:
    """`append_once` for several events in one round trip (one script call each, pipelined:
    each stays atomic on its own). Per event: the entry id, None when it was appended
    before, or the error it met."""
    if not appends:
        return []
    now_ms = int(time.time() * 1000)
    payloads = [await encode_event(one.event, one.trace_id) for one in appends]
    async with redis.pipeline(transaction=False) as pipe:
        for one, payload in zip(appends, payloads, strict=True):
            _APPEND_ONCE.queue(pipe, [stream, ledger], [one.marker, now_ms, window_ms, payload])
        replies = await pipe.execute(raise_on_error=False)
    return [
        reply if isinstance(reply, BaseException) else None if reply is None else _text(reply)
        for reply in replies
    ]


async def dead_letter(
    redis: RedisClient,
    keys: Keys,
    *,
    source: str,
    entry_id: str,
    error: str,
    deliveries: int,
    payload: bytes | None,
    story_id: str | None = None,
) -> str:
    fields: dict[Any, Any] = {
        "source": source,
        "entry_id": entry_id,
        "error": error[:4000],
        "deliveries": deliveries,
        "at": time.time(),
        "payload": payload if payload is not None else b"",
    }
    if story_id:
        fields["story_id"] = story_id
    entry: bytes | str = await redis.xadd(keys.dead_letter, fields)
    return _text(entry)


async def trim_processed(redis: RedisClient, stream: Stream, keep_ms: int) -> int:
    """Drop entries older than `keep_ms` that every group has read and acknowledged.

    Trimming by MAXLEN deletes entries no group has seen; trimming by MINID below
    the oldest pending and the oldest undelivered entry never does.
    """
    try:
        groups = await redis.xinfo_groups(stream.name)
    except ResponseError:
        return 0
    if not groups:
        return 0
    floor_ms = int(time.time() * 1000) - keep_ms
    bound = (floor_ms, 0)
    for group in groups:
        last = _parse_id(_text(group["last-delivered-id"]))
        bound = min(bound, (last[0], last[1] + 1))
        pending = await redis.xpending(stream.name, _text(group["name"]))
        if pending["pending"]:
            bound = min(bound, _parse_id(_text(pending["min"])))
    if bound <= (0, 0):
        return 0
    trimmed: int = await redis.xtrim(stream.name, minid=f"{bound[0]}-{bound[1]}", approximate=False)
    return trimmed


async def backlog(redis: RedisClient, stream: Stream) -> tuple[int, int]:
    """(entries not yet delivered to the group, entries delivered but not acknowledged)."""
    try:
        groups = await redis.xinfo_groups(stream.name)
    except ResponseError:
        return 0, 0
    for group in groups:
        if _text(group["name"]) == stream.group:
            lag = group.get("lag")
            if lag is None:  # Redis < 7 or an unknowable lag: fall back to length
                lag = await redis.xlen(stream.name)
            return int(lag), int(group["pending"])
    return int(await redis.xlen(stream.name)), 0


async def prune_consumers(redis: RedisClient, stream: Stream, idle_ms: int) -> list[str]:
    """Remove consumers of past processes: nothing pending and idle longer than `idle_ms`.

    Consumer names are per process, so every restart leaves one behind.
    """
    try:
        consumers = await redis.xinfo_consumers(stream.name, stream.group)
    except ResponseError:
        return []
    removed = []
    for consumer in consumers:
        if int(consumer["pending"]) == 0 and int(consumer["idle"]) > idle_ms:
            name = _text(consumer["name"])
            await redis.xgroup_delconsumer(stream.name, stream.group, name)
            removed.append(name)
    return removed


def _parse_id(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
