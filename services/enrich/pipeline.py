"""The enrichment pipeline: what enrich computes for a batch of received stories.

Composition of pure-ish stages, assembled once per process by `build_enricher`:
entity tags (batched through the NER model), related/duplicate links from the
shared Redis index, age and editor flags. Each stage is optional so the
pipeline also runs as a pass-through (benchmarks: tagging and related both switched off).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from services.enrich.enrichment import enrich
from services.enrich.related.linker import RelatedLinker, configured_linker
from services.enrich.tagging import Tagger, Tags
from services.enrich.tagging.model import load_tagger
from shared.age import editor_flags, story_age_label
from shared.config import NewsroomConfig
from shared.connections import RedisClient
from shared.events import Enrichment, StoryReceived, utcnow
from shared.settings import Settings
from shared.story import Story

Done = Callable[[int, Enrichment | Exception], None]
"""Told each story's final result (its index in the batch) as soon as it has one."""


@dataclass
class Tagged:
    """A chunk between the two steps: tagged (or failed), not yet linked."""

    now: datetime  # one clock reading for the chunk's age labels and links
    results: list[Enrichment | Exception]


@dataclass
class Enricher:
    settings: Settings
    exempt_genres: Sequence[str]  # the config's, as publish uses them: page and outlets agree
    linker: RelatedLinker | None = None
    tagger: Tagger | None = None
    clock: Callable[[], datetime] = field(default=utcnow)
    # The chunks of every stream (each partner's lane, the priority stream) take turns at the
    # tagger: asyncio.Lock wakes its waiters in order, so a story waits for at most one chunk
    # of each other busy stream, however deep their backlogs (the worker sends chunks of 4).
    turns: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def enrich_batch(self, received: Sequence[StoryReceived]) -> list[Enrichment]:
        """`enrich_each`, raising the first story's failure (for callers that expect none)."""
        results = await self.enrich_each(received)
        for result in results:
            if isinstance(result, Exception):
                raise result
        return cast(list[Enrichment], results)

    async def enrich_each(
        self, received: Sequence[StoryReceived], done: Done | None = None
    ) -> list[Enrichment | Exception]:
        """Each story's enrichment, or the error that stopped it: one story's problem is its own,
        never its batch's (the worker retries and dead-letters that story alone).

        `done(i, result)` is called for each story, in order, as soon as its result is final
        (after its links), so the worker can send it on while the batch's later stories are
        still being linked.
        """
        return await self.link_each(received, await self.tag_each(received), done)

    async def tag_each(self, received: Sequence[StoryReceived]) -> Tagged:
        """The first step of `enrich_each`: every story's enrichment without links (CPU)."""
        now = self.clock()
        results: list[Enrichment | Exception] = [_attempt(enrich, event.story, now) for event in received]
        if self.tagger is not None:
            # One nlp.pipe per call, off the event loop (CPU-bound); killed stories get no tags.
            todo = [i for i, result in enumerate(results) if isinstance(result, Enrichment)]
            async with self.turns:
                batch = await asyncio.to_thread(_tag_each, self.tagger, [received[i].story for i in todo])
            for i, tags in zip(todo, batch, strict=True):
                enrichment = results[i]
                if isinstance(tags, Exception) or isinstance(enrichment, Exception):
                    results[i] = tags if isinstance(tags, Exception) else enrichment
                    continue
                enrichment.people, enrichment.organisations = tags.people, tags.organisations
                enrichment.places, enrichment.events = tags.places, tags.events
        return Tagged(now, results)

    async def link_each(
        self, received: Sequence[StoryReceived], tagged: Tagged, done: Done | None = None
    ) -> list[Enrichment | Exception]:
        """The second step of `enrich_each`: links and flags (mostly waiting on the index).

        Links use the entity tags, so they come after tagging; one story at a time, in
        arrival order, so a story can link to one earlier in the same batch.
        """
        results = tagged.results
        for i, (event, result) in enumerate(zip(received, results, strict=True)):
            if isinstance(result, Enrichment):
                try:
                    await self.link_and_flag(event, result, tagged.now)
                except Exception as exc:
                    results[i] = exc
            if done is not None:
                done(i, results[i])
        return results

    async def link_and_flag(self, event: StoryReceived, enrichment: Enrichment, now: datetime) -> None:
        """Related links, duplicates, the story into the index; then age label and editor flags."""
        story = event.story
        superseded = False
        # A picture or video is not copy: linking it would pair every photo of an event
        # with every story about it ("related" noise), and it would be offered as related.
        if self.linker is not None and not story.is_media:
            tags = [*enrichment.people, *enrichment.organisations, *enrichment.places, *enrichment.events]
            links = await self.linker.link_and_index(story, tags, received_at=event.received_at, now=now)
            enrichment.related, enrichment.duplicates = links.related, links.duplicates
            superseded = links.outcome == "stale"  # the index already holds a newer version
        label = story_age_label(story, now, exempt_genres=self.exempt_genres)
        enrichment.age_label = label.phrase if label else None
        enrichment.flags = editor_flags(
            story,
            now,
            superseded=superseded,
            received_at=event.received_at,
            stale_after=timedelta(hours=self.settings.stale_after_hours),
        )


def _attempt(
    step: Callable[[Story, datetime], Enrichment], story: Story, now: datetime
) -> Enrichment | Exception:
    try:
        return step(story, now)
    except Exception as exc:
        return exc


def _tag_each(tagger: Tagger, stories: list[Story]) -> list[Tags | Exception]:
    """The batch through one `tag_many`; when that fails, each story alone, so only the
    story at fault fails and the batch's others keep their tags."""
    try:
        return list(tagger.tag_many(stories))
    except Exception:
        if len(stories) == 1:
            raise
    found: list[Tags | Exception] = []
    for story in stories:
        try:
            found.extend(tagger.tag_many([story]))
        except Exception as exc:
            found.append(exc)
    return found


def build_enricher(settings: Settings, config: NewsroomConfig, redis: RedisClient) -> Enricher:
    linker = configured_linker(redis, settings) if settings.related else None
    tagger = load_tagger(settings) if settings.tagging else None
    return Enricher(settings, config.exempt_genres, linker=linker, tagger=tagger)
