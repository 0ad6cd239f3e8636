"""Enrich worker wiring: on story received → enrich → to enriched stream (once per version)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

import structlog
from fastapi import FastAPI

from services.enrich.pipeline import build_enricher
from shared import status
from shared.config import NewsroomConfig, load_config
from shared.connections import make_broker, make_redis
from shared.consuming import Entry, StreamConsumer
from shared.events import StoryEnriched, StoryReceived, utcnow
from shared.logging import get_logger
from shared.metrics import ENRICH_SECONDS
from shared.settings import Settings
from shared.streams import Streams, append_once
from shared.worker_app import worker_app

log = get_logger(__name__)


def create_app(settings: Settings | None = None, config: NewsroomConfig | None = None) -> FastAPI:
    settings = settings or Settings()
    config = config or load_config(settings.config_path)
    keys = settings.keys
    # Every partner's lane has its own consumer; their batches take turns at the tagger,
    # so a partner flooding its lane delays another partner's story by one batch at most.
    streams = Streams.for_keys(keys, [partner.id for partner in config.partners])
    redis = make_redis(settings)
    broker = make_broker(settings)
    window_ms = int(settings.ledger_window_hours * 3600 * 1000)
    enricher = build_enricher(settings, redis)
    to_enriched = broker.publisher(keys.enriched, schema=StoryEnriched, title=f"{keys.enriched}:publish")

    async def on_story_received(
        entries: Sequence[Entry[StoryReceived]],
    ) -> Mapping[str, BaseException]:
        failed: dict[str, BaseException] = {}
        started = time.perf_counter()
        enrichments = await enricher.enrich_each([entry.event for entry in entries])
        per_story = (time.perf_counter() - started) / max(1, len(entries))
        for entry, enrichment in zip(entries, enrichments, strict=True):
            received = entry.event
            structlog.contextvars.bind_contextvars(story_id=received.story_id, trace_id=received.trace_id)
            try:
                if isinstance(enrichment, Exception):
                    raise enrichment  # this story alone: retried, then dead-lettered
                enriched = StoryEnriched(
                    story_id=received.story_id,
                    trace_id=received.trace_id,
                    received_at=received.received_at,
                    enriched_at=utcnow(),
                    received_as=received.received_as,
                    story=received.story,
                    enrichment=enrichment,
                )
                marker = f"{received.story_id}:{received.story.version}:{received.received_as}"
                entry_id = await append_once(
                    redis, keys.enriched, keys.enriched_ledger, marker, enriched, received.trace_id, window_ms
                )
                await status.record(
                    redis,
                    keys,
                    received.story_id,
                    "enriched",
                    {"stage": "enriched", "version": received.story.version},
                    service="enrich",
                )
                ENRICH_SECONDS.observe(per_story)
                log.info("story enriched", entry_id=entry_id, duplicate=entry_id is None)
            except Exception as exc:
                failed[entry.entry_id] = exc
            finally:
                structlog.contextvars.unbind_contextvars("story_id", "trace_id")
        return failed

    for stream in streams.for_enrich():
        StreamConsumer(
            broker=broker,
            redis=redis,
            settings=settings,
            stream=stream,
            model=StoryReceived,
            handle=on_story_received,
        ).attach()

    app = worker_app(
        title="Newsroom enrich",
        settings=settings,
        broker=broker,
        redis=redis,
        streams=streams.for_enrich(),
    )
    app.state.to_enriched = to_enriched  # documented in AsyncAPI; writes go through append_once
    return app
