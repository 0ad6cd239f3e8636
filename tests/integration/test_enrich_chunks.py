"""Enrich's batch on a real Redis: a story leaves once it is enriched, not once its chunk or its
batch is; a failing chunk is retried alone; appends, statuses and duplicates stay exactly as before."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from services.enrich.pipeline import Enricher, Tagged
from services.enrich.worker import CHUNK, enrich_entries
from shared import status
from shared.config import NewsroomConfig
from shared.connections import RedisClient
from shared.consuming import Entry
from shared.events import Enrichment, StoryEnriched, StoryReceived, utcnow
from shared.settings import Settings
from shared.story import Story
from shared.streams import decode_entry
from tests.helpers.waiting import until

pytestmark = pytest.mark.integration
WINDOW_MS = 3_600_000


def entries(count: int) -> list[Entry[StoryReceived]]:
    stories = [
        Story(
            partner="wire",
            uri=f"urn:chunk:{n}",
            firstcreated=datetime(2026, 11, 28, 10, tzinfo=UTC),
            versioncreated=datetime(2026, 11, 28, 10, tzinfo=UTC),
            language="en",
            headline=f"Story {n}",
            body_html=f"<p>Story {n}.</p>",
        )
        for n in range(count)
    ]
    return [
        Entry(f"1-{n}", StoryReceived(story_id=s.id, trace_id=f"t{n}", received_at=utcnow(), story=s), 1)
        for n, s in enumerate(stories)
    ]


class HeldEnricher(Enricher):
    """Enriches without tags; tagging the chunk holding `hold_story` waits for `release`,
    `fail_story` fails on its own, and the chunk holding `break_story` fails as a whole."""

    def __init__(
        self, settings: Settings, hold_story: str = "", fail_story: str = "", break_story: str = ""
    ) -> None:
        super().__init__(settings, NewsroomConfig().exempt_genres)
        self.hold_story, self.fail_story, self.break_story = hold_story, fail_story, break_story
        self.release = asyncio.Event()
        self.chunks: list[int] = []

    async def tag_each(self, received: Sequence[StoryReceived]) -> Tagged:
        self.chunks.append(len(received))
        ids = {event.story_id for event in received}
        if self.break_story in ids:
            raise RuntimeError("the tagger broke under this chunk")
        if self.hold_story in ids:
            await self.release.wait()
        return Tagged(
            self.clock(),
            [
                ValueError("this story is broken") if event.story_id == self.fail_story else Enrichment()
                for event in received
            ],
        )


class HeldLinks(Enricher):
    """The real steps without tags or index; linking `hold_story` waits for `release`, and
    each chunk's tagging is recorded (by its first story) when it starts."""

    def __init__(self, settings: Settings, hold_story: str) -> None:
        super().__init__(settings, NewsroomConfig().exempt_genres)
        self.hold_story = hold_story
        self.release = asyncio.Event()
        self.tagging: list[str] = []

    async def tag_each(self, received: Sequence[StoryReceived]) -> Tagged:
        self.tagging.append(received[0].story_id)
        return await super().tag_each(received)

    async def link_and_flag(self, event: StoryReceived, enrichment: Enrichment, now: datetime) -> None:
        if event.story_id == self.hold_story:
            await self.release.wait()
        await super().link_and_flag(event, enrichment, now)


async def enriched_count(redis: RedisClient, settings: Settings) -> int:
    return int(await redis.xlen(settings.keys.enriched))


