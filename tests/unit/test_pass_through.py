"""Pass-through (tagging and related both off): enrich adds no enrichment and never touches
the story index, so the benchmarks' pass-through measures the framework, not an enricher."""

from __future__ import annotations

from typing import Any, cast

from services.enrich.pipeline import build_enricher
from shared.config import NewsroomConfig
from shared.connections import RedisClient
from shared.events import StoryReceived, utcnow
from shared.settings import Settings
from shared.story import Story


class NoRedis:
    """Any use of Redis is a failure: a pass-through enrich has nothing to read or write there."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"pass-through enrich used Redis: {name}")


async def test_pass_through_enrich_reads_and_writes_no_index() -> None:
    story = Story(partner="p", uri="u", headline="Truce", body_html="<p>Reuters said the truce held.</p>")
    event = StoryReceived(story_id=story.id, trace_id="t", received_at=utcnow(), story=story)
    settings = Settings(tagging=False, related=False)
    enricher = build_enricher(settings, NewsroomConfig(), cast(RedisClient, NoRedis()))
    assert enricher.linker is None
    assert enricher.tagger is None
    (passed,) = await enricher.enrich_batch([event])
    assert passed.related == passed.duplicates == []
    assert passed.people == passed.places == []


def test_related_links_are_on_unless_switched_off() -> None:
    assert Settings().related is True
    assert Settings(related=False).related is False
