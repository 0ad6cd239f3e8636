"""A lean keep-alive HTTP/1.1 client for one outlet's webhooks, on asyncio streams.

Why not httpx: a webhook attempt through httpx/httpcore/anyio cost ~1.8 ms of CPU on this
machine (client side, a 3 KB POST answered `200 ok` over loopback), this ~0.1 ms; it was
publish's largest item per delivery. We need one thing of HTTP: POST a body, read the
status, the headers and at most an excerpt of the answer. No redirects (a 3xx is judged
like any failure), no proxies, no compression, no HTTP/2. The deadline of the attempt is
the caller's (`asyncio.timeout` around the whole exchange). The wire format is in
`http1.py`.

A connection goes back to the pool only when its answer was read to its end and allows
it; every other ending (an error, a cancel, a long or unframed answer) closes it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from services.publish.http1 import (
    HEAD_LIMIT,
    Head,
    Origin,
    ProtocolError,
    chunk_size,
    origin,
    parse_head,
    request_bytes,
)

MAX_INTERIM = 8
"""Interim (1xx) answers skipped before the final one; more is an outlet playing games."""


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def usable(self) -> bool:
        """Still open and silent: an idle connection the outlet closed (or wrote on) is not reused."""
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        self.writer.close()


class Answer:
    """The outlet's answer: its head now, at most an excerpt of its body on request."""

    def __init__(self, head: Head, connection: Connection) -> None:
        self.head = head
        self.status_code = head.status
        self.headers = head.headers
        self.is_success = head.is_success
        self.connection = connection
        self.reusable = False  # set once the body was read to its end and the outlet allows it

    async def excerpt(self, limit: int) -> bytes:
        """The body's first `limit` bytes; when the whole body fits, it is read to its end."""
        framing = self.head.framing()
        reader = self.connection.reader
        if framing.kind == "none":
            self.reusable = self.head.keeps_alive()
            return b""
        if framing.kind == "length":
            if framing.length > limit:
                return await reader.readexactly(limit)
            body = await reader.readexactly(framing.length)
            self.reusable = self.head.keeps_alive()
            return body
        if framing.kind == "chunked":
            return await self._chunks(reader, limit)
        unframed = bytearray()  # the body ends when the outlet closes
        while len(unframed) < limit and (data := await reader.read(limit - len(unframed))):
            unframed += data
        return bytes(unframed)

    async def _chunks(self, reader: asyncio.StreamReader, limit: int) -> bytes:
        body = bytearray()
        while True:
            size = chunk_size(await _line(reader))
            if size == 0:
                while await _line(reader) not in (b"\r\n", b"\n"):  # trailer fields, ignored
                    pass
                self.reusable = self.head.keeps_alive()
                return bytes(body)
            if len(body) + size > limit:
                body += await reader.readexactly(limit - len(body))
                return bytes(body)
            body += await reader.readexactly(size)
            if await _line(reader) not in (b"\r\n", b"\n"):
                raise ProtocolError("chunk not followed by CRLF")


class WebhookClient:
    """Connections to one outlet: at most `max_connections` at once, `max_idle` kept for reuse."""

    def __init__(self, url: str, *, max_connections: int = 64, max_idle: int = 16) -> None:
        self.url = url
        self.max_idle = max_idle
        self.slots = asyncio.Semaphore(max_connections)
        self.idle: list[Connection] = []
        self._origin: Origin | None = None
        self._tls: ssl.SSLContext | None = None
        self.opened = 0  # connections made so far (for tests and benchmarks)

    @property
    def origin(self) -> Origin:
        if self._origin is None:  # a bad URL fails the attempt, not publish's start-up
            self._origin = origin(self.url)
        return self._origin

    @asynccontextmanager
    async def post(self, headers: dict[str, str], body: bytes) -> AsyncIterator[Answer]:
        """Send one POST and yield its answer's head; the body is read only through `excerpt`."""
        where = self.origin
        request = request_bytes("POST", where, headers, body)
        async with self.slots:
            connection = await self._connection(where)
            answer: Answer | None = None
            try:
                connection.writer.write(request)
                await connection.writer.drain()
                answer = Answer(await _final_head(connection.reader), connection)
                yield answer
            finally:
                if answer is not None and answer.reusable and connection.usable():
                    self._release(connection)
                else:
                    connection.close()

    async def _connection(self, where: Origin) -> Connection:
        while self.idle:
            connection = self.idle.pop()
            if connection.usable():
                return connection
            connection.close()
        tls: ssl.SSLContext | None = None
        if where.scheme == "https":
            if self._tls is None:
                self._tls = ssl.create_default_context()  # verifies the certificate and host name
            tls = self._tls
        reader, writer = await asyncio.open_connection(
            where.host, where.port, ssl=tls, server_hostname=where.host if tls else None, limit=HEAD_LIMIT
        )
        self.opened += 1
        return Connection(reader, writer)

    def _release(self, connection: Connection) -> None:
        if len(self.idle) < self.max_idle:
            self.idle.append(connection)
        else:
            connection.close()

    async def aclose(self) -> None:
        idle, self.idle = self.idle, []
        for connection in idle:
            connection.close()


async def _line(reader: asyncio.StreamReader) -> bytes:
    try:
        return await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError as exc:
        raise ProtocolError("line longer than the limit") from exc


async def _final_head(reader: asyncio.StreamReader) -> Head:
    for _ in range(MAX_INTERIM + 1):
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError as exc:
            raise ProtocolError(f"answer head longer than {HEAD_LIMIT} bytes") from exc
        head = parse_head(raw)
        if not head.is_interim:
            return head
    raise ProtocolError(f"more than {MAX_INTERIM} interim answers")
