"""Stream consumption on a real Redis: backlog, crash recovery, poison, idempotency, trimming."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from pydantic import BaseModel

from shared.connections import RedisClient, make_broker, make_redis
from shared.consuming import BatchHandler, Entry, StreamConsumer
from shared.settings import Settings
from shared.streams import (
    Stream,
    append_once,
    encode_event,
    ensure_groups,
    not_ready_reason,
    prune_consumers,
    trim_processed,
)
from tests.helpers.ports import free_port
from tests.helpers.waiting import until

pytestmark = pytest.mark.integration


class Ping(BaseModel):
    story_id: str
    trace_id: str = "t"


async def _run_consumer(
    settings: Settings, redis: RedisClient, stream: Stream, handle: BatchHandler[Ping]
) -> Any:
    broker = make_broker(settings)
    StreamConsumer(
        broker=broker, redis=redis, settings=settings, stream=stream, model=Ping, handle=handle
    ).attach()
    await ensure_groups(redis, [stream])
    await broker.start()
    return broker


async def _xadd(redis: RedisClient, stream: str, story_id: str) -> None:
    await redis.xadd(stream, {"__data__": await encode_event(Ping(story_id=story_id))})


async def test_backlog_written_before_the_group_exists_is_consumed(
    settings: Settings, redis: RedisClient
) -> None:
    stream = Stream(f"{{{settings.key_prefix}:s}}:backlog", "g")
    for n in range(20):
        await _xadd(redis, stream.name, f"s{n}")
    seen: list[str] = []

    async def handle(entries: Sequence[Entry[Ping]]) -> Mapping[str, BaseException]:
        seen.extend(e.event.story_id for e in entries)
        return {}

    broker = await _run_consumer(settings, redis, stream, handle)
    try:
        await until(lambda: len(seen) == 20, 15)
        assert sorted(seen) == sorted(f"s{n}" for n in range(20))
        pending = await redis.xpending(stream.name, stream.group)
        assert pending["pending"] == 0
    finally:
        await broker.stop()


async def test_failed_entry_is_reclaimed_retried_then_dead_lettered(
    settings: Settings, redis: RedisClient
) -> None:
    stream = Stream(f"{{{settings.key_prefix}:s}}:retry", "g")
    attempts: dict[str, int] = {}

    async def handle(entries: Sequence[Entry[Ping]]) -> Mapping[str, BaseException]:
        failed: dict[str, BaseException] = {}
        for e in entries:
            attempts[e.event.story_id] = attempts.get(e.event.story_id, 0) + 1
            if e.event.story_id == "always-fails" or attempts[e.event.story_id] == 1:
                failed[e.entry_id] = RuntimeError(f"boom {e.event.story_id}")
        return failed

    broker = await _run_consumer(settings, redis, stream, handle)
    try:
        await _xadd(redis, stream.name, "fails-once")
        await _xadd(redis, stream.name, "always-fails")

        async def settled() -> bool:
            pending = await redis.xpending(stream.name, stream.group)
            return bool(pending["pending"] == 0)

        await until(settled, 20)
        assert attempts["fails-once"] == 2
        assert attempts["always-fails"] == settings.max_attempts
        dead = await redis.xrange(settings.keys.dead_letter)
        assert len(dead) == 1
        fields = dead[0][1]
        assert b"boom always-fails" in fields[b"error"]
        assert int(fields[b"deliveries"]) == settings.max_attempts + 1
    finally:
        await broker.stop()


async def test_poison_goes_straight_to_dead_letter_and_worker_keeps_running(
    settings: Settings, redis: RedisClient
) -> None:
    stream = Stream(f"{{{settings.key_prefix}:s}}:poison", "g")
    seen: list[str] = []

    async def handle(entries: Sequence[Entry[Ping]]) -> Mapping[str, BaseException]:
        seen.extend(e.event.story_id for e in entries)
        return {}

    broker = await _run_consumer(settings, redis, stream, handle)
    try:
        await redis.xadd(stream.name, {"__data__": b"\xff\xfe not json"})
        await redis.xadd(stream.name, {"__data__": b'{"unexpected": true}'})
        await redis.xadd(stream.name, {"other": b"no data field"})
        await _xadd(redis, stream.name, "good")
        await until(lambda: seen == ["good"], 15)

        async def three_dead() -> bool:
            return bool(await redis.xlen(settings.keys.dead_letter) == 3)

        await until(three_dead, 15)
        dead = await redis.xrange(settings.keys.dead_letter)
        errors = [d[1][b"error"].decode() for d in dead]
        assert all(e.startswith("poison:") for e in errors)
        assert any("story_id" in e for e in errors)  # names the missing field
        pending = await redis.xpending(stream.name, stream.group)
        assert pending["pending"] == 0
    finally:
        await broker.stop()


async def test_append_once_never_appends_a_marker_twice(settings: Settings, redis: RedisClient) -> None:
    stream, ledger = f"{{{settings.key_prefix}:o}}:out", f"{{{settings.key_prefix}:o}}:ledger"
    first = await append_once(redis, stream, ledger, "story:1", Ping(story_id="a"), "t", 60_000)
    again = await append_once(redis, stream, ledger, "story:1", Ping(story_id="a"), "t", 60_000)
    other = await append_once(redis, stream, ledger, "story:2", Ping(story_id="b"), "t", 60_000)
    assert first is not None
    assert other is not None
    assert again is None
    assert await redis.xlen(stream) == 2


async def test_trimming_keeps_every_entry_a_group_has_not_acknowledged(
    settings: Settings, redis: RedisClient
) -> None:
    stream = Stream(f"{{{settings.key_prefix}:s}}:trim", "g")
    await ensure_groups(redis, [stream])
    for n in range(10):
        await _xadd(redis, stream.name, f"s{n}")
    read = await redis.xreadgroup(stream.group, "c1", {stream.name: ">"}, count=6)
    ids = [entry_id for entry_id, _ in read[0][1]]
    await redis.xack(stream.name, stream.group, *ids[:3])  # 3 acked, 3 pending, 4 unread
    trimmed = await trim_processed(redis, stream, keep_ms=0)
    assert trimmed == 3
    assert await redis.xlen(stream.name) == 7


async def test_consumers_of_past_processes_are_pruned_only_when_idle_and_empty(
    settings: Settings, redis: RedisClient
) -> None:
    stream = Stream(f"{{{settings.key_prefix}:s}}:prune", "g")
    await ensure_groups(redis, [stream])
    await _xadd(redis, stream.name, "a")
    await redis.xreadgroup(stream.group, "holds-pending", {stream.name: ">"}, count=1)
    await redis.xgroup_createconsumer(stream.name, stream.group, "empty")

    async def both_idle_past_the_bound() -> bool:
        return all(c["idle"] > 10 for c in await redis.xinfo_consumers(stream.name, stream.group))

    await until(both_idle_past_the_bound, 5)
    assert await prune_consumers(redis, stream, idle_ms=10) == ["empty"]
    names = {c["name"] for c in await redis.xinfo_consumers(stream.name, stream.group)}
    assert names == {b"holds-pending"}


async def test_readiness_names_what_is_missing_and_a_redis_that_does_not_answer(
    settings: Settings, redis: RedisClient
) -> None:
    stream = Stream(f"{settings.key_prefix}:ready", "publish")
    reason = await not_ready_reason(redis, [stream])
    assert reason is not None
    assert "does not exist" in reason
    await redis.xadd(stream.name, {"x": "1"})
    reason = await not_ready_reason(redis, [stream])
    assert reason is not None
    assert "consumer group 'publish' missing" in reason
    await ensure_groups(redis, [stream])
    assert await not_ready_reason(redis, [stream]) is None
    unreachable = {"redis_url": f"redis://127.0.0.1:{free_port()}/0", "redis_cluster_nodes": ""}
    nobody = make_redis(settings.model_copy(update=unreachable))
    try:
        reason = await not_ready_reason(nobody, [stream])
    finally:
        await nobody.aclose()
    assert reason is not None
    assert reason.startswith("redis not serving")


async def test_an_entry_id_in_another_lane_never_touches_this_lanes_error_note(
    settings: Settings, redis: RedisClient
) -> None:
    # Two partners' lanes share a hash tag; XADD '*' in the same millisecond gives both
    # the same entry id. Each lane's error note must survive the other lane's traffic.
    lane_a, lane_b = (Stream(settings.keys.received_lane(p), "enrich") for p in ("a", "b"))
    entry_id = "1700000000000-0"  # the same id in both lanes
    fields = {b"__data__": await encode_event(Ping(story_id="x"))}

    def consumer(lane: Stream, error: str | None) -> StreamConsumer[Ping]:
        async def handle(entries: Sequence[Entry[Ping]]) -> Mapping[str, BaseException]:
            return {e.entry_id: RuntimeError(error) for e in entries} if error else {}

        return StreamConsumer(
            broker=make_broker(settings),
            redis=redis,
            settings=settings,
            stream=lane,
            model=Ping,
            handle=handle,
        )

    await consumer(lane_a, "boom in lane a")._process([(entry_id.encode(), fields)], 1)
    await consumer(lane_b, "boom in lane b")._process([(entry_id.encode(), fields)], 1)
    await consumer(lane_b, None)._process([(entry_id.encode(), fields)], 2)  # done: its note is dropped
    await consumer(lane_a, "unused")._process([(entry_id.encode(), fields)], settings.max_attempts + 1)
    dead = await redis.xrange(settings.keys.dead_letter)
    assert len(dead) == 1
    assert dead[0][1][b"source"] == lane_a.name.encode()
    assert b"boom in lane a" in dead[0][1][b"error"]
