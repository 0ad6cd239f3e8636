"""Every IPTC example news item is accepted with its facts intact; should-fail items are refused.

Runs over ../shared/data/iptc (NEWSROOM_SHARED_DATA); each test skips cleanly
when the folder is absent. Expected values are read from the raw files here,
independently of the parsers under test.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.ingest.formats import read_items
from services.ingest.items import ItemError, PayloadError, Reading
from services.ingest.schemas import NinjsSchemas
from shared.story import Story, make_story_id
from tests.conftest import SHARED_DATA, shared_data
from tests.helpers.g2 import has_words

NINJS = "iptc/ninjs/examples"
NEWSML = "iptc/newsml-g2/examples"
VALIDATION = "iptc/ninjs/validation/test_suite"
G2 = "{http://iptc.org/std/nar/2006-10-01/}"
NEWS_ROOTS = (f"{G2}newsItem", f"{G2}newsMessage")


def _listing(relative: str, pattern: str, keep: Any = lambda p: True) -> list[Any]:
    folder = SHARED_DATA / relative
    if not folder.is_dir():
        return [pytest.param(None, id="absent")]
    files = sorted(p for p in folder.glob(pattern) if keep(p))
    return [pytest.param(p, id=str(p.relative_to(folder))) for p in files]


def _ninjs_example(path: Path) -> bool:
    # The schema-extension folder holds a JSON *schema* and an item valid only under it.
    return "schema-extension" not in path.parts and path.parent.name != "collection"


def _news_xml(path: Path) -> bool:
    try:
        root = ET.parse(path).getroot()  # trusted IPTC fixture, read only to pick the news items
    except ET.ParseError:
        return False
    return root.tag in NEWS_ROOTS


@pytest.fixture(scope="module")
def schemas() -> NinjsSchemas:
    return NinjsSchemas.load(SHARED_DATA / "iptc/ninjs/specification")


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _words(markup: str) -> list[str]:
    return re.sub(r"<[^>]+>", " ", markup).split()[:6]


def _expected_ninjs(item: dict[str, Any]) -> dict[str, Any]:
    camel = any(k in item for k in ("versionCreated", "pubStatus", "firstCreated", "altIds"))
    headlines = item.get("headlines") or []
    main = [h["value"] for h in headlines if h.get("role") == "main"] or [h["value"] for h in headlines]
    headline = item.get("headline") or (main[0] if main else item.get("title", ""))
    bodies = item.get("bodies") or []
    flat = [item[k] for k in ("body_html", "body_text") if isinstance(item.get(k), str)]
    candidates = flat + [b["value"] for b in bodies if "nitf" not in str(b).lower()]
    return {
        "uri": item["uri"],
        "version": int(item.get("version", "1")),
        "headline": headline.strip(),
        "bodies": [_words(body) for body in candidates],
        # contentModified/contentCreated stand in when the item's own dates are absent.
        "versioncreated": _when(
            item.get("versionCreated" if camel else "versioncreated")
            or item.get("contentModified" if camel else "contentmodified")
        ),
        "firstcreated": _when(
            item.get("firstCreated" if camel else "firstcreated")
            or item.get("contentCreated" if camel else "contentcreated")
        ),
        "urgency": item.get("urgency"),
        "language": item.get("language"),
    }


def _assert_story(story: Story, expected: dict[str, Any], partner: str = "acme") -> None:
    assert story.uri == expected["uri"]
    assert story.id == make_story_id(partner, expected["uri"])
    assert story.version == expected["version"]
    assert story.headline == expected["headline"]
    assert story.versioncreated == expected["versioncreated"]
    assert story.firstcreated == expected["firstcreated"]
    assert story.urgency == expected["urgency"]
    assert story.language == expected["language"]
    text = " ".join(re.sub(r"<[^>]+>", " ", story.body_html).split())
    if expected["bodies"]:  # one of the item's bodies is kept (markup preferred over plain text)
        assert any(all(w in text for w in words) for words in expected["bodies"]), text[:200]


@pytest.mark.parametrize("path", _listing(NINJS, "**/*.json", _ninjs_example))
def test_every_ninjs_example_item_is_accepted_intact(path: Path | None, schemas: NinjsSchemas) -> None:
    if path is None:
        shared_data(NINJS)
        return
    raw = path.read_bytes()
    parsed = read_items(raw, "application/json", "acme", schemas, 256 * 1024)
    assert len(parsed.items) == 1
    item = parsed.items[0]
    assert item.error is None, f"refused: {item.error}"
    assert item.story is not None
    _assert_story(item.story, _expected_ninjs(json.loads(raw)))
    assert item.original == raw[: 256 * 1024]


@pytest.mark.parametrize("path", _listing(NEWSML, "*.xml", _news_xml))
def test_every_newsml_g2_example_news_item_is_accepted_intact(path: Path | None) -> None:
    if path is None:
        shared_data(NEWSML)
        return
    root = ET.parse(path).getroot()
    news_items = [root] if root.tag == f"{G2}newsItem" else root.findall(f"{G2}itemSet/{G2}newsItem")
    news_items = [e for e in news_items if has_words(e)]  # metadata-only skeletons are refused
    parsed = read_items(path.read_bytes(), "application/xml", "acme", NinjsSchemas(), 256 * 1024)
    guids = {e.get("guid") for e in news_items}
    stories = [p.story for p in parsed.items if p.story is not None and p.story.uri in guids]
    refused = [p.error for p in parsed.items if p.error]
    assert all("nothing to publish" in e.detail or "@guid" in e.where for e in refused), refused
    assert len(stories) == len(news_items)
    for element, story in zip(news_items, stories, strict=True):
        meta, content = element.find(f"{G2}itemMeta"), element.find(f"{G2}contentMeta")
        assert story.uri == element.get("guid")
        assert story.version == int(element.get("version", "1"))
        headline = content.find(f"{G2}headline") if content is not None else None
        expected = " ".join("".join(headline.itertext()).split()) if headline is not None else ""
        assert story.headline == expected
        created = meta.findtext(f"{G2}versionCreated") if meta is not None else None
        assert story.versioncreated == _when(created)
        embargo = meta.findtext(f"{G2}embargoed") if meta is not None else None
        assert story.embargoed == _when(embargo)
        urgency = content.findtext(f"{G2}urgency") if content is not None else None
        assert story.urgency == (int(urgency) if urgency else None)
        language = content.find(f"{G2}language") if content is not None else None
        lang = language.get("tag") if language is not None else None
        assert story.language == (lang or element.get("{http://www.w3.org/XML/1998/namespace}lang"))
        inline = element.find(f"{G2}contentSet/{G2}inlineXML")
        if inline is not None and "".join(inline.itertext()).strip():
            assert story.body_html, "an inline body must survive"


def test_a_news_message_of_skeletons_refuses_each_saying_why() -> None:
    path = shared_data(NEWSML) / "LISTING_24_News_Message_conveying_a_complete_News_Package.xml"
    parsed = read_items(path.read_bytes(), "application/xml", "acme", NinjsSchemas(), 4096)
    assert parsed.batch
    errors = [p.error for p in parsed.items]
    assert all(e is not None for e in errors)
    assert [e.where for e in errors if e] == [
        "/newsMessage/itemSet/packageItem[1]/@guid",
        *(f"/newsMessage/itemSet/newsItem[{n}]" for n in range(1, 5)),
    ]


def test_non_news_items_are_refused_naming_the_root() -> None:
    path = shared_data(NEWSML) / "LISTING_17_Planning_Item_a_CCL.xml"
    with pytest.raises(ItemError) as caught:
        read_items(path.read_bytes(), "application/xml", "acme", NinjsSchemas(), 4096)
    assert caught.value.where == "/planningItem"


def test_nitf_sample_is_accepted_with_its_identity_and_urgency() -> None:
    path = shared_data("iptc/ninjs/tools/xslt") / "NTB_nitf_sample.xml"
    parsed = read_items(path.read_bytes(), "application/nitf+xml", "acme", NinjsSchemas(), 4096)
    story = parsed.items[0].story
    assert story is not None
    assert story.uri == "NTB5df9281a-a270-4dc5-a618-869bbc3bbca7_00"
    assert story.version == 1
    assert story.urgency == 5
    assert story.versioncreated == datetime(2021, 5, 16, 9, 0, 4, tzinfo=UTC)
    assert story.headline.startswith("Pandemien herjer")
    assert "<p>" in story.body_html


def test_nitf_article_without_doc_id_is_refused_naming_it() -> None:
    path = shared_data(NEWSML) / "LISTING_2_NewsML-G2_Text_Document.xml"
    nitf = ET.parse(path).getroot().find(f"{G2}contentSet/{G2}inlineXML/*")
    assert nitf is not None
    parsed = read_items(ET.tostring(nitf), "application/nitf+xml", "acme", NinjsSchemas(), 4096)
    error = parsed.items[0].error
    assert error is not None
    assert error.where == "/nitf/head/docdata/doc-id/@id-string"


def _should_fail(path: Path) -> bool:
    return (
        path.parent.name == "should_fail" and re.fullmatch(r"\d+\.\d+", path.parent.parent.name) is not None
    )


@pytest.mark.parametrize("path", _listing(VALIDATION, "*/should_fail/*.json", _should_fail))
def test_iptc_should_fail_items_are_refused_for_a_strict_partner_naming_the_field(
    path: Path | None, schemas: NinjsSchemas
) -> None:
    if path is None:
        shared_data(VALIDATION)
        return
    version = path.parent.parent.name
    raw = path.read_bytes()
    media = f"application/vnd.iptc.ninjs+json; version={version}"
    if _is_json(raw):
        error = read_items(raw, media, Reading("acme", strict=True), schemas, 4096).items[0].error
        assert error is not None, "IPTC says this item must fail"
        assert error.where.startswith("/")
        assert len(error.where) > 1, error
        return
    with pytest.raises(PayloadError) as caught:  # a few of IPTC's items are not even JSON
        read_items(raw, media, Reading("acme", strict=True), schemas, 4096)
    assert caught.value.slug == "invalid-json"
    assert str(caught.value.where).startswith("line ")


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True
