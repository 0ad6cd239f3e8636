"""The enrichment pipeline: what enrich computes for a batch of received stories.

Composition of pure-ish stages, assembled once per process by `build_enricher`:
entity tags (batched through the NER model), related/duplicate links from the
shared Redis index, age and editor flags. Each stage is optional so the
pipeline also runs as a pass-through (benchmarks, or tagging switched off).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.enrich.enrichment import enrich
from shared.connections import RedisClient
from shared.events import Enrichment, StoryReceived, utcnow
from shared.settings import Settings


@dataclass
class Enricher:
    settings: Settings

    async def enrich_batch(self, received: Sequence[StoryReceived]) -> list[Enrichment]:
        now = utcnow()
        return [enrich(event.story, now) for event in received]


def build_enricher(settings: Settings, redis: RedisClient) -> Enricher:
    return Enricher(settings)
