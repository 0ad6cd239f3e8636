"""Formatting for outlets: ninjs 2.2 against IPTC's schema, the HTML article, plain text, webhook body."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest

from services.publish.formats import body_paragraphs, related_slots, render, to_html, to_ninjs, to_text
from shared.config import Outlet, OutletWording
from shared.events import Enrichment, RelatedLink, StoryEnriched
from shared.story import EntityTag, Picture, Story, Subject
from tests.conftest import shared_data

NOW = datetime(2026, 4, 5, 12, 0, tzinfo=UTC)


def ceasefire(**overrides: Any) -> StoryEnriched:
    fields: dict[str, Any] = dict(
        partner="wire",
        uri="urn:wire:ceasefire",
        version=2,
        firstcreated=datetime(2016, 4, 5, 9, 0, tzinfo=UTC),
        versioncreated=datetime(2016, 4, 5, 10, 0, tzinfo=UTC),
        urgency=3,
        language="en",
        headline="A Ceasefire Has Been Declared in Nagorno-Karabakh",
        description="Dozens have been killed on both sides during the recent flare-up.",
        body_html="<p>Azerbaijan and the breakaway region said on Tuesday they were halting hostilities.</p>"
        "<p>Reuters was not immediately able to verify whether the fighting had stopped.</p>"
        "<p>Dozens have been killed on both sides.</p>"
        "<p>The ceasefire announcement came as European countries urged an end to the fighting.</p>",
        byline="Reuters",
        located="Baku",
        genres=["news"],
        subjects=[
            Subject(
                name="armed conflict",
                code="medtop:16000000",
                uri="http://cv.iptc.org/newscodes/mediatopic/16000000",
            )
        ],
        pictures=[
            Picture(
                uri="https://img.example/artillery.jpg",
                caption="Une position d'artillerie arménienne. Le 3 avril 2016.",
                credit="Vahram Baghdasaryan/EPA",
            )
        ],
    )
    story = Story(**{**fields, **overrides})
    enrichment = Enrichment(
        places=[
            EntityTag(name="Azerbaijan", uri="https://www.geonames.org/587116", kind="place", relevance=0.9),
            EntityTag(name="Nagorno-Karabakh", literal="nagorno-karabakh", kind="place"),
        ],
        people=[EntityTag(name="Ahmet Davutoglu", uri="https://www.wikidata.org/wiki/Q44379", kind="person")],
        organisations=[EntityTag(name="Minsk Group", literal="minsk-group", kind="organisation")],
        related=[
            RelatedLink(
                story_id="wire-1",
                uri="https://news.example/putin-armenia",
                headline="Putin Tells Armenia and Azerbaijan to Cool It After Fighting Erupts",
                score=0.8,
            ),
            RelatedLink(
                story_id="wire-2",
                uri="https://news.example/unrecognized-nation",
                headline="The Unrecognized Nation of the Nagorno-Karabakh Republic Faces an Uncertain Future",
                score=0.7,
            ),
        ],
    )
    return StoryEnriched(
        story_id=story.id,
        trace_id="t",
        received_at=NOW,
        enriched_at=NOW,
        story=story,
        enrichment=enrichment,
        received_as="update",
    )


VICE = Outlet(
    name="vice",
    format="html",
    wording=OutletWording(
        age_sentence="This story is over {age} old.", footer="Follow VICE News on Twitter: @vicenews"
    ),
)


@pytest.fixture(scope="module")
def ninjs_schema() -> dict[str, Any]:
    path = shared_data("iptc/ninjs/specification/ninjs-schema_2.2.json")
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def test_ninjs_output_validates_against_the_iptc_2_2_schema(ninjs_schema: dict[str, Any]) -> None:
    item = to_ninjs(ceasefire())
    jsonschema.Draft202012Validator(ninjs_schema, format_checker=jsonschema.FormatChecker()).validate(item)
    assert item["by"] == "Reuters"
    assert [p["name"] for p in item["places"]] == ["Azerbaijan", "Nagorno-Karabakh"]
    assert item["people"][0]["uri"] == "https://www.wikidata.org/wiki/Q44379"
    assert [a["name"] for a in item["associations"]] == ["related1", "related2", "picture1"]
    assert item["subjects"][0]["literal"] == "medtop:16000000"


def test_a_minimal_and_a_killed_item_validate_too(ninjs_schema: dict[str, Any]) -> None:
    bare = StoryEnriched(
        story_id="wire-x",
        trace_id="t",
        received_at=NOW,
        enriched_at=NOW,
        story=Story(partner="wire", uri="urn:x", pubstatus="canceled", version=0),
        received_as="kill",
    )
    jsonschema.Draft202012Validator(ninjs_schema).validate(to_ninjs(bare))


def test_the_schema_really_rejects_what_ninjs_2_2_does_not_know(ninjs_schema: dict[str, Any]) -> None:
    item = {**to_ninjs(ceasefire()), "byline": "Reuters"}  # 2.2 calls it "by"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(ninjs_schema).validate(item)


def test_html_article_has_the_shape_of_the_published_sample() -> None:
    page = to_html(ceasefire(), VICE, "This story is over 10 years old.")
    order = [
        '<p class="age-banner" role="note">This story is over 10 years old.</p>',
        "<h1>A Ceasefire Has Been Declared in Nagorno-Karabakh</h1>",
        '<p class="standfirst">Dozens have been killed',
        '<span class="byline">By Reuters</span> · <span class="dateline">BAKU</span>',
        "<figcaption>Une position d&#x27;artillerie arménienne. Le 3 avril 2016. Photo: Vahram",
        "<p>Azerbaijan and the breakaway region",
        'Related: <a href="https://news.example/putin-armenia">Putin Tells Armenia',
        "<p>Dozens have been killed on both sides.</p>",
        'Related: <a href="https://news.example/unrecognized-nation">',
        "<p>The ceasefire announcement",
        '<p class="outlet-footer">Follow VICE News on Twitter: @vicenews</p>',
    ]
    positions = [page.index(fragment) for fragment in order]
    assert positions == sorted(positions)


def test_html_escapes_story_text_and_omits_the_banner_when_young() -> None:
    event = ceasefire(headline='<script>alert("x")</script> & more')
    page = to_html(event, Outlet(name="o", format="html"), None)
    assert "<script>alert" not in page
    assert "&lt;script&gt;" in page
    assert "age-banner" not in page


def test_byline_style_is_the_outlets() -> None:
    plain = Outlet(name="o", wording=OutletWording(byline_style="plain"))
    none = Outlet(name="o", wording=OutletWording(byline_style="none"))
    assert '<span class="byline">Reuters</span>' in to_html(ceasefire(), plain, None)
    assert 'class="byline"' not in to_html(ceasefire(), none, None)


def test_plain_text_reads_like_the_sample() -> None:
    text = to_text(ceasefire(), VICE, "This story is over 10 years old.")
    blocks = text.strip().split("\n\n")
    assert blocks[0] == "This story is over 10 years old."
    assert blocks[1] == "A Ceasefire Has Been Declared in Nagorno-Karabakh"
    assert blocks[3].startswith("Une position d'artillerie")
    assert blocks[4] == "By Reuters · BAKU"
    assert "Related: Putin Tells Armenia and Azerbaijan to Cool It After Fighting Erupts" in blocks
    assert blocks[-1] == "Follow VICE News on Twitter: @vicenews"
    assert "<p>" not in text


def test_kill_notices_in_every_format() -> None:
    killed = ceasefire(pubstatus="canceled")
    assert "KILL: this story has been withdrawn" in to_html(killed, VICE, None)
    assert to_text(killed, VICE, None).startswith("KILL:")
    assert to_ninjs(killed)["pubstatus"] == "canceled"


def test_render_picks_the_outlet_format_and_keeps_the_html_for_editors() -> None:
    text_outlet = Outlet(name="t", format="text")
    rendition = render(ceasefire(), text_outlet, None, ["URGENT"])
    assert isinstance(rendition.item, str)
    assert rendition.content_type.startswith("text/plain")
    assert rendition.html.startswith("<!doctype html>")
    assert rendition.file_body().decode() == rendition.item


def test_related_links_spread_through_the_body_never_before_the_first_paragraph() -> None:
    assert related_slots(4, 2) == [2, 3]
    assert related_slots(12, 2) == [5, 9]
    assert related_slots(1, 1) == [1]
    assert related_slots(0, 2) == [0, 0]
    assert related_slots(5, 0) == []


def test_body_paragraphs_keep_text_and_drop_markup() -> None:
    body = "<p>One <b>bold</b> line.</p><ul><li>a</li><li>b</li></ul><p>Two<br>lines</p>"
    assert body_paragraphs(body) == ["One bold line.", "ab", "Two\nlines"]


def test_atom_feed_is_well_formed_with_one_entry_per_story() -> None:
    from xml.etree import ElementTree

    from services.publish.atom import feed_xml

    entries = [
        {
            "story_id": "wire-1",
            "uri": "urn:wire:1",
            "type": "story.killed",
            "headline": "Ceasefire <declared>",
            "summary": "A & B",
            "html": "<p>Body</p>",
            "updated": NOW.isoformat(),
            "published": NOW.isoformat(),
            "author": "Reuters",
        }
    ]
    root = ElementTree.fromstring(feed_xml("site", "http://publish/feeds/site.atom", entries, NOW))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    (entry,) = root.findall("a:entry", ns)
    assert entry.findtext("a:title", namespaces=ns) == "KILL: Ceasefire <declared>"
    assert entry.findtext("a:id", namespaces=ns) == "urn:newsroom:story:wire-1"
    assert entry.findtext("a:content", namespaces=ns) == "<p>Body</p>"
