"""Every IPTC example news item POSTed to the real ingest app lands on the stream intact."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from shared.connections import RedisClient
from shared.settings import Settings
from tests.conftest import shared_data
from tests.helpers.g2 import has_words
from tests.integration.ingest_support import KEY_A1, bearer, ingest_client, ingest_settings, received
from tests.unit.test_ingest_iptc_fixtures import G2, NEWS_ROOTS

pytestmark = pytest.mark.integration


async def test_all_ninjs_examples_are_accepted_over_http(settings: Settings, redis: RedisClient) -> None:
    folder = shared_data("iptc/ninjs/examples")
    files = sorted(
        p
        for p in folder.glob("[0-9]*/*.json")  # schema-extension/ and collection/ are not news items
    )
    assert len(files) > 20
    sent: dict[str, str] = {}
    async with ingest_client(ingest_settings(settings)) as client:
        for path in files:
            item = json.loads(path.read_bytes())
            content_type = "application/vnd.iptc.ninjs+json"
            response = await client.post(
                "/v1/stories",
                content=path.read_bytes(),
                headers={**bearer(KEY_A1), "Content-Type": content_type},
            )
            # The 2.1 and 3.0 folders hold the same items in two generations: the second is a duplicate.
            assert response.status_code in (200, 202), (path.name, response.text)
            if response.status_code == 202:
                sent[item["uri"]] = path.name
    stories = await received(redis, settings.keys.received_lane("alpha")) + await received(
        redis, settings.keys.received_priority
    )
    assert sorted(e.story.uri for e in stories) == sorted(sent)


async def test_all_newsml_g2_news_items_are_accepted_over_http(
    settings: Settings, redis: RedisClient
) -> None:
    folder = shared_data("iptc/newsml-g2/examples")
    expected: dict[str, str] = {}
    async with ingest_client(ingest_settings(settings)) as client:
        for path in sorted(folder.glob("*.xml")):
            root = ET.parse(path).getroot()  # trusted fixture, read only to choose the news items
            if root.tag not in NEWS_ROOTS:
                continue
            items = [root] if root.tag == f"{G2}newsItem" else root.findall(f"{G2}itemSet/{G2}newsItem")
            items += root.findall(f"{G2}itemSet/{G2}packageItem")
            response = await client.post(
                "/v1/stories",
                content=path.read_bytes(),
                headers={**bearer(KEY_A1), "Content-Type": "application/xml"},
            )
            if root.tag == f"{G2}newsItem" and not has_words(root):
                # A metadata-only skeleton is refused, saying where ingest looked for words.
                assert response.status_code == 422, (path.name, response.text)
                assert "nothing to publish" in response.json()["detail"]
                continue
            assert response.status_code in (200, 202), (path.name, response.text)
            for element in items:
                if not has_words(element) and element.find(f"{G2}groupSet") is None:
                    continue
                headline = element.find(f"{G2}contentMeta/{G2}headline")
                text = " ".join("".join(headline.itertext()).split()) if headline is not None else ""
                # Several listings reuse one guid and version: the first copy is the story,
                # later ones are duplicates (answered 200, not forwarded).
                expected.setdefault(str(element.get("guid")), text)
    stories = await received(redis, settings.keys.received_lane("alpha")) + await received(
        redis, settings.keys.received_priority
    )
    assert sorted((e.story.uri, e.story.headline) for e in stories) == sorted(expected.items())
