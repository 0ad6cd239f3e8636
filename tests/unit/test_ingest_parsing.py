"""Parsing and normalising hostile and tricky payloads (pure: no Redis, no HTTP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from services.ingest.formats import Parsed, read_items
from services.ingest.items import ItemError, PayloadError
from services.ingest.ninjs import detect_version
from services.ingest.schemas import NinjsSchemas

NO_SCHEMAS = NinjsSchemas()


def _read(body: bytes | str, content_type: str = "application/json") -> Parsed:
    raw = body.encode() if isinstance(body, str) else body
    return read_items(raw, content_type, "acme", NO_SCHEMAS, 64 * 1024)


def _one_error(body: bytes | str, content_type: str = "application/json") -> ItemError:
    error = _read(body, content_type).items[0].error
    assert error is not None
    return error


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="g"><contentMeta>
<headline>&lol3;</headline></contentMeta></newsItem>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE newsItem [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="g"><contentMeta>
<headline>&secret;</headline></contentMeta></newsItem>"""


def _news_item(meta: str = "", content: str = "<headline>H</headline>", body: str = "") -> str:
    return (
        '<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:g:1" version="2">'
        f"<itemMeta>{meta}</itemMeta><contentMeta>{content}</contentMeta>"
        f'<contentSet><inlineXML contenttype="application/xhtml+xml">{body}</inlineXML></contentSet>'
        "</newsItem>"
    )


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "external-entity"])
def test_entity_expansion_and_external_entities_are_refused_not_expanded(payload: str) -> None:
    with pytest.raises(PayloadError) as caught:
        _read(payload, "application/xml")
    assert caught.value.slug == "xml-forbidden"
    assert "lol" not in caught.value.detail
    assert "root:" not in caught.value.detail


def test_a_plain_doctype_without_entities_is_accepted_and_nothing_is_fetched() -> None:
    doc = '<?xml version="1.0"?><!DOCTYPE nitf SYSTEM "http://127.0.0.1:9/nitf.dtd">' + (
        '<nitf><head><docdata><doc-id id-string="n-1"/></docdata></head>'
        "<body><body.head><hedline><hl1>Hi</hl1></hedline></body.head>"
        "<body.content><p>Text</p></body.content></body></nitf>"
    )
    story = _read(doc, "application/nitf+xml").items[0].story
    assert story is not None
    assert (story.uri, story.headline, story.body_html) == ("n-1", "Hi", "<p>Text</p>")


def test_malformed_xml_is_a_payload_error_with_line_and_column() -> None:
    with pytest.raises(PayloadError) as caught:
        _read("<newsItem>\n<itemMeta></newsItem>", "application/xml")
    assert caught.value.slug == "invalid-xml"
    assert caught.value.where == "line 2, column 13"


def test_invalid_utf8_json_names_the_byte() -> None:
    with pytest.raises(PayloadError) as caught:
        _read(b'{"uri": "a", "headline": "caf\xe9"}')
    assert caught.value.slug == "invalid-encoding"
    assert caught.value.where == "byte 29"


def test_invalid_utf8_in_xml_is_refused() -> None:
    with pytest.raises(PayloadError) as caught:
        _read(_news_item(content="<headline>caf\xe9</headline>").encode("latin-1"), "application/xml")
    assert caught.value.slug == "invalid-xml"


def test_deeply_nested_json_is_a_payload_error_not_a_crash() -> None:
    with pytest.raises(PayloadError):
        _read("[" * 100_000 + "]" * 100_000)


def test_script_laden_html_is_sanitised_in_every_format() -> None:
    evil = (
        '<p onclick="steal()">Hello <a href="javascript:alert(1)">x</a>'
        '<script>alert(1)</script><img src="x" onerror="alert(2)"/></p><iframe src="//evil"></iframe>'
    )
    item = {"uri": "u", "bodies": [{"contenttype": "text/html", "value": evil}]}
    stories = [
        _read(json.dumps(item)).items[0].story,
        _read(json.dumps({"uri": "u", "body_html": evil})).items[0].story,
        _read(_news_item(body=f"<html><body>{evil}</body></html>"), "application/xml").items[0].story,
    ]
    for story in stories:
        assert story is not None
        body = story.body_html.lower()
        assert "hello" in body
        for bad in ("<script", "onclick", "onerror", "javascript:", "<iframe", "alert(1)"):
            assert bad not in body, (bad, body)


