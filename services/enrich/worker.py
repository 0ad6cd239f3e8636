"""Enrich worker wiring: on story received → enrich → to enriched stream (once per version)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from fastapi import FastAPI

from services.enrich.pipeline import Enricher, build_enricher
from shared import status
from shared.config import NewsroomConfig, load_config
from shared.connections import RedisClient, make_broker, make_redis
from shared.consuming import Entry, StreamConsumer
from shared.events import Enrichment, StoryEnriched, StoryReceived, utcnow
from shared.keys import Keys
from shared.logging import get_logger
from shared.metrics import ENRICH_SECONDS
from shared.settings import Settings
from shared.streams import Append, Streams, append_once_each
from shared.timeline import Enriched
from shared.worker_app import worker_app

log = get_logger(__name__)
# Stories per tagging call: NER costs ~3 % more per story in fours than in one batch of
# 64, and ~25 % more one by one; in fours a story waits for at most three others.
CHUNK = 4


def create_app(settings: Settings | None = None, config: NewsroomConfig | None = None) -> FastAPI:
    settings = settings or Settings()
    config = config or load_config(settings.config_path)
    keys = settings.keys
    # Every partner's lane has its own consumer; their chunks take turns at the tagger
    # (Enricher.turns), so a partner flooding its lane delays another's story by one chunk.
    streams = Streams.for_keys(keys, [partner.id for partner in config.partners])
    redis = make_redis(settings)
    broker = make_broker(settings)
    window_ms = int(settings.ledger_window_hours * 3600 * 1000)
    enricher = build_enricher(settings, config, redis)

    async def on_story_received(
        entries: Sequence[Entry[StoryReceived]],
    ) -> Mapping[str, BaseException]:
        return await enrich_entries(entries, enricher, redis, keys, window_ms)

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
    return app


async def enrich_entries(
    entries: Sequence[Entry[StoryReceived]],
    enricher: Enricher,
    redis: RedisClient,
    keys: Keys,
    window_ms: int,
) -> dict[str, BaseException]:
    """Enrich a batch and append each story once to the enriched stream; the failed ones by entry id.

    The batch goes through in chunks, and each chunk's stories are written while the
    next chunk is tagged: a story leaves once its chunk is enriched, not its batch.
    """
    failed: dict[str, BaseException] = {}
    written: asyncio.Task[None] | None = None
    for start in range(0, len(entries), CHUNK):
        chunk = entries[start : start + CHUNK]
        started = time.perf_counter()
        results = await _enrich_chunk(enricher, [entry.event for entry in chunk])
        per_story = (time.perf_counter() - started) / len(chunk)
        written = asyncio.create_task(
            _write(chunk, results, per_story, failed, redis, keys, window_ms, after=written)
        )
    if written is not None:
        await written
    return failed


async def _enrich_chunk(
    enricher: Enricher, received: list[StoryReceived]
) -> list[Enrichment | BaseException]:
    """Each story's enrichment or its own error (see `Enricher.enrich_each`)."""
    try:
        return list(await enricher.enrich_each(received))
    except Exception as exc:  # what no single story is to blame for: this chunk is retried
        return [exc] * len(received)


async def _write(
    chunk: Sequence[Entry[StoryReceived]],
    results: list[Enrichment | BaseException],
    per_story: float,
    failed: dict[str, BaseException],
    redis: RedisClient,
    keys: Keys,
    window_ms: int,
    *,
    after: asyncio.Task[None] | None,
) -> None:
    """Append the chunk's stories (one round trip), then their status records (one more):
    a status says "enriched" only once the story is on the enriched stream."""
    if after is not None:
        await after  # chunks leave in the order they were read
    done: list[tuple[Entry[StoryReceived], StoryEnriched]] = []
    for entry, result in zip(chunk, results, strict=True):
        if isinstance(result, BaseException):
            failed[entry.entry_id] = result
            continue
        received = entry.event
        try:
            enriched = StoryEnriched(
                story_id=received.story_id,
                trace_id=received.trace_id,
                received_at=received.received_at,
                enriched_at=utcnow(),
                received_as=received.received_as,
                story=received.story,
                enrichment=result,
            )
        except Exception as exc:
            failed[entry.entry_id] = exc
            continue
        done.append((entry, enriched))
    try:
        appended = await append_once_each(
            redis,
            keys.enriched,
            keys.enriched_ledger,
            [Append(f"{e.story_id}:{e.story.version}:{e.received_as}", e, e.trace_id) for _, e in done],
            window_ms,
        )
    except Exception as exc:  # the connection failed: none of them is known to be appended
        failed.update((entry.entry_id, exc) for entry, _ in done)
        return
    on_stream = []
    for (entry, enriched), answer in zip(done, appended, strict=True):
        if isinstance(answer, BaseException):
            failed[entry.entry_id] = answer
        else:
            on_stream.append((entry, enriched, answer))
    records = [
        status.Record(e.story_id, Enriched(version=e.story.version), "enrich") for _, e, _ in on_stream
    ]
    try:
        errors = await status.record_many(redis, keys, records)
    except Exception as exc:
        errors = [exc] * len(records)
    for (entry, enriched, entry_id), error in zip(on_stream, errors, strict=True):
        if error is not None:
            failed[entry.entry_id] = error  # retried; append-once keeps it from going out twice
            continue
        ENRICH_SECONDS.observe(per_story)
        log.info(
            "story enriched",
            story_id=enriched.story_id,
            trace_id=enriched.trace_id,
            entry_id=entry_id,
            duplicate=entry_id is None,
        )
