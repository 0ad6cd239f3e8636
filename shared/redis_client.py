"""The Redis commands the project uses, typed as our clients answer them.

redis-py annotates every command `Awaitable[T] | T` (one annotation for its sync and
async clients), often with `T = Any`, which strict mypy can neither await nor check.
`RedisClient` lists exactly the commands we call, each returning an `Awaitable` of what
Redis answers a client made by `shared.connections.make_redis` (`decode_responses=False`:
keys, fields and values come back as bytes), so every call site is checked. A command
not listed here is a mypy error until it is added with its real reply type.

`redis.asyncio.Redis` and `RedisCluster` must satisfy it. Where redis-py's annotation
allows a structural check, mypy does it: `RedisCommands` holds those commands and
`as_client` takes one. The rest (a concrete `Awaitable[T] | T`, which no `Awaitable`
protocol accepts, or `str` where a bytes client answers and takes bytes) are in
`RedisClient` only; `as_client` is the one cast, and tests/unit/test_redis_client.py
checks that they exist on both clients with the parameters named here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from typing import Any, Protocol, Self, TypedDict, cast

from redis.typing import AnyKeyT, EncodableT, FieldT, KeyT, PatternT, StreamIdT, ZScoreBoundT

# One stream entry as Redis returns it: (entry id, fields). `shared.consuming.Entry` is
# the decoded form the handlers see.
RawEntry = tuple[bytes, dict[bytes, bytes]]
# XREAD / XREADGROUP: per stream, [stream name, its entries] (redis-py returns a
# two-item list; typed as a pair, which is how every caller unpacks it).
StreamReply = list[tuple[bytes, list[RawEntry]]]


class PendingConsumer(TypedDict):
    name: bytes
    pending: int


class PendingSummary(TypedDict):
    """XPENDING without a range."""

    pending: int
    min: bytes | None
    max: bytes | None
    consumers: list[PendingConsumer]


class PendingEntry(TypedDict):
    """One row of XPENDING with a range."""

    message_id: bytes
    consumer: bytes
    time_since_delivered: int
    times_delivered: int


# XINFO GROUPS: `entries-read` and `lag` are None when Redis cannot know them.
GroupInfo = TypedDict(
    "GroupInfo",
    {
        "name": bytes,
        "consumers": int,
        "pending": int,
        "last-delivered-id": bytes,
        "entries-read": int | None,
        "lag": int | None,
    },
)


class ConsumerInfo(TypedDict):
    """XINFO CONSUMERS (Redis 7.2 adds `inactive`, which we do not read)."""

    name: bytes
    pending: int
    idle: int


class PipelineCommands(Protocol):
    """A non-transactional pipeline: commands queue (their return value is the pipeline,
    ignored) and `execute` answers them in order, errors in place when
    `raise_on_error=False`."""

    async def __aenter__(self) -> Self: ...
    # Any: redis-py annotates ClusterPipeline.__aexit__'s parameters as None
    async def __aexit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None: ...
    def execute(self, raise_on_error: bool = True) -> Awaitable[list[Any]]: ...
    def eval(self, script: str, numkeys: int, *keys_and_args: EncodableT) -> object: ...
    def expire(self, name: KeyT, time: int) -> object: ...
    def hget(self, name: str, key: str) -> object: ...
    def hgetall(self, name: str) -> object: ...
    def hmget(self, name: str, keys: list[Any], *args: list[Any]) -> object: ...
    def hvals(self, name: str) -> object: ...
    def lrange(self, name: KeyT, start: int, end: int) -> object: ...
    def ltrim(self, name: KeyT, start: int, end: int) -> object: ...
    def memory_usage(self, key: KeyT, samples: int | None = None) -> object: ...
    def rpush(self, name: KeyT, *values: EncodableT) -> object: ...
    def xadd(
        self,
        name: KeyT,
        fields: dict[FieldT, EncodableT],
        *,
        maxlen: int | None = None,
        approximate: bool = True,
    ) -> object: ...
    def zadd(self, name: KeyT, mapping: Mapping[AnyKeyT, EncodableT]) -> object: ...
    def zcard(self, name: KeyT) -> object: ...
    def zrangebyscore(
        self,
        name: KeyT,
        min: ZScoreBoundT,
        max: ZScoreBoundT,
        start: int | None = None,
        num: int | None = None,
    ) -> object: ...


class RedisPipeline(PipelineCommands, Protocol):
    def hset(
        self,
        name: str,
        key: str | None = None,
        value: str | bytes | None = None,
        mapping: dict[str, EncodableT] | None = None,
    ) -> object: ...


class RedisCommands(Protocol):
    """Every command we use whose redis-py annotation agrees with what Redis answers."""

    def aclose(self) -> Awaitable[None]: ...
    def pipeline(self, transaction: bool = ...) -> PipelineCommands: ...
    def info(self, section: str | None = None) -> Awaitable[dict[str, Any]]: ...
    # keys and strings
    def delete(self, *names: KeyT) -> Awaitable[int]: ...
    def unlink(self, *names: KeyT) -> Awaitable[int]: ...
    def exists(self, *names: KeyT) -> Awaitable[int]: ...
    def get(self, name: KeyT) -> Awaitable[bytes | None]: ...
    def set(self, name: KeyT, value: EncodableT) -> Awaitable[bool | None]: ...
    def memory_usage(self, key: KeyT, samples: int | None = None) -> Awaitable[int | None]: ...
    def scan_iter(self, match: PatternT | None = None, count: int | None = None) -> AsyncIterator[bytes]: ...
    # hashes and lists
    # sorted sets
    def zcard(self, name: KeyT) -> Awaitable[int]: ...
    def zcount(self, name: KeyT, min: ZScoreBoundT, max: ZScoreBoundT) -> Awaitable[int]: ...
    def zrange(self, name: KeyT, start: int, end: int) -> Awaitable[list[bytes]]: ...
    def zrevrange(self, name: KeyT, start: int, end: int) -> Awaitable[list[bytes]]: ...
    def zrem(self, name: KeyT, *values: EncodableT) -> Awaitable[int]: ...
    def zremrangebyscore(self, name: KeyT, min: ZScoreBoundT, max: ZScoreBoundT) -> Awaitable[int]: ...
    def zscore(self, name: KeyT, value: EncodableT) -> Awaitable[float | None]: ...
    # streams
    def xadd(
        self,
        name: KeyT,
        fields: dict[FieldT, EncodableT],
        *,
        maxlen: int | None = None,
        approximate: bool = True,
    ) -> Awaitable[bytes]: ...
    def xack(self, name: KeyT, groupname: KeyT, *ids: StreamIdT) -> Awaitable[int]: ...
    def xdel(self, name: KeyT, *ids: StreamIdT) -> Awaitable[int]: ...
    def xlen(self, name: KeyT) -> Awaitable[int]: ...
    def xrange(
        self, name: KeyT, min: StreamIdT = "-", max: StreamIdT = "+", count: int | None = None
    ) -> Awaitable[list[RawEntry]]: ...
    def xrevrange(
        self, name: KeyT, max: StreamIdT = "+", min: StreamIdT = "-", count: int | None = None
    ) -> Awaitable[list[RawEntry]]: ...
    def xread(
        self, streams: dict[KeyT, StreamIdT], count: int | None = None, block: int | None = None
    ) -> Awaitable[StreamReply]: ...
    def xreadgroup(
        self,
        groupname: str,
        consumername: str,
        streams: dict[KeyT, StreamIdT],
        count: int | None = None,
        block: int | None = None,
    ) -> Awaitable[StreamReply]: ...
    def xtrim(
        self, name: KeyT, *, minid: StreamIdT | None = None, approximate: bool = True
    ) -> Awaitable[int]: ...
    def xpending(self, name: KeyT, groupname: KeyT) -> Awaitable[PendingSummary]: ...
    def xpending_range(
        self,
        name: KeyT,
        groupname: KeyT,
        min: StreamIdT,
        max: StreamIdT,
        count: int,
        consumername: KeyT | None = None,
    ) -> Awaitable[list[PendingEntry]]: ...
    def xgroup_create(
        self, name: KeyT, groupname: KeyT, id: StreamIdT = "$", mkstream: bool = False
    ) -> Awaitable[bool]: ...
    def xgroup_createconsumer(self, name: KeyT, groupname: KeyT, consumername: KeyT) -> Awaitable[int]: ...
    def xgroup_delconsumer(self, name: KeyT, groupname: KeyT, consumername: KeyT) -> Awaitable[int]: ...
    def xgroup_destroy(self, name: KeyT, groupname: KeyT) -> Awaitable[int]: ...
    def xinfo_groups(self, name: KeyT) -> Awaitable[list[GroupInfo]]: ...
    def xinfo_consumers(self, name: KeyT, groupname: KeyT) -> Awaitable[list[ConsumerInfo]]: ...


class RedisClient(RedisCommands, Protocol):
    """`RedisCommands` and the commands redis-py annotates with a concrete reply type
    (`Awaitable[T] | T` with `T` not `Any`, which no `Awaitable` protocol accepts) or as
    if replies were str (hget's reply, hset's and hdel's bytes fields and values)."""

    def pipeline(self, transaction: bool = ...) -> RedisPipeline: ...
    def ping(self) -> Awaitable[bool]: ...
    # scripts: a script's reply has the script's own shape; its caller parses it
    def eval(self, script: str, numkeys: int, *keys_and_args: EncodableT) -> Awaitable[Any]: ...
    def evalsha(self, sha: str, numkeys: int, *keys_and_args: EncodableT) -> Awaitable[Any]: ...
    def lrange(self, name: KeyT, start: int, end: int) -> Awaitable[list[bytes]]: ...
    def hget(self, name: str, key: str) -> Awaitable[bytes | None]: ...
    def hgetall(self, name: str) -> Awaitable[dict[bytes, bytes]]: ...
    def hmget(self, name: str, keys: Sequence[FieldT]) -> Awaitable[list[bytes | None]]: ...
    def hvals(self, name: str) -> Awaitable[list[bytes]]: ...
    def hset(
        self,
        name: str,
        key: str | None = None,
        value: str | bytes | None = None,
        mapping: dict[str, EncodableT] | None = None,
    ) -> Awaitable[int]: ...
    def hdel(self, name: str, *keys: str | bytes) -> Awaitable[int]: ...


def as_client(commands: RedisCommands) -> RedisClient:
    """A redis-py client as a `RedisClient`: mypy has checked `RedisCommands` against
    redis-py's annotations through the parameter's type; `tests/unit/test_redis_client.py`
    checks that the rest exist on both clients and take the parameters named here."""
    return cast(RedisClient, commands)