@pytest.mark.parametrize(
    ("payload", "content_type", "where"),
    [
        ({"uri": "u", "headlines": [{"value": "h"}], "embargoed": "Last Tuesday"}, "json", "/embargoed"),
        ({"uri": "u", "pubStatus": "usable", "embargoedUntil": "Last Tuesday"}, "json", "/embargoedUntil"),
        (
            _news_item(meta="<embargoed>Last Tuesday</embargoed>"),
            "xml",
            "/newsItem/itemMeta/embargoed",
        ),
        (
            '<nitf><head><docdata><doc-id id-string="n"/><date.release norm="Last Tuesday"/>'
            "</docdata></head><body><body.head><hedline><hl1>H</hl1></hedline></body.head></body></nitf>",
            "xml",
            "/nitf/head/docdata/date.release/@norm",
        ),
    ],
)
def test_an_unreadable_embargo_refuses_the_item_naming_the_field(
    payload: Any, content_type: str, where: str
) -> None:
    body = json.dumps(payload) if content_type == "json" else payload
    error = _one_error(body, "application/json" if content_type == "json" else "application/xml")
    assert error.where == where
    assert "embargo must be readable" in error.detail


@pytest.mark.parametrize(
    ("payload", "content_type", "where"),
    [
        ({"uri": "u", "headline": "h", "versioncreated": "Last Tuesday"}, "json", "/versioncreated"),
        ({"uri": "u", "headlines": [{"value": "h"}], "expires": "soon"}, "json", "/expires"),
        ({"uri": "u", "headline": "h", "firstCreated": "2024-13-45T99:00:00Z"}, "json", "/firstCreated"),
        (
            _news_item(meta="<versionCreated>gestern</versionCreated>"),
            "xml",
            "/newsItem/itemMeta/versionCreated",
        ),
        (
            '<nitf><head><docdata><doc-id id-string="n"/><date.issue norm="YYYYMMDD000000-HHMM"/>'
            "</docdata></head><body><body.head><hedline><hl1>H</hl1></hedline></body.head></body></nitf>",
            "xml",
            "/nitf/head/docdata/date.issue/@norm",
        ),
    ],
)
def test_other_unreadable_dates_are_dropped_with_a_warning_naming_the_field(
    payload: Any, content_type: str, where: str
) -> None:
    body = json.dumps(payload) if content_type == "json" else payload
    item = _read(body, "application/json" if content_type == "json" else "application/xml").items[0]
    assert item.story is not None
    assert item.error is None
    assert [w.field for w in item.warnings] == [where]
    assert "dropped" in item.warnings[0].action


def test_dates_are_normalised_to_aware_utc_or_offset() -> None:
    body = {"uri": "u", "headline": "h", "versioncreated": "2024-05-01T12:00:00", "embargoed": "2024-05-02"}
    item = _read(json.dumps(body)).items[0]
    story = item.story
    assert story is not None
    assert story.versioncreated == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert story.embargoed == datetime(2024, 5, 2, tzinfo=UTC)
    assert [w.field for w in item.warnings] == ["/versioncreated", "/embargoed"]
    assert all("read as UTC" in w.action for w in item.warnings)


@pytest.mark.parametrize(
    ("item", "version"),
    [
        ({"uri": "u", "headline": "h", "body_html": "<p>b</p>"}, "1"),
        ({"uri": "u", "headlines": [{"value": "h"}]}, "2"),
        ({"uri": "u", "versionCreated": "2024-01-01T00:00:00Z"}, "3"),
        ({"uri": "u", "standard": {"name": "ninjs", "version": "2.1"}}, "2.1"),
        ({"uri": "u", "$standard": {"name": "ninjs", "version": "1.4"}}, "1.4"),
    ],
)
def test_ninjs_version_is_detected_from_the_payload(item: dict[str, Any], version: str) -> None:
    assert detect_version(item) == version