async def test_the_first_chunk_is_on_the_stream_while_the_next_is_still_being_enriched(
    settings: Settings, redis: RedisClient
) -> None:
    batch = entries(CHUNK + 2)
    enricher = HeldEnricher(settings, hold_story=batch[CHUNK].event.story_id)
    handling = asyncio.create_task(enrich_entries(batch, enricher, redis, settings.keys, WINDOW_MS))

    async def first_chunk_out() -> bool:
        # On the stream, then recorded (the worker appends the chunk, then writes its status
        # records in one pipeline, in order): the chunk's last record is the event.
        last = batch[CHUNK - 1].event.story_id
        return (
            await enriched_count(redis, settings) >= CHUNK
            and await status.read(redis, settings.keys, last) is not None
        )

    await until(first_chunk_out, 10, "the first chunk on the stream", interval=0.01)
    assert not handling.done()  # the rest of the batch is held back, the first chunk is out
    first = await status.read(redis, settings.keys, batch[0].event.story_id)
    assert first is not None
    assert first["status"]["stage"] == "enriched"
    enricher.release.set()
    assert await asyncio.wait_for(handling, timeout=10) == {}
    assert await enriched_count(redis, settings) == CHUNK + 2
    assert enricher.chunks == [CHUNK, 2]


async def test_a_story_leaves_while_the_rest_of_its_chunk_is_still_being_linked(
    settings: Settings, redis: RedisClient
) -> None:
    batch = entries(CHUNK)  # one chunk
    enricher = HeldLinks(settings, hold_story=batch[2].event.story_id)
    handling = asyncio.create_task(enrich_entries(batch, enricher, redis, settings.keys, WINDOW_MS))

    async def first_two_out() -> bool:
        return (
            await enriched_count(redis, settings) == 2
            and await status.read(redis, settings.keys, batch[1].event.story_id) is not None
        )

    await until(first_two_out, 10, "the chunk's first two stories on the stream", interval=0.01)
    assert not handling.done()  # the third is still being linked, the fourth waits behind it
    enricher.release.set()
    assert await asyncio.wait_for(handling, timeout=10) == {}
    read = await redis.xrange(settings.keys.enriched)
    assert [StoryEnriched.model_validate_json(decode_entry(fields)).story_id for _, fields in read] == [
        entry.event.story_id for entry in batch
    ]  # in the order they were read


async def test_a_failing_story_or_chunk_is_retried_alone_and_a_redelivery_appends_nothing_twice(
    settings: Settings, redis: RedisClient
) -> None:
    batch = entries(2 * CHUNK + 1)
    broken = HeldEnricher(
        settings, fail_story=batch[1].event.story_id, break_story=batch[CHUNK].event.story_id
    )
    failed = await enrich_entries(batch, broken, redis, settings.keys, WINDOW_MS)
    assert set(failed) == {batch[1].entry_id} | {entry.entry_id for entry in batch[CHUNK : 2 * CHUNK]}
    assert await enriched_count(redis, settings) == CHUNK  # the first chunk's others and the last one
    assert await status.read(redis, settings.keys, batch[1].event.story_id) is None

    again = await enrich_entries(batch, HeldEnricher(settings), redis, settings.keys, WINDOW_MS)
    assert again == {}
    assert await enriched_count(redis, settings) == 2 * CHUNK + 1  # nothing appended twice


async def test_the_next_chunk_is_tagged_while_this_one_is_linked_and_stories_leave_in_order(
    settings: Settings, redis: RedisClient
) -> None:
    batch = entries(3 * CHUNK)
    enricher = HeldLinks(settings, hold_story=batch[1].event.story_id)
    handling = asyncio.create_task(enrich_entries(batch, enricher, redis, settings.keys, WINDOW_MS))

    async def all_tagged() -> bool:
        return len(enricher.tagging) == 3

    # The first chunk's second story is held in linking; the later chunks are tagged meanwhile.
    await until(all_tagged, 10, "the later chunks tagged while the first is being linked", interval=0.01)
    assert await enriched_count(redis, settings) == 1  # only the story before the held one left
    enricher.release.set()
    assert await asyncio.wait_for(handling, timeout=10) == {}
    read = await redis.xrange(settings.keys.enriched)
    assert [StoryEnriched.model_validate_json(decode_entry(fields)).story_id for _, fields in read] == [
        entry.event.story_id for entry in batch
    ]  # links in batch order: no later chunk's story left before the held one
