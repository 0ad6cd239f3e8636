"""The HTTP face of a stream worker: health, readiness, metrics, and the broker's lifecycle.

Groups are created at id 0 before the broker starts its subscribers, and a
housekeeping loop trims only fully processed entries and publishes lag gauges.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from redis.exceptions import ResponseError

from shared.connections import Broker, RedisClient, discover
from shared.heap import settle_start_up_heap
from shared.logging import get_logger
from shared.metrics import (
    DEAD_LETTER_ENTRIES,
    STREAM_LAG,
    STREAM_OLDEST_PENDING_SECONDS,
    STREAM_PENDING,
    metrics_listener,
    mount_metrics,
)
from shared.problems import install_problem_handlers, readiness
from shared.settings import Settings
from shared.streams import (
    Stream,
    backlog,
    ensure_groups,
    not_ready_reason,
    prune_consumers,
    trim_processed,
)

log = get_logger(__name__)
CONSUMER_IDLE_MS = 24 * 3600 * 1000


def worker_app(
    *,
    title: str,
    settings: Settings,
    broker: Broker,
    redis: RedisClient,
    streams: Sequence[Stream],
    on_start: Callable[[], Awaitable[None]] | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> FastAPI:
    async def housekeeping() -> None:
        keep_ms = int(settings.stream_retention_hours * 3600 * 1000)
        lost_rounds = 0
        while True:
            await asyncio.sleep(settings.housekeeping_seconds)
            lost_rounds = lost_rounds + 1 if await groups_lost(redis, streams) else 0
            if lost_rounds >= 2:  # seen twice, a housekeeping round apart: not a blip
                # Redis came back without our groups (no persistence, or a failover to an
                # empty replica). FastStream stops a subscriber whose group vanished and,
                # outside a FastStream app, nothing else notices: exit, so the supervisor
                # (compose `restart: always`) starts us again and the groups are recreated
                # at id 0, which also picks up what ingest accepted meanwhile.
                log.critical("consumer groups lost; exiting so the supervisor restarts this worker")
                os.kill(os.getpid(), signal.SIGTERM)
                return
            for stream in streams:
                try:
                    lag, pending = await backlog(redis, stream)
                    STREAM_LAG.labels(stream.name, stream.group).set(lag)
                    STREAM_PENDING.labels(stream.name, stream.group).set(pending)
                    STREAM_OLDEST_PENDING_SECONDS.labels(stream.name, stream.group).set(
                        await oldest_pending_seconds(redis, stream) if pending else 0.0
                    )
                    await trim_processed(redis, stream, keep_ms)
                    await prune_consumers(redis, stream, CONSUMER_IDLE_MS)
                except Exception as exc:  # Redis blips must not kill housekeeping
                    log.warning("housekeeping failed", stream=stream.name, error=repr(exc))
            try:
                DEAD_LETTER_ENTRIES.set(await redis.xlen(settings.keys.dead_letter))
            except Exception as exc:
                log.warning("housekeeping failed", stream=settings.keys.dead_letter, error=repr(exc))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await discover(redis)
        await ensure_groups(redis, streams)
        if on_start:
            await on_start()
        await broker.start()
        task = asyncio.create_task(housekeeping())
        frozen = settle_start_up_heap()
        log.info(
            "worker started",
            consumer=settings.consumer_name,
            streams=[s.name for s in streams],
            frozen_objects=frozen,
        )
        try:
            with metrics_listener(settings.metrics_port, settings.metrics_host):
                yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await broker.stop()
            if on_stop:
                await on_stop()
            await redis.aclose()

    app = FastAPI(title=title, version="1", lifespan=lifespan)
    install_problem_handlers(app, settings.retry_after_seconds)
    mount_metrics(app, settings.metrics_port)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        return readiness(await not_ready_reason(redis, streams))

    return app


async def oldest_pending_seconds(redis: RedisClient, stream: Stream) -> float:
    """How long the oldest unacknowledged entry of the group has existed (its id is its time)."""
    summary = await redis.xpending(stream.name, stream.group)
    oldest = summary.get("min")
    if not summary.get("pending") or oldest is None:
        return 0.0
    millis = int((oldest.decode() if isinstance(oldest, bytes) else str(oldest)).partition("-")[0])
    return max(0.0, time.time() - millis / 1000)


async def groups_lost(redis: RedisClient, streams: Sequence[Stream]) -> bool:
    """True only when Redis answers and says a stream or its group does not exist.

    Anything else (Redis down, loading, CLUSTERDOWN, TRYAGAIN, a moved slot) is a
    transient state that may end with the groups back, so it is not a loss.
    """
    for stream in streams:
        try:
            groups = await redis.xinfo_groups(stream.name)
        except ResponseError as exc:
            return "no such key" in str(exc).lower()
        except Exception:
            return False
        names = {g["name"].decode() if isinstance(g["name"], bytes) else str(g["name"]) for g in groups}
        if stream.group not in names:
            return True
    return False
