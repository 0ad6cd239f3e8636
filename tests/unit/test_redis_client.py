"""The Redis protocols name commands both redis-py clients really have, with the same parameters.

mypy checks `RedisCommands` against redis-py's own annotations where `make_redis` hands a
client to `as_client`; the commands `RedisClient` and `RedisPipeline` add (where redis-py's
annotations cannot satisfy an `Awaitable` protocol) are checked here instead: each exists on
the single and the cluster client (or pipeline), and every parameter the protocol names is
a parameter of the implementation at the same position, or a keyword it accepts.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from redis.asyncio import Redis, RedisCluster
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline
from redis.asyncio.connection import Connection
from redis.exceptions import DataError

from shared.connections import HiredisConnection, make_redis
from shared.redis_client import PipelineCommands, RedisClient, RedisCommands, RedisPipeline
from shared.settings import Settings


def members(protocol: type) -> list[str]:
    own = {name for klass in protocol.__mro__ if klass is not object for name in vars(klass)}
    return sorted(
        name
        for name in own
        if callable(getattr(protocol, name, None))
        and (not name.startswith("_") or name in ("__aenter__", "__aexit__"))
        and name not in ("_is_protocol", "_is_runtime_protocol")
    )


CASES = [
    (protocol, implementation, name)
    for protocol, implementations in (
        (RedisClient, (Redis, RedisCluster)),
        (RedisPipeline, (Pipeline, ClusterPipeline)),
    )
    for implementation in implementations
    for name in members(protocol)
]


def mismatches(wanted_fn: Any, have_fn: Any) -> list[str]:
    """Parameters the protocol names that the implementation does not take there."""
    wanted = inspect.signature(wanted_fn).parameters
    have = inspect.signature(have_fn).parameters
    positional = [p.name for p in have.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes_varargs = any(p.kind == p.VAR_POSITIONAL for p in have.values())
    takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in have.values())
    wrong = []
    for index, param in enumerate(wanted.values()):
        if param.kind == param.POSITIONAL_OR_KEYWORD:
            ok = index < len(positional) and positional[index] == param.name
        elif param.kind == param.KEYWORD_ONLY:
            ok = param.name in have or takes_kwargs
        else:
            ok = param.kind != param.VAR_POSITIONAL or takes_varargs
        if not ok:
            wrong.append(param.name)
    return wrong


@pytest.mark.parametrize(
    ("protocol", "implementation", "name"), CASES, ids=lambda v: getattr(v, "__name__", v)
)
def test_every_command_exists_with_the_parameters_named(
    protocol: type, implementation: type, name: str
) -> None:
    assert hasattr(implementation, name), f"{implementation.__name__} has no {name}"
    assert mismatches(getattr(protocol, name), getattr(implementation, name)) == []


def test_the_protocols_list_every_command_the_clients_are_checked_for() -> None:
    # the split is only about how each command is checked, not what a caller can use
    assert set(members(RedisCommands)) <= set(members(RedisClient))
    assert set(members(PipelineCommands)) <= set(members(RedisPipeline))
    assert {"xadd", "xreadgroup", "hget", "pipeline", "evalsha"} <= set(members(RedisClient))


def test_a_misnamed_or_misplaced_parameter_is_caught() -> None:
    class Wrong:
        def xlen(self, key: str) -> Any: ...
        def xrange(self, name: str, max: str = "+") -> Any: ...
        def hdel(self, name: str, *keys: str) -> Any: ...

    assert mismatches(Wrong.xlen, Redis.xlen) == ["key"]
    assert mismatches(Wrong.xrange, Redis.xrange) == ["max"]  # min comes second
    assert mismatches(Wrong.hdel, Redis.hdel) == []
    assert mismatches(Redis.hdel, Wrong.xlen) == ["name", "keys"]


@pytest.mark.parametrize(
    "args",
    [
        ("SET", "k", "v"),
        ("CONFIG GET", "maxmemory"),
        (b"CLIENT SETNAME", b"ingest"),
        ("EVALSHA", "a" * 40, 2, "{p:in}:x", b"\xff\x00", 1.5, 1733159000.123456, -3, 10**30, "é" * 9000),
        ("XADD", "s", "*", "__data__", b"x" * 70_000),
        ("SET", "k", memoryview(b"v")),
    ],
)
def test_hiredis_packing_puts_the_same_bytes_on_the_wire_as_redis_py(args: tuple[Any, ...]) -> None:
    assert b"".join(HiredisConnection().pack_command(*args)) == b"".join(Connection().pack_command(*args))


def test_hiredis_packing_refuses_what_redis_py_refuses() -> None:
    with pytest.raises(DataError):
        HiredisConnection().pack_command("SET", "k", None)  # type: ignore[arg-type]
    with pytest.raises(DataError):
        Connection().pack_command("SET", "k", None)  # type: ignore[arg-type]


def test_the_single_redis_client_uses_hiredis_packing() -> None:
    client = make_redis(Settings(redis_url="redis://127.0.0.1:6379/0", redis_cluster_nodes=""))
    assert isinstance(client, Redis)
    assert client.connection_pool.connection_class is HiredisConnection
