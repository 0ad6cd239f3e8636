"""Concurrent tasks' commands share round trips, on a real Redis, in order, each failing alone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ResponseError

from shared.coalesce import Coalescer
from shared.connections import RedisClient
from shared.redis_client import RedisPipeline

pytestmark = pytest.mark.integration


class CountingRedis:
    """The real client, counting the pipelines it hands out (one each round trip)."""

    def __init__(self, redis: RedisClient) -> None:
        self.redis = redis
        self.pipelines = 0

    def pipeline(self, transaction: bool = True) -> Any:
        self.pipelines += 1
        return self.redis.pipeline(transaction=transaction)


def push_then_read(key: str, value: int) -> Any:
    def add(pipe: RedisPipeline) -> int:
        pipe.rpush(key, value)
        pipe.lrange(key, 0, -1)
        return 2

    return add


async def test_tasks_at_the_same_moment_share_a_round_trip_in_order(redis: RedisClient, prefix: str) -> None:
    counting = CountingRedis(redis)
    together = Coalescer(counting)  # type: ignore[arg-type]
    key = f"{prefix}:list"
    replies = await asyncio.gather(*(together.run(push_then_read(key, n)) for n in range(10)))
    # Each task sees its own replies, in the order the tasks added their commands.
    assert [r[0] for r in replies] == list(range(1, 11))
    assert [[int(v) for v in r[1]] for r in replies] == [list(range(n + 1)) for n in range(10)]
    # All ten asked before the first pipeline left: one round trip for the ten.
    assert counting.pipelines == 1
    # Alone, a task waits for nothing and takes one round trip.
    assert (await together.run(push_then_read(key, 10)))[0] == 11
    assert counting.pipelines == 2


async def test_an_error_stays_with_its_task(redis: RedisClient, prefix: str) -> None:
    together = Coalescer(redis)
    await redis.set(f"{prefix}:text", "x")

    def wrong_type(pipe: RedisPipeline) -> int:
        pipe.hget(f"{prefix}:text", "field")  # WRONGTYPE: a string, not a hash
        return 1

    def broken(pipe: RedisPipeline) -> int:
        pipe.rpush(f"{prefix}:half", 1)  # queued, then it fails: none of it may be sent
        raise ValueError("cannot build its commands")

    results = await asyncio.gather(
        together.run(push_then_read(f"{prefix}:a", 1)),
        together.run(wrong_type),
        together.run(broken),
        together.run(push_then_read(f"{prefix}:b", 1)),
        return_exceptions=True,
    )
    first, typed, failed, last = results
    assert isinstance(first, list)
    assert first[0] == 1
    assert isinstance(typed, list)
    assert isinstance(typed[0], ResponseError)
    assert isinstance(failed, ValueError)
    assert isinstance(last, list)
    assert last[0] == 1
    assert await redis.lrange(f"{prefix}:half", 0, -1) == []
