"""Enrichment of one received story (pure): the section enrich adds before publishing."""

from __future__ import annotations

from datetime import datetime

from shared.events import Enrichment
from shared.story import Story


def age_in_days(story: Story, now: datetime) -> float | None:
    first = story.first_published()
    if first is None:
        return None
    return max(0.0, (now - first).total_seconds() / 86400)


def enrich(story: Story, now: datetime) -> Enrichment:
    return Enrichment(age_days=age_in_days(story, now))
