"""The one place that knows whether we talk to a single Redis or a Redis Cluster."""

from __future__ import annotations

import logging
from typing import Any, TypeAlias

import hiredis
from faststream.redis import RedisBroker, RedisClusterBroker
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.connection import Connection
from redis.typing import EncodableT

from shared.redis_client import RedisClient, as_client
from shared.settings import Settings

__all__ = ["Broker", "RedisClient", "discover", "make_broker", "make_redis"]

# RedisClusterBroker is a RedisBroker (same API, cluster connection).
Broker: TypeAlias = RedisBroker


class HiredisConnection(Connection):
    """redis-py's asyncio connection, with its commands packed by hiredis (C) as its sync
    client does when hiredis is installed; the asyncio one packs in Python, ~19 µs for a
    status record's command, 3 µs in hiredis (a batch of 50 packs 50 of them and its accept
    script's 250 arguments). Same bytes on the wire (tests/unit/test_redis_client.py)."""

    def pack_command(self, *args: EncodableT) -> list[bytes]:
        # As redis-py does: a command name with spaces ('CONFIG GET') is several arguments.
        if isinstance(args[0], str):
            args = (*args[0].encode().split(), *args[1:])
        elif isinstance(args[0], bytes) and b" " in args[0]:
            args = (*args[0].split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]  # type: ignore[arg-type]  # its stub types a 1-tuple
        except TypeError:  # a memoryview (hiredis takes none) or a bad type: as before
            return super().pack_command(*args)


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
            # redis:// only: a rediss:// or unix:// URL names its own class, which wins.
            connection_class=HiredisConnection,
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
