"""Consuming a stream without losing anything.

Each stream gets two FastStream subscribers in the same group: a live one that
reads new entries in batches, and a reclaimer (XAUTOCLAIM) that picks up entries
left pending by a crashed or failing consumer once they have been idle long
enough. Entries are acknowledged one by one, only after the handler succeeded:

- undecodable or invalid entries (poison) go straight to the dead-letter stream;
- an entry whose handler raised stays pending with its error recorded, and is
  retried by the reclaimer until `max_attempts`, then dead-lettered with that error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from faststream import AckPolicy, Context
from faststream.redis import StreamSub
from faststream.redis.message import RedisBatchStreamMessage, RedisStreamMessage
from pydantic import BaseModel, ValidationError

from shared.connections import Broker, RedisClient
from shared.logging import get_logger
from shared.metrics import DEAD_LETTERS, RECLAIMED
from shared.settings import Settings
from shared.streams import Stream, dead_letter, decode_entry

M = TypeVar("M", bound=BaseModel)
log = get_logger(__name__)


@dataclass(frozen=True)
class Entry(Generic[M]):
    entry_id: str
    event: M
    deliveries: int


@dataclass(frozen=True)
class Poison:
    error: str


@dataclass(frozen=True)
class GiveUp(Generic[M]):
    event: M


def triage(
    model: type[M], fields: Mapping[bytes, bytes], deliveries: int, max_attempts: int
) -> M | Poison | GiveUp[M]:
    """Decide what to do with one stream entry before any handler runs (pure).

    `deliveries` counts this delivery too, so an entry is handled at most
    `max_attempts` times and given up on the delivery after that.
    """
    try:
        event = model.model_validate_json(decode_entry(fields))
    except (ValueError, ValidationError) as exc:
        return Poison(str(exc))
    if deliveries > max_attempts:
        return GiveUp(event)
    return event


BatchHandler = Callable[[Sequence[Entry[M]]], Awaitable[Mapping[str, BaseException]]]
"""Handles a batch; returns the entries that failed (by entry id) with their error."""


class StreamConsumer(Generic[M]):
    def __init__(
        self,
        *,
        broker: Broker,
        redis: RedisClient,
        settings: Settings,
        stream: Stream,
        model: type[M],
        handle: BatchHandler[M],
    ) -> None:
        self.broker = broker
        self.redis = redis
        self.settings = settings
        self.stream = stream
        self.model = model
        self.handle = handle
        self.failures_key = settings.keys.failures(stream.name)

    def attach(self) -> None:
        settings, stream = self.settings, self.stream

        @self.broker.subscriber(
            stream=StreamSub(
                stream.name,
                group=stream.group,
                consumer=settings.consumer_name,
                batch=True,
                max_records=settings.max_records,
                polling_interval=settings.polling_ms,
            ),
            ack_policy=AckPolicy.MANUAL,
            title=f"{stream.name}:live",
        )
        async def on_new_entries(msg: RedisBatchStreamMessage = Context("message")) -> None:
            raw = msg.raw_message
            await self._process(list(zip(raw["message_ids"], raw["data"], strict=True)), 1)

        @self.broker.subscriber(
            stream=StreamSub(
                stream.name,
                group=stream.group,
                consumer=settings.consumer_name,
                min_idle_time=settings.reclaim_idle_ms,
                polling_interval=min(settings.polling_ms, settings.reclaim_idle_ms),
            ),
            ack_policy=AckPolicy.MANUAL,
            title=f"{stream.name}:reclaim",
        )
        async def on_reclaimed_entry(msg: RedisStreamMessage = Context("message")) -> None:
            raw = msg.raw_message
            deliveries = await msg.get_delivery_count()
            RECLAIMED.labels(stream.name).inc()
            await self._process([(raw["message_ids"][0], raw["data"])], deliveries)

    async def _process(self, raw_entries: list[tuple[bytes, dict[bytes, bytes]]], deliveries: int) -> None:
        entries: list[Entry[M]] = []
        done: list[str] = []
        for raw_id, fields in raw_entries:
            entry_id = raw_id.decode()
            triaged = triage(self.model, fields, deliveries, self.settings.max_attempts)
            if isinstance(triaged, Poison):
                await self._dead_letter(entry_id, f"poison: {triaged.error}", deliveries, fields)
                done.append(entry_id)
            elif isinstance(triaged, GiveUp):
                last_error = await self.redis.hget(self.failures_key, entry_id)
                reason = last_error.decode() if last_error else "no error recorded"
                await self._dead_letter(
                    entry_id,
                    f"gave up after {deliveries - 1} attempts: {reason}",
                    deliveries,
                    fields,
                    story_id=getattr(triaged.event, "story_id", None),
                )
                done.append(entry_id)
            else:
                entries.append(Entry(entry_id, triaged, deliveries))

        failed: Mapping[str, BaseException] = {}
        if entries:
            try:
                failed = await self.handle(entries)
            except Exception as exc:  # a whole-batch failure (e.g. Redis blip): retry them all
                failed = {entry.entry_id: exc for entry in entries}
        for entry in entries:
            if entry.entry_id in failed:
                error = failed[entry.entry_id]
                log.warning(
                    "entry failed; left pending for retry",
                    stream=self.stream.name,
                    entry_id=entry.entry_id,
                    story_id=getattr(entry.event, "story_id", None),
                    trace_id=getattr(entry.event, "trace_id", None),
                    attempt=entry.deliveries,
                    error=repr(error),
                )
                await self.redis.hset(self.failures_key, entry.entry_id, repr(error)[:2000])
            else:
                done.append(entry.entry_id)
        if done:
            await self.redis.xack(self.stream.name, self.stream.group, *done)
            if deliveries > 1:
                await self.redis.hdel(self.failures_key, *done)

    async def _dead_letter(
        self,
        entry_id: str,
        error: str,
        deliveries: int,
        fields: dict[bytes, bytes],
        story_id: str | None = None,
    ) -> None:
        log.error(
            "entry dead-lettered",
            stream=self.stream.name,
            entry_id=entry_id,
            story_id=story_id,
            error=error[:500],
        )
        DEAD_LETTERS.labels(self.stream.name).inc()
        await dead_letter(
            self.redis,
            self.settings.keys,
            source=self.stream.name,
            entry_id=entry_id,
            error=error,
            deliveries=deliveries,
            payload=fields.get(b"__data__") or repr(fields).encode(),
            story_id=story_id,
        )
