"""Inputs the campaign found that used to escape as 500s, kept as plain regression tests."""

from __future__ import annotations

import json

import pytest

from services.ingest.dates import read_datetime
from services.ingest.formats import read_items
from services.ingest.items import PayloadError, Reading
from services.ingest.schemas import NinjsSchemas


@pytest.mark.parametrize(
    ("declared", "standard"),
    [(None, "2024-05-01T10:00:00"), (None, "20"), (None, ""), ("7", None), ("1x", None), ("", None)],
)
def test_a_version_that_is_no_ninjs_version_is_no_declaration(
    declared: str | None, standard: str | None
) -> None:
    item: dict[str, object] = {"uri": "urn:f:1", "headlines": [{"role": "main", "value": "H"}]}
    if standard is not None:
        item["standard"] = {"version": standard}
    content_type = "application/json" + (f"; version={declared}" if declared is not None else "")
    parsed = read_items(json.dumps(item).encode(), content_type, "p", NinjsSchemas(), 0)
    (only,) = parsed.items
    assert only.story is not None, only.error
    assert only.source_format == "ninjs2"  # read from its field names (headlines[])


def test_an_unknown_xml_encoding_is_a_payload_error() -> None:
    body = b'<?xml version="1.0" encoding="UTB-8"?><nitf><head/></nitf>'
    with pytest.raises(PayloadError, match="UTB-8"):
        read_items(body, "application/xml", "p", NinjsSchemas(), 0)


@pytest.mark.parametrize("content_type", ["application/json", "application/x-ndjson"])
def test_json_nested_past_the_bound_is_a_payload_error(content_type: str) -> None:
    """json.loads reads 1,500 levels; re-encoding the item for the audit copy then overflowed."""
    deep = '{"value":' * 1500 + '"x"' + "}" * 1500
    item = '{"uri": "urn:f:1", "headlines": [' + deep + "]}"
    body = (item if "ndjson" in content_type else f"[{item}]").encode()
    with pytest.raises(PayloadError, match="nested more than"):
        read_items(body, content_type, "p", NinjsSchemas(), 64)


def test_a_picture_association_whose_uri_is_a_list_is_no_crash() -> None:
    item = {
        "uri": "urn:f:1",
        "headlines": [{"role": "main", "value": "H"}],
        "associations": [{"uri": "https://img.example/1.jpg", "type": "picture"}, {"uri": ["x"]}],
    }
    parsed = read_items(json.dumps(item).encode(), "application/json", "p", NinjsSchemas(), 0)
    assert parsed.items[0].story is not None or parsed.items[0].error is not None


def test_an_xml_encoding_expat_cannot_read_is_a_payload_error() -> None:
    body = b'<?xml version="1.0" encoding="utf-7"?><nitf><head/></nitf>'
    with pytest.raises(PayloadError, match="multi-byte"):
        read_items(body, "application/xml", "p", NinjsSchemas(), 0)


def test_an_rfc_2822_date_with_a_huge_number_is_dropped_not_a_crash() -> None:
    reading = Reading("p")
    assert read_datetime("Mon, 01 Jan 2024 00:0111111111111111111111111", "/d", reading) is None
    assert reading.warnings