def test_ninjs3_fields_map_onto_the_story() -> None:
    item = {
        "uri": "urn:x",
        "version": "4",
        "pubStatus": "withheld",
        "embargoedUntil": "2030-01-01T00:00:00Z",
        "expires": "2030-02-01T00:00:00+01:00",
        "urgency": 2,
        "language": "sv",
        "headlines": [{"role": "sub", "value": "Sub"}, {"role": "main", "value": "Main"}],
        "by": "Writer",
    }
    story = _read(json.dumps(item)).items[0].story
    assert story is not None
    assert story.pubstatus == "withheld"
    assert story.embargoed == datetime(2030, 1, 1, tzinfo=UTC)
    assert story.expires is not None
    assert story.expires.utcoffset() is not None
    assert (story.version, story.urgency, story.language, story.headline, story.byline) == (
        4,
        2,
        "sv",
        "Main",
        "Writer",
    )


def test_an_item_without_an_identifier_or_a_readable_version_is_refused() -> None:
    # The version registry decides new/update/duplicate on it: guessing could drop an update.
    assert _one_error(json.dumps({"headline": "no id"})).where == "/uri"
    assert _one_error(json.dumps({"uri": "u", "headline": "h", "version": "two"})).where == "/version"


def test_an_item_with_neither_headline_nor_body_is_refused_saying_where_we_looked() -> None:
    error = _one_error(json.dumps({"uri": "u", "headline": " ", "body_html": "<p> </p>"}))
    assert error.where == "/"
    assert "headlines[]" in error.detail
    assert "body_html" in error.detail


@pytest.mark.parametrize(
    ("item", "where", "kept"),
    [
        ({"uri": "u", "headline": "h", "urgency": 12}, "/urgency", ("urgency", None)),
        ({"uri": "u", "headline": "h", "pubstatus": "cancelled"}, "/pubstatus", ("pubstatus", "usable")),
        ({"uri": "u", "headline": "h", "headlines": "not-an-array"}, "/headlines", ("headline", "h")),
        ({"uri": "u", "headline": "h", "language": 7}, "/language", ("language", None)),
    ],
)
def test_a_broken_optional_field_is_dropped_with_a_warning(
    item: dict[str, Any], where: str, kept: tuple[str, Any]
) -> None:
    parsed = _read(json.dumps(item)).items[0]
    assert parsed.story is not None
    assert getattr(parsed.story, kept[0]) == kept[1]
    assert [w.field for w in parsed.warnings] == [where]


def test_ndjson_and_json_arrays_are_batches_with_per_item_errors() -> None:
    lines = [
        json.dumps({"uri": "a", "headline": "A"}),
        "",
        json.dumps({"uri": "b", "headline": "B", "embargoed": "Last Tuesday"}),
    ]
    parsed = _read("\n".join(lines), "application/x-ndjson")
    assert parsed.batch
    assert parsed.items[0].story is not None
    assert parsed.items[1].error is not None
    assert parsed.items[1].error.where == "/embargoed"
    array = _read(
        json.dumps([{"uri": "a", "headline": "A"}, {"uri": "b"}, {"uri": "c", "headline": "C", "urgency": 0}])
    )
    assert array.batch
    assert array.items[1].error is not None
    assert array.items[1].error.where == "/1"
    assert array.items[2].story is not None
    assert [w.field for w in array.items[2].warnings] == ["/2/urgency"]


def test_original_payload_is_kept_but_bounded() -> None:
    body = json.dumps({"uri": "u", "body_html": "<p>" + "x" * 10_000 + "</p>"}).encode()
    item = read_items(body, "application/json", "acme", NO_SCHEMAS, 1000).items[0]
    assert item.original == body[:1000]


def test_withheld_and_canceled_newsml_status_and_embargo_are_carried() -> None:
    meta = '<embargoed>2030-01-01T00:00:00Z</embargoed><pubStatus qcode="stat:canceled"/>'
    story = _read(_news_item(meta=meta), "application/xml").items[0].story
    assert story is not None
    assert story.pubstatus == "canceled"
    assert story.embargoed == datetime(2030, 1, 1, tzinfo=UTC)


def test_a_2x_item_with_1x_flat_fields_keeps_them_when_no_schema_refuses_it() -> None:
    item = {"uri": "u", "headlines": [{"value": "H"}], "byline": "Wire", "body_html": "<p>B</p>"}
    story = _read(json.dumps(item)).items[0].story
    assert story is not None
    assert (story.headline, story.byline, story.body_html) == ("H", "Wire", "<p>B</p>")
