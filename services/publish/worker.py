"""Publish service wiring: on story enriched → route → queue per outlet → one sender per outlet.

An enriched entry is acknowledged once its deliveries are queued (the queue refuses
duplicates, so a redelivered entry queues nothing twice); sending happens from the
durable per-outlet queues, so a slow outlet never holds up the stream or the others.
The same process serves the editors' API, the live feed, the Atom feeds and the page.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from fastapi import FastAPI

from services.publish.api import editors_router
from services.publish.atom import AtomStore
from services.publish.page import page_router
from services.publish.publisher import Publisher
from services.publish.senders import OutletSender
from services.publish.transports import make_transport
from shared.config import NewsroomConfig, load_config
from shared.connections import make_broker, make_redis
from shared.consuming import Entry, StreamConsumer
from shared.events import StoryEnriched
from shared.logging import get_logger
from shared.settings import Settings
from shared.streams import Streams
from shared.worker_app import worker_app

log = get_logger(__name__)


def create_app(settings: Settings | None = None, config: NewsroomConfig | None = None) -> FastAPI:
    settings = settings or Settings()
    config = config or load_config(settings.config_path)
    keys = settings.keys
    streams = Streams.for_keys(keys)
    redis = make_redis(settings)
    broker = make_broker(settings)
    atom = AtomStore(redis, keys, settings.atom_entries)
    publisher = Publisher(settings, config, redis)
    senders = {
        outlet.name: OutletSender(
            outlet,
            publisher,
            make_transport(outlet, outlet.timeout_seconds or settings.outlet_timeout_seconds, atom),
        )
        for outlet in config.outlets
    }
    publisher.wake = lambda name: senders[name].wake() if name in senders else None
    running: list[asyncio.Task[None]] = []

    async def on_story_enriched(entries: Sequence[Entry[StoryEnriched]]) -> Mapping[str, BaseException]:
        """The batch is routed and queued together (three round trips however many stories),
        in stream order, so the versions of one story are queued in the order they came."""
        results = await publisher.accept_many([entry.event for entry in entries])
        failed: dict[str, BaseException] = {}
        for entry, result in zip(entries, results, strict=True):
            if isinstance(result, BaseException):
                enriched = entry.event
                log.warning(
                    "routing failed; entry left for retry",
                    story_id=enriched.story_id,
                    trace_id=enriched.trace_id,
                    error=repr(result),
                )
                failed[entry.entry_id] = result
        return failed

    StreamConsumer(
        broker=broker,
        redis=redis,
        settings=settings,
        stream=streams.enriched,
        model=StoryEnriched,
        handle=on_story_enriched,
    ).attach()

    async def start_senders() -> None:
        running.extend(asyncio.create_task(sender.run()) for sender in senders.values())

    async def stop_senders() -> None:
        for sender in senders.values():
            sender.stopping = True
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=5)
        for sender in senders.values():
            await sender.stop()

    app = worker_app(
        title="Newsroom publish",
        settings=settings,
        broker=broker,
        redis=redis,
        streams=[streams.enriched],
        on_start=start_senders,
        on_stop=stop_senders,
    )
    app.include_router(editors_router(publisher, atom))
    app.include_router(page_router())
    return app
