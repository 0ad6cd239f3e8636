"""Replaying the dead-letter stream: put entries back on the stream they came from.

An entry lands in the dead letter with its source stream, its error, its delivery
count and the original payload. Once the cause is fixed (a bug deployed away, a
config corrected), replaying appends the payload to its source stream again and
removes it from the dead letter; the stream's group then processes it like any new
entry (append-once keeps a story that did get through from going out twice).
Failed outlet deliveries (`publish:<outlet>`) are retried from the publish queue
instead, so they are listed but not replayed here.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.connections import RedisClient
from shared.keys import Keys
from shared.streams import DATA_FIELD, Streams, is_received_lane


@dataclass(frozen=True)
class DeadLetter:
    entry_id: str
    source: str
    error: str
    deliveries: int
    story_id: str | None
    replayable: bool


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


async def list_dead_letters(redis: RedisClient, keys: Keys, count: int = 1000) -> list[DeadLetter]:
    streams = {stream.name for stream in Streams.for_keys(keys).all()}
    letters = []
    for raw_id, fields in await redis.xrange(keys.dead_letter, "-", "+", count=count):
        source = _text(fields.get(b"source"))
        letters.append(
            DeadLetter(
                entry_id=_text(raw_id),
                source=source,
                error=_text(fields.get(b"error")),
                deliveries=int(_text(fields.get(b"deliveries")) or 0),
                story_id=_text(fields.get(b"story_id")) or None,
                replayable=(source in streams or is_received_lane(keys, source))
                and bool(fields.get(b"payload")),
            )
        )
    return letters


async def replay(redis: RedisClient, keys: Keys, entry_ids: list[str] | None = None) -> list[tuple[str, str]]:
    """Replay the given dead letters (all replayable ones when None). Returns (dead id, new id)."""
    wanted = set(entry_ids) if entry_ids is not None else None
    replayed = []
    for letter in await list_dead_letters(redis, keys, count=100_000):
        if not letter.replayable or (wanted is not None and letter.entry_id not in wanted):
            continue
        found = await redis.xrange(keys.dead_letter, letter.entry_id, letter.entry_id)
        if not found:
            continue  # replayed concurrently by someone else
        payload = found[0][1][b"payload"]
        new_id = await redis.xadd(letter.source, {DATA_FIELD: payload})
        await redis.xdel(keys.dead_letter, letter.entry_id)
        replayed.append((letter.entry_id, _text(new_id)))
    return replayed
