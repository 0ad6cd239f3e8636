"""Related links and duplicates for a story, against the shared index.

`link_and_index` is enrich's step (earlier stories only, then index the story);
`related_to` answers editors' "what else do we have on this?" over the whole
index, earlier and later. Scoring is in `scoring`, storage in `index`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from services.enrich.related.features import IndexEntry, Rarity, analyse, weigh
from services.enrich.related.index import Candidates, IndexPolicy, PutOutcome, StoryIndex
from services.enrich.related.scoring import Policy, publish, rank, split_duplicates, to_duplicate, to_link
from shared.connections import RedisClient
from shared.events import RelatedLink
from shared.logging import get_logger
from shared.settings import Settings
from shared.story import EntityTag, Story

log = get_logger(__name__)

QUERY_TERMS = 32  # postings read per lookup for terms (entities: all the story's); as many as are posted


@dataclass(frozen=True)
class Links:
    related: list[RelatedLink] = field(default_factory=list)
    duplicates: list[RelatedLink] = field(default_factory=list)
    outcome: PutOutcome | None = None  # what indexing did ("stale": a newer version exists)


class RelatedLinker:
    def __init__(self, index: StoryIndex, *, k: int, window_days: float, policy: Policy = Policy()) -> None:
        self.index, self.k, self.window, self.policy = index, k, window_days * 86400.0, policy

    def query_weights(self, entry: IndexEntry, rarity: Rarity) -> dict[str, float]:
        """Posting key -> weight: the story's strongest terms and every entity, each unit length."""
        vector = rarity.vector(entry.terms)
        weights = {
            self.index.term_posting(entry.language, term): vector[term]
            for term in entry.word_terms(vector)[:QUERY_TERMS]
        }
        entities = rarity.entity_weights(entry.entities)
        norm = math.sqrt(sum(w * w for w in entities.values())) or 1.0
        for entity_id, weight in entities.items():
            weights[self.index.entity_posting(entry.language, entity_id)] = weight / norm
        return weights

    @staticmethod
    def rarity(known: Rarity, found: Candidates) -> Rarity:
        """The query's frequencies with the candidates' (one index, read moments apart)."""
        return Rarity({**found.df, **known.df}, known.docs)

    async def link_and_index(
        self, story: Story, tags: Iterable[EntityTag], *, received_at: datetime, now: datetime
    ) -> Links:
        """Earlier related stories and duplicates of `story`, then `story` into the index.

        A kill only removes: a dead story gets no links and is never offered again.
        """
        clock = now.timestamp()
        if story.pubstatus == "canceled":
            outcome = await self.index.kill(story.id, now=clock)
            log.info("related index: story removed", story_id=story.id, outcome=outcome)
            return Links(outcome=outcome)
        analysis = analyse(story, tags, received_at)
        df_fields = analysis.df_fields()
        prepared = await self.index.prepare(story.id, df_fields, now=clock)
        entry = weigh(analysis, prepared.rarity.df, prepared.rarity.docs)
        links = await self.links(entry, prepared.rarity, now=now)
        outcome = await self.index.put(entry, df_fields, now=clock, prepared=prepared)
        log.info(
            "related links",
            story_id=story.id,
            related=len(links.related),
            duplicates=len(links.duplicates),
            outcome=outcome,
        )
        return Links(related=links.related, duplicates=links.duplicates, outcome=outcome)

    async def links(self, entry: IndexEntry, rarity: Rarity, *, now: datetime) -> Links:
        """The read path: earlier related stories and duplicates of an entry (no writes)."""
        found = await self.index.candidates(
            entry,
            self.query_weights(entry, rarity),
            now=now.timestamp(),
            earlier_than=entry.first,
            since=entry.first - self.window,
        )
        related, duplicates = split_duplicates(entry, found.entries, self.rarity(rarity, found), self.policy)
        return Links(
            related=[to_link(s, entry.first) for s in publish(related, self.k, self.policy)],
            duplicates=[to_duplicate(d) for d in duplicates],
        )

    async def related_to(
        self,
        story_id: str,
        k: int,
        *,
        now: datetime,
        visible: Callable[[IndexEntry], bool] = lambda _: True,
    ) -> Links | None:
        """Best related stories across the whole index (earlier and later); None if not indexed.

        `visible` limits what may be asked about and offered (a partner sees only its own
        stories); an invisible story is answered as not indexed.
        """
        entry = await self.index.get(story_id)
        if entry is None or not visible(entry):
            return None
        known = await self.index.frequencies(entry.df_fields())
        found = await self.index.candidates(entry, self.query_weights(entry, known), now=now.timestamp())
        candidates = [c for c in found.entries if visible(c)]
        related, duplicates = split_duplicates(entry, candidates, self.rarity(known, found), self.policy)
        return Links(
            related=[to_link(s, entry.first) for s in rank(related, k, self.policy)],
            duplicates=[to_duplicate(d) for d in duplicates],
        )


def configured_linker(redis: RedisClient, settings: Settings) -> RelatedLinker:
    """The index and linker as Settings say (enrich's worker and the related API share them)."""
    index = StoryIndex(redis, settings.keys, IndexPolicy(ttl_seconds=settings.index_ttl_days * 86400.0))
    return RelatedLinker(index, k=settings.related_k, window_days=settings.related_window_days)
