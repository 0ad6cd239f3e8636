"""Media items through enrich on a real Redis index: a picture is neither linked nor offered as related."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.enrich.pipeline import build_enricher
from shared.config import NewsroomConfig
from shared.connections import RedisClient
from shared.events import StoryReceived
from shared.settings import Settings
from shared.story import Rendition, Story

pytestmark = pytest.mark.integration

AT = datetime(2024, 5, 1, 12, tzinfo=UTC)
WORDS = (
    "Thousands of trade unionists marched through Paris on May Day, calling for higher wages "
    "and protesting against the pension reform of the French government."
)


def _received(story: Story) -> StoryReceived:
    return StoryReceived(story_id=story.id, trace_id="t", received_at=AT, story=story)


async def test_a_picture_gets_no_related_links_and_is_never_offered_as_one(
    settings: Settings, redis: RedisClient
) -> None:
    enricher = build_enricher(settings.model_copy(update={"tagging": False}), NewsroomConfig(), redis)
    first = Story(partner="a", uri="urn:text:1", firstcreated=AT, headline="May Day march in Paris",
                  body_html=f"<p>{WORDS}</p>", language="en")  # fmt: skip
    picture = Story(partner="a", uri="urn:pic:1", type="picture", firstcreated=AT, language="en",
                    headline="May Day march in Paris", description=WORDS,
                    renditions=[Rendition(name="web", href="https://media.example/1.jpg")])  # fmt: skip
    later = first.model_copy(update={"uri": "urn:text:2", "headline": "Paris May Day march ends"})
    [text_one] = await enricher.enrich_batch([_received(first)])
    [of_picture] = await enricher.enrich_batch([_received(picture)])
    [text_two] = await enricher.enrich_batch([_received(later)])
    assert text_one.related == []
    assert of_picture.related == []
    assert of_picture.duplicates == []
    linked = [link.uri for link in [*text_two.related, *text_two.duplicates]]
    assert "urn:pic:1" not in linked
    assert "urn:text:1" in linked  # the index works: the text stories do find each other
