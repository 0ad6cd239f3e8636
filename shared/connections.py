"""The one place that knows whether we talk to a single Redis or a Redis Cluster."""

from __future__ import annotations

import logging
from typing import Any, TypeAlias

from faststream.redis import RedisBroker, RedisClusterBroker
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster

from shared.redis_client import RedisClient, as_client
from shared.settings import Settings

__all__ = ["Broker", "RedisClient", "discover", "make_broker", "make_redis"]

# RedisClusterBroker is a RedisBroker (same API, cluster connection).
Broker: TypeAlias = RedisBroker


def make_redis(settings: Settings) -> RedisClient:
    """redis-py client for everything that is not stream consumption."""
    if settings.cluster_nodes:
        return as_client(
            RedisCluster(
                startup_nodes=[ClusterNode(host, port) for host, port in settings.cluster_nodes],
                decode_responses=False,
                socket_timeout=5,
                socket_connect_timeout=2,
            )
        )
    return as_client(
        Redis.from_url(
            settings.redis_url,
            decode_responses=False,
            socket_timeout=5,
            socket_connect_timeout=2,
            health_check_interval=10,
        )
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
