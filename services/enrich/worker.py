"""Enrich worker wiring: on story received → enrich → to enriched stream (once per version)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

from fastapi import FastAPI

from services.enrich.pipeline import Enricher, Tagged, build_enricher
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
# 64, and ~25 % more one by one; in fours a story waits for three others' NER at most (its links
# and its write are its own: it leaves before the chunk's later stories are linked).
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

    The batch is tagged in chunks. A chunk's links are made while the next chunk is tagged:
    linking mostly waits on the index in Redis, and tagging is CPU in a thread that lets the
    loop run, so the two overlap. Links are still made one story at a time in batch order
    (a chunk's links wait for the previous chunk's), and each story leaves as soon as its
    links are made.
    """
    failed: dict[str, BaseException] = {}
    outbox = _Outbox(redis, keys, window_ms, failed)
    linking: list[asyncio.Task[None]] = []  # one per chunk, each after the one before
    try:
        for start in range(0, len(entries), CHUNK):
            chunk = entries[start : start + CHUNK]
            started = time.perf_counter()
            try:
                tagged = await enricher.tag_each([entry.event for entry in chunk])
            except Exception as exc:  # what no single story is to blame for: the chunk is retried
                failed.update((entry.entry_id, exc) for entry in chunk)
                continue
            previous = linking[-1] if linking else None
            linking.append(
                asyncio.create_task(_link(chunk, tagged, enricher, outbox, failed, started, previous))
            )
        if linking:
            await linking[-1]
    finally:
        for task in linking:  # cancelled (shutdown): no chunk goes on linking unacknowledged
            task.cancel()
    await outbox.drained()
    return failed


async def _link(
    chunk: Sequence[Entry[StoryReceived]],
    tagged: Tagged,
    enricher: Enricher,
    outbox: _Outbox,
    failed: dict[str, BaseException],
    started: float,
    previous: asyncio.Task[None] | None,
) -> None:
    """A chunk's links, after the previous chunk's; each story to the outbox once linked."""
    if previous is not None:
        await asyncio.wait([previous])  # its failures are its own (recorded in `failed`)
    handed: list[int] = []

    def done(i: int, result: Enrichment | BaseException) -> None:
        handed.append(i)
        # The chunk's time so far per story handed out: the chunk's time per story at its last.
        outbox.put(chunk[i], result, (time.perf_counter() - started) / len(handed))

    try:
        await enricher.link_each([entry.event for entry in chunk], tagged, done)
    except Exception as exc:  # what no single story is to blame for: the rest of the chunk is retried
        failed.update((entry.entry_id, exc) for i, entry in enumerate(chunk) if i not in handed)


class _Outbox:
    """Writes enriched stories in the order they were handed in, as soon as they are: one
    write at a time, and the stories that came while a write was out go together in the next."""

    def __init__(
        self, redis: RedisClient, keys: Keys, window_ms: int, failed: dict[str, BaseException]
    ) -> None:
        self.redis, self.keys, self.window_ms, self.failed = redis, keys, window_ms, failed
        self.waiting: list[tuple[Entry[StoryReceived], Enrichment | BaseException, float]] = []
        self.writing: asyncio.Task[None] | None = None

    def put(self, entry: Entry[StoryReceived], result: Enrichment | BaseException, per_story: float) -> None:
        self.waiting.append((entry, result, per_story))
        if self.writing is None or self.writing.done():
            self.writing = asyncio.create_task(self._write_waiting())

    async def _write_waiting(self) -> None:
        while self.waiting:
            stories, self.waiting = self.waiting, []
            try:
                await _write(stories, self.failed, self.redis, self.keys, self.window_ms)
            except Exception as exc:  # none of them is known to be written: all retried (append-once)
                self.failed.update((entry.entry_id, exc) for entry, _, _ in stories)

    async def drained(self) -> None:
        while self.writing is not None and not self.writing.done():
            await self.writing


async def _write(
    stories: Sequence[tuple[Entry[StoryReceived], Enrichment | BaseException, float]],
    failed: dict[str, BaseException],
    redis: RedisClient,
    keys: Keys,
    window_ms: int,
) -> None:
    """Append the stories (one round trip), then their status records (one more):
    a status says "enriched" only once the story is on the enriched stream."""
    per_story = {entry.entry_id: seconds for entry, _, seconds in stories}
    done: list[tuple[Entry[StoryReceived], StoryEnriched]] = []
    for entry, result, _ in stories:
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
        ENRICH_SECONDS.observe(per_story[entry.entry_id])
        log.info(
            "story enriched",
            story_id=enriched.story_id,
            trace_id=enriched.trace_id,
            entry_id=entry_id,
            duplicate=entry_id is None,
        )
