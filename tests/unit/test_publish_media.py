"""Media items and packages as outlets get them: ninjs renditions/associations, figures, Atom enclosures.

The stories are read from our agency fixtures with ingest's parsers, so the test follows
a picture and a package from the partner's file to the outlet's copy.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import jsonschema

from services.ingest.formats import read_items
from services.publish.atom import feed_xml
from services.publish.formats import to_html, to_ninjs, to_text
from shared.config import Outlet, OutletWording
from shared.events import StoryEnriched
from shared.story import Story
from tests.conftest import shared_data

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agency"
NOW = datetime(2024, 5, 1, 13, tzinfo=UTC)
OUTLET = Outlet(name="site", format="html", wording=OutletWording(footer="© The Daily Example"))


def _stories(name: str) -> list[Story]:
    parsed = read_items((FIXTURES / name).read_bytes(), "application/xml", "epa")
    return [item.story for item in parsed.items if item.story is not None]


def _enriched(story: Story) -> StoryEnriched:
    return StoryEnriched(story_id=story.id, trace_id="t", received_at=NOW, enriched_at=NOW, story=story)


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        shared_data("iptc/ninjs/specification/ninjs-schema_2.2.json").read_text()
    )
    return schema


def test_a_picture_keeps_its_type_renditions_and_caption_in_valid_ninjs() -> None:
    [picture] = _stories("g2-picture.xml")
    item = to_ninjs(_enriched(picture))
    jsonschema.Draft202012Validator(_schema()).validate(item)
    assert item["type"] == "picture"
    assert item["descriptions"][0]["role"] == "caption"
    assert item["renditions"][0] == {
        "name": "highRes",
        "href": "https://media.example/pic-1.jpg",
        "contenttype": "image/jpeg",
        "width": 3000,
        "height": 2000,
        "sizeinbytes": 2345678,
    }


def test_a_picture_is_a_figure_with_its_caption_and_credit() -> None:
    [picture] = _stories("g2-picture.xml")
    page = to_html(_enriched(picture), OUTLET, "This picture is more than 2 years old.")
    assert '<img src="https://media.example/pic-1.jpg" alt="Manifestation à Paris">' in page
    assert "<figcaption>Des manifestants défilent place de la République, à Paris, le 1er mai 2024. " in page
    assert "Photo: EPA/Jeanne Martin</figcaption>" in page
    assert page.index("age-banner") < page.index("<figure>") < page.index("outlet-footer")


def test_a_package_points_at_its_members_in_every_format() -> None:
    package, _member = _stories("g2-package-message.xml")
    enriched = _enriched(package)
    item = to_ninjs(enriched)
    jsonschema.Draft202012Validator(_schema()).validate(item)
    assert [(a["name"], a["uri"], a["type"]) for a in item["associations"]] == [
        ("member1", "urn:newsml:example.com:20240501:story-1", "text"),
        ("member2", "urn:newsml:epa.eu:20240501:pic-1", "picture"),
    ]
    assert item["associations"][1]["descriptions"][0]["role"] == "caption"
    page = to_html(enriched, OUTLET, None)
    assert '<p class="member">Thousands march in Paris</p>' in page  # a urn is no link
    assert '<figure class="member"><figcaption>Manifestation à Paris Des manifestants' in page
    assert "Thousands march in Paris: urn:newsml:example.com:20240501:story-1" in to_text(
        enriched, OUTLET, None
    )


def test_atom_entries_carry_a_media_items_files_as_enclosures() -> None:
    entry = {
        "story_id": "epa-1",
        "headline": "Manifestation à Paris",
        "updated": NOW.isoformat(),
        "published": NOW.isoformat(),
        "enclosures": [
            {"href": "https://media.example/pic-1.jpg", "type": "image/jpeg", "length": 2345678},
            {"href": "javascript:alert(1)", "type": "image/jpeg", "length": 1},
        ],
    }
    feed = ET.fromstring(feed_xml("site", "https://example/feed", [entry], NOW))
    links = feed.findall("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}link")
    enclosures = [link.attrib for link in links if link.get("rel") == "enclosure"]
    assert enclosures == [
        {
            "rel": "enclosure",
            "href": "https://media.example/pic-1.jpg",
            "type": "image/jpeg",
            "length": "2345678",
        }
    ]
