"""The one place that knows whether we talk to a single Redis or a Redis Cluster."""

from __future__ import annotations

import logging
from typing import Any, TypeAlias

from faststream.redis import RedisBroker, RedisClusterBroker
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from shared.settings import Settings

# `Redis | RedisCluster`. redis-py annotates its async commands as `Awaitable[T] | T`,
# which strict mypy cannot await; callers treat the client as untyped instead.
RedisClient: TypeAlias = Any
Broker: TypeAlias = Any  # RedisBroker or RedisClusterBroker: the same API


def make_redis(settings: Settings) -> RedisClient:
    """redis-py client for everything that is not stream consumption."""
    if settings.cluster_nodes:
        return RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in settings.cluster_nodes],
            decode_responses=False,
            socket_timeout=5,
            socket_connect_timeout=2,
        )
    return Redis.from_url(
        settings.redis_url,
        decode_responses=False,
        socket_timeout=5,
        socket_connect_timeout=2,
        health_check_interval=10,
    )


async def discover(redis: RedisClient) -> None:
    """Let a cluster client learn its nodes before anything uses it concurrently.

    redis-py's async cluster client discovers the nodes on first use, and commands
    racing into that discovery fail inside redis-py (`'NoneType' ... 'writelines'`).
    A single Redis needs nothing.
    """
    if isinstance(redis, RedisCluster):
        await redis.initialize()


def make_broker(settings: Settings, **kwargs: Any) -> Broker:
    # FastStream logs every message at INFO; our handlers log what matters with the story id.
    kwargs.setdefault("log_level", logging.DEBUG)
    if settings.cluster_nodes:
        first_host, first_port = settings.cluster_nodes[0]
        return RedisClusterBroker(f"redis://{first_host}:{first_port}", **kwargs)
    return RedisBroker(settings.redis_url, **kwargs)
