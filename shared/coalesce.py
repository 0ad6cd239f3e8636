"""Commands of concurrent tasks sent together: while one pipeline is in flight, the next fills.

Each task adds its commands to the next pipeline and waits for its own replies. A pipeline
goes out as soon as the one before it is back, so a lone task waits for nothing, and N
tasks that want Redis at about the same moment share one round trip instead of N (each
round trip is a socket write, a wake-up of Redis and a read: most of a sender's CPU per
delivery). Order is kept: the pipelines go out one after the other, and the commands in
the order their tasks added them. Nothing is made atomic that was not: a pipeline is not
a transaction, and each script in it is atomic on its own, as when called alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from shared.connections import RedisClient
from shared.redis_client import RedisPipeline

Adder = Callable[[RedisPipeline], int]
"""Queues one task's commands on a pipeline and returns how many replies they take."""


class Coalescer:
    def __init__(self, redis: RedisClient) -> None:
        self.redis = redis
        self._waiting: list[tuple[Adder, asyncio.Future[list[Any]]]] = []
        self._sending: asyncio.Task[None] | None = None

    async def run(self, add: Adder) -> list[Any]:
        """The replies to the commands `add` queues, errors in place (as `raise_on_error=False`)."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._waiting.append((add, future))
        if self._sending is None:
            self._sending = asyncio.create_task(self._send_all())
        return await future

    async def _send_all(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                await self._send(batch)
        finally:
            self._sending = None

    async def _send(self, batch: list[tuple[Adder, asyncio.Future[list[Any]]]]) -> None:
        while batch:
            counts: list[int] = []
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for n, (add, future) in enumerate(batch):
                        try:
                            counts.append(add(pipe))
                        except Exception as exc:
                            # Its commands may be half queued: fail it alone, fill a new pipeline.
                            _fail(future, exc)
                            batch = batch[:n] + batch[n + 1 :]
                            break
                    else:
                        replies = await pipe.execute(raise_on_error=False)
                        break
            except BaseException as exc:  # a lost connection (or our cancellation): every waiter hears it
                for _add, future in batch:
                    _fail(future, exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                return
        if not batch:
            return
        at = 0
        for (_add, future), count in zip(batch, counts, strict=True):
            if not future.done():  # its task may have been cancelled meanwhile
                future.set_result(replies[at : at + count])
            at += count


def _fail(future: asyncio.Future[list[Any]], exc: BaseException) -> None:
    if future.done():
        return
    if isinstance(exc, asyncio.CancelledError):
        future.cancel()
    else:
        future.set_exception(exc)
