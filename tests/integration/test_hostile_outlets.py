"""Outlets that answer oddly or with hostile intent, on a real Redis over real sockets.

A quirk of one outlet's answer (a `Retry-After` nobody can read, a 200 MiB body, a
status line trickled one byte at a time) must never keep a delivery sending past its
schedule or its lease, send a story twice at once, or lose a kill.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from services.publish.publisher import delivery_id
from shared.config import Outlet
from shared.connections import RedisClient
from shared.settings import Settings
from tests.helpers.receiver import Answer, Receiver
from tests.integration.test_publish_delivery import (
    SECRET,
    fast,
    publishing,
    status_of,
    story_event,
    until,
    webhook,
)

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("retry_after", ["²", "Sat, 28 Nov 2026 12:01:00", "-1", "9" * 400])
async def test_a_2xx_is_delivered_once_whatever_its_retry_after(
    settings: Settings, redis: RedisClient, retry_after: str
) -> None:
    with Receiver(lambda _r, _q: Answer(200, headers={"retry-after": retry_after})) as outlet:
        async with publishing(fast(settings), redis, [webhook("odd", outlet)]) as publisher:
            event = story_event()
            await publisher.accept(event)
            await until(lambda: status_of(publisher, "odd", event), timeout=5)
            await until(lambda: _is(publisher, "odd", event, "delivered"), timeout=5)
            delivery = await publisher.queues["odd"].get(delivery_id("odd", event))
    assert delivery is not None
    assert delivery.attempts == 1
    assert len(outlet.attempts) == 1


async def test_an_unreadable_retry_after_on_503_follows_the_schedule_and_dead_letters(
    settings: Settings, redis: RedisClient
) -> None:
    with Receiver(lambda _r, _q: Answer(503, headers={"retry-after": "²"})) as outlet:
        cfg = fast(settings, retry_schedule_seconds=[0.1, 0.1])
        async with publishing(cfg, redis, [webhook("odd", outlet)]) as publisher:
            event = story_event()
            await publisher.accept(event)
            await until(lambda: _is(publisher, "odd", event, "failed"), timeout=10)
            failed = await publisher.queues["odd"].get(delivery_id("odd", event))
            dead = await redis.xrange(settings.keys.dead_letter)
    assert failed is not None
    assert failed.attempts == 3  # the first try and the two scheduled retries, no more
    assert len(outlet.attempts) == 3
    assert "gave up after 3 attempts" in failed.fields["last_error"]
    assert [d[1][b"entry_id"].decode() for d in dead] == [failed.id]


async def test_a_kill_reaches_an_outlet_that_may_have_received_the_story(
    settings: Settings, redis: RedisClient
) -> None:
    """The first attempt timed out (the outlet may well have the story): the kill still goes."""

    def slow_then_fine(receiver: Receiver, _request: Any) -> Answer:
        return Answer(200, delay=2.0) if len(receiver.attempts) == 0 else Answer(200)

    with Receiver(slow_then_fine) as outlet:
        cfg = fast(settings, retry_schedule_seconds=[60.0])
        async with publishing(cfg, redis, [webhook("slow", outlet, timeout_seconds=0.3)]) as publisher:
            story = story_event()
            await publisher.accept(story)
            await until(lambda: _is(publisher, "slow", story, "retrying"), timeout=5)
            kill = story_event(received_as="kill", pubstatus="canceled")
            assert await publisher.accept(kill) == {"slow": "created"}
            await until(lambda: _is(publisher, "slow", kill, "delivered"), timeout=5)
            assert await status_of(publisher, "slow", story) == "canceled"
    assert "story.killed" in [r.json["type"] for r in outlet.received]


@dataclass
class RawOutlet:
    """A TCP server speaking just enough HTTP/1.1 to answer as a hostile outlet would."""

    answer: Callable[[asyncio.StreamWriter, RawOutlet], Awaitable[None]]
    connections: list[tuple[float, float]] = field(default_factory=list)  # (opened, closed by either side)
    bytes_written: int = 0
    url: str = ""
    keep_alive: bool = False  # answer further requests on the same connection
    requests: int = 0
    opened: int = 0  # connections accepted

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened = time.monotonic()
        self.opened += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                self.requests += 1
                await self.answer(writer, self)
                if not self.keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.connections.append((opened, time.monotonic()))
            writer.close()


@asynccontextmanager
async def raw_outlet(
    answer: Callable[[asyncio.StreamWriter, RawOutlet], Awaitable[None]], *, keep_alive: bool = False
) -> AsyncIterator[RawOutlet]:
    outlet = RawOutlet(answer, keep_alive=keep_alive)
    server = await asyncio.start_server(outlet.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    outlet.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield outlet
    finally:
        server.close()


async def test_a_huge_answer_is_not_read_beyond_a_small_excerpt(
    settings: Settings, redis: RedisClient
) -> None:
    total = 256 * 1024 * 1024

    async def flood(writer: asyncio.StreamWriter, outlet: RawOutlet) -> None:
        writer.write(f"HTTP/1.1 500 Oops\r\ncontent-length: {total}\r\n\r\n".encode())
        chunk = b"x" * 65536
        while outlet.bytes_written < total:
            writer.write(chunk)
            await writer.drain()  # raises once publish has closed the connection
            outlet.bytes_written += len(chunk)

    async with raw_outlet(flood) as outlet:
        target = Outlet(name="flood", url=outlet.url, secret=SECRET)
        cfg = fast(settings, retry_schedule_seconds=[60.0], outlet_timeout_seconds=20.0)
        async with publishing(cfg, redis, [target]) as publisher:
            event = story_event()
            await publisher.accept(event)
            await until(lambda: _is(publisher, "flood", event, "retrying"), timeout=20)
            delivery = await publisher.queues["flood"].get(delivery_id("flood", event))
            await until(lambda: len(outlet.connections) == 1, timeout=5)
    assert delivery is not None
    assert delivery.fields["last_error"] == "HTTP 500: " + "x" * 200
    # Socket buffers take a few MiB; reading the answer would have taken all 256.
    assert outlet.bytes_written < 32 * 1024 * 1024


async def test_one_deadline_per_attempt_shorter_than_the_lease(
    settings: Settings, redis: RedisClient
) -> None:
    """A status line trickled a byte every 0.1 s passes every per-read timeout, not the deadline."""

    async def trickle(writer: asyncio.StreamWriter, _outlet: RawOutlet) -> None:
        for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nx-padding: " + b"." * 100 + b"\r\n\r\n":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.1)

    async with raw_outlet(trickle) as outlet:
        target = Outlet(name="trickle", url=outlet.url, secret=SECRET, timeout_seconds=1.0)
        cfg = fast(settings, retry_schedule_seconds=[60.0], delivery_lease_seconds=1.0)
        async with publishing(cfg, redis, [target]) as publisher:
            event = story_event()
            await publisher.accept(event)
            await until(lambda: _is(publisher, "trickle", event, "retrying"), timeout=10)
            delivery = await publisher.queues["trickle"].get(delivery_id("trickle", event))
            await until(lambda: len(outlet.connections) == 1, timeout=5)
    assert delivery is not None
    assert delivery.attempts == 1
    assert delivery.fields["last_error"].startswith("timeout: no complete answer within 1 s")
    opened, closed = outlet.connections[0]
    assert closed - opened < 2.0  # the lease: timeout 1 s + lease 1 s


async def test_deliveries_to_one_outlet_reuse_its_connection(settings: Settings, redis: RedisClient) -> None:
    """A 2xx with a short body is read to its end, so the next delivery needs no new connection."""

    async def fine(writer: asyncio.StreamWriter, _outlet: RawOutlet) -> None:
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 15\r\n\r\n{"status": 200}')
        await writer.drain()

    async with raw_outlet(fine, keep_alive=True) as outlet:
        target = Outlet(name="kept", url=outlet.url, secret=SECRET)
        async with publishing(fast(settings, outlet_concurrency=1), redis, [target]) as publisher:
            events = [story_event(uri=f"urn:wire:kept:{n}") for n in range(3)]
            for event in events:
                await publisher.accept(event)

            async def all_delivered() -> bool:
                return all([await _is(publisher, "kept", e, "delivered") for e in events])

            await until(all_delivered, timeout=10)
    assert outlet.requests == 3
    assert outlet.opened == 1


async def test_a_2xx_whose_body_trickles_past_the_deadline_is_delivered(
    settings: Settings, redis: RedisClient
) -> None:
    """The status said 2xx: the outlet has the story, however slowly the rest of its answer comes."""

    async def slow_body(writer: asyncio.StreamWriter, _outlet: RawOutlet) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n")
        await writer.drain()
        for _ in range(40):
            writer.write(b".")
            await writer.drain()
            await asyncio.sleep(0.1)

    async with raw_outlet(slow_body) as outlet:
        target = Outlet(name="slowbody", url=outlet.url, secret=SECRET, timeout_seconds=1.0)
        cfg = fast(settings, retry_schedule_seconds=[60.0])
        async with publishing(cfg, redis, [target]) as publisher:
            event = story_event()
            await publisher.accept(event)
            await until(lambda: _is(publisher, "slowbody", event, "delivered"), timeout=10)
            delivery = await publisher.queues["slowbody"].get(delivery_id("slowbody", event))
    assert delivery is not None
    assert delivery.attempts == 1
    assert outlet.requests == 1


async def _is(publisher: Any, outlet: str, event: Any, wanted: str) -> bool:
    return await status_of(publisher, outlet, event) == wanted


async def _deliver_three(outlet: RawOutlet, name: str, settings: Settings, redis: RedisClient) -> None:
    target = Outlet(name=name, url=outlet.url, secret=SECRET)
    async with publishing(fast(settings, outlet_concurrency=1), redis, [target]) as publisher:
        events = [story_event(uri=f"urn:wire:{name}:{n}") for n in range(3)]
        for event in events:
            await publisher.accept(event)

        async def all_delivered() -> bool:
            return all([await _is(publisher, name, e, "delivered") for e in events])

        await until(all_delivered, timeout=10)


async def test_a_chunked_answer_is_read_to_its_end_and_its_connection_reused(
    settings: Settings, redis: RedisClient
) -> None:
    async def chunked(writer: asyncio.StreamWriter, _outlet: RawOutlet) -> None:
        writer.write(b"HTTP/1.1 202 Accepted\r\ntransfer-encoding: chunked\r\n\r\n")
        writer.write(b"4;ext=1\r\nokay\r\n6\r\n, done\r\n0\r\nx-trailer: 1\r\n\r\n")
        await writer.drain()

    async with raw_outlet(chunked, keep_alive=True) as outlet:
        await _deliver_three(outlet, "chunked", settings, redis)
    assert outlet.requests == 3
    assert outlet.opened == 1


async def test_an_outlet_that_closes_its_connections_gets_a_new_one_each_time(
    settings: Settings, redis: RedisClient
) -> None:
    """`connection: close`, or closing an idle kept-alive connection: never written to again."""

    async def closing(writer: asyncio.StreamWriter, outlet: RawOutlet) -> None:
        said = b"connection: close\r\n" if outlet.requests % 2 else b""
        writer.write(b"HTTP/1.1 200 OK\r\n" + said + b"content-length: 2\r\n\r\nok")
        await writer.drain()
        if not said:
            writer.close()  # kept alive as far as publish knows: it finds the connection closed

    async with raw_outlet(closing, keep_alive=True) as outlet:
        await _deliver_three(outlet, "closing", settings, redis)
    assert outlet.requests == 3
    assert outlet.opened == 3


async def test_a_chunked_error_answer_is_excerpted_without_its_framing(
    settings: Settings, redis: RedisClient
) -> None:
    async def failing(writer: asyncio.StreamWriter, _outlet: RawOutlet) -> None:
        writer.write(b"HTTP/1.1 503 Busy\r\ntransfer-encoding: chunked\r\nretry-after: 30\r\n\r\n")
        writer.write(b"5\r\ncome \r\n5\r\nlater\r\n0\r\n\r\n")
        await writer.drain()

    async with raw_outlet(failing) as outlet:
        target = Outlet(name="busy", url=outlet.url, secret=SECRET)
        async with publishing(fast(settings, retry_schedule_seconds=[60.0]), redis, [target]) as publisher:
            event = story_event()
            await publisher.accept(event)
            await until(lambda: _is(publisher, "busy", event, "retrying"), timeout=10)
            delivery = await publisher.queues["busy"].get(delivery_id("busy", event))
    assert delivery is not None
    assert delivery.fields["last_error"] == "HTTP 503: come later"


@pytest.mark.parametrize(
    "answer",
    [
        b"SPDY/9 200 OK\r\n\r\n",
        b"HTTP/1.1 2xx OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n bad: fold\r\n\r\n",
        b"HTTP/1.1 2",
    ],
)
async def test_an_answer_that_is_not_http_is_a_failed_attempt(
    settings: Settings, redis: RedisClient, answer: bytes
) -> None:
    async def garbage(writer: asyncio.StreamWriter, _outlet: RawOutlet) -> None:
        writer.write(answer)
        await writer.drain()

    async with raw_outlet(garbage) as outlet:
        target = Outlet(name="garbage", url=outlet.url, secret=SECRET)
        async with publishing(fast(settings, retry_schedule_seconds=[60.0]), redis, [target]) as publisher:
            event = story_event()
            await publisher.accept(event)
            await until(lambda: _is(publisher, "garbage", event, "retrying"), timeout=10)
            delivery = await publisher.queues["garbage"].get(delivery_id("garbage", event))
    assert delivery is not None
    assert delivery.attempts == 1
    assert delivery.fields["last_error"].split(":")[0] in ("ProtocolError", "IncompleteReadError")
