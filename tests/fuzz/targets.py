"""Every parser of partner or outlet input, as one table the property tests and the campaign share.

A target takes raw bytes and either returns or raises one of the project's own refusals
(`REFUSALS`); anything else is a failure. Stories a parser accepts must also survive what
happens to them next (the stream encoding), so a parser cannot pass on a story the
pipeline would choke on. A new format plugs in with one line in `TARGETS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from services.ingest.dates import read_datetime
from services.ingest.formats import UnsupportedType, read_items
from services.ingest.items import ItemError, PayloadError, Reading, urgency_number, version_number
from services.ingest.schemas import NinjsSchemas
from services.publish.retries import parse_retry_after
from shared.consuming import triage
from shared.events import StoryEnriched, StoryReceived
from shared.story import Story
from shared.streams import DATA_FIELD, encode_event
from tests.conftest import SHARED_DATA
from tests.fuzz.mutate import mutate, mutate_json

Mutator = Callable[[random.Random, bytes, list[bytes], list[bytes]], bytes]

REFUSALS = (ItemError, PayloadError, UnsupportedType)
NOW = datetime(2026, 4, 5, 12, 0, tzinfo=UTC)
NO_SCHEMAS = NinjsSchemas()
SCHEMA_DIR = SHARED_DATA / "iptc" / "ninjs" / "specification"
AGENCY = Path(__file__).resolve().parents[1] / "fixtures" / "agency"  # ours: see its README


def _agency(pattern: str) -> list[bytes]:
    return [path.read_bytes() for path in sorted(AGENCY.glob(pattern))]


@dataclass(frozen=True)
class Target:
    name: str
    run: Callable[[bytes], object]
    seeds: list[bytes]
    tokens: list[bytes] = field(default_factory=list)  # format words worth inserting
    modules: list[str] = field(default_factory=list)  # whose line coverage the campaign reports
    mutator: Mutator = mutate


def _story_survives(item_story: object) -> None:
    """What ingest does next with an accepted story: an event on the stream, as JSON."""
    if item_story is None:
        return
    assert isinstance(item_story, Story)
    event = StoryReceived(story_id="x", trace_id="t", received_at=NOW, story=item_story)
    StoryReceived.model_validate_json(event.model_dump_json())


def ingest(content_type: str, schemas: NinjsSchemas | None = None) -> Callable[[bytes], object]:
    """A body posted to `POST /v1/stories` with this content type, parsed as ingest parses it."""

    def run(body: bytes) -> object:
        parsed = read_items(body, content_type, "fuzz", schemas or NO_SCHEMAS, 4096)
        for item in parsed.items:
            _story_survives(item.story)
        return parsed

    return run


def _text(run: Callable[[str], object]) -> Callable[[bytes], object]:
    """Header and attribute values arrive as text; lone surrogates (bytes ED A0 80) are kept."""

    def decoded(data: bytes) -> object:
        try:
            text = data.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            text = data.decode("utf-8", "replace")
        return run(text)

    return decoded


def _stream(data: bytes) -> object:
    """An entry read off a stream (anything may be there): a model, or a poison verdict."""
    for model in (StoryReceived, StoryEnriched):
        triage(model, {DATA_FIELD: data}, 1, 5)
    return None


def _version(text: str) -> object:
    """As written in text (XML, ninjs strings) and, when it is an integer, as a JSON integer."""
    digits = text.strip()
    if re.fullmatch(r"-?[0-9]{1,4000}", digits):
        with contextlib.suppress(ItemError):
            version_number(int(digits), "/version")
    return version_number(text, "/version")


def _retry_after(text: str) -> object:
    """Total by contract: an outlet's header is advice or nothing, never an exception."""
    return parse_retry_after(text, NOW)


# --- seeds: small, written for these tests ------------------------------------------------

NINJS1 = {
    "uri": "urn:fuzz:1",
    "type": "text",
    "version": "1",
    "versioncreated": "2024-05-01T10:00:00Z",
    "pubstatus": "usable",
    "urgency": 3,
    "language": "en",
    "headline": "Ceasefire declared",
    "body_html": "<p>One <a href='https://x.example/'>link</a>.</p>",
    "description_text": "A standfirst.",
    "subject": [{"code": "medtop:16000000", "name": "conflict"}],
}
NINJS2 = {
    "uri": "urn:fuzz:2",
    "type": "text",
    "version": "2",
    "versioncreated": "2024-05-01T10:00:00+02:00",
    "firstcreated": "2024-05-01",
    "embargoed": "2030-01-01T00:00:00Z",
    "pubstatus": "withheld",
    "urgency": 1,
    "headlines": [{"role": "main", "value": "Markets fall"}],
    "bodies": [{"role": "main", "contenttype": "text/html", "value": "<p>Body</p><script>x</script>"}],
    "descriptions": [{"role": "summary", "value": "Summary"}],
    "by": "Desk",
    "located": "Baku",
    "genres": [{"name": "news"}],
    "subjects": [{"name": "markets", "uri": "http://cv.iptc.org/newscodes/mediatopic/04000000"}],
    "associations": [{"name": "pic", "type": "picture", "uri": "https://img.example/1.jpg"}],
}
NINJS3 = {
    "standard": {
        "name": "ninjs",
        "version": "3.0",
        "schema": "https://www.iptc.org/std/ninjs/ninjs-schema_3.0.json",
    },
    "uri": "urn:fuzz:3",
    "type": "text",
    "version": "7",
    "versionCreated": "2024-05-01T10:00:00Z",
    "pubStatus": "usable",
    "embargoedUntil": "2024-05-02T10:00:00Z",
    "headlines": [{"role": "main", "value": "Flash: quake"}],
    "bodies": [{"role": "main", "contentType": "text/plain", "value": "Line one.\n\nLine two."}],
}
NEWSML = b"""<?xml version="1.0" encoding="UTF-8"?>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:fuzz:g2" version="3" standard="NewsML-G2"
 standardversion="2.29" conformance="power" xml:lang="en">
 <itemMeta><itemClass qcode="ninat:text"/><versionCreated>2024-05-01T10:00:00Z</versionCreated>
  <firstCreated>2024-05-01T09:00:00Z</firstCreated><pubStatus qcode="stat:usable"/>
  <embargoed>2030-01-01T00:00:00Z</embargoed></itemMeta>
 <contentMeta><urgency>2</urgency><headline>Talks resume</headline><by>Desk</by>
  <located><name>Geneva</name></located><subject qcode="medtop:11000000"><name>politics</name></subject>
  <description role="drol:summary">Summary</description></contentMeta>
 <contentSet><inlineXML contenttype="application/xhtml+xml"><html xmlns="http://www.w3.org/1999/xhtml">
  <body><p>Body <a href="https://x.example/">link</a></p></body></html></inlineXML></contentSet>
</newsItem>"""
NEWS_MESSAGE = (
    b'<newsMessage xmlns="http://iptc.org/std/nar/2006-10-01/"><header><sent>2024-05-01T10:00:00Z</sent>'
    b"</header><itemSet>" + NEWSML.split(b"?>", 1)[1] + b'<packageItem guid="p"/></itemSet></newsMessage>'
)
NITF = b"""<?xml version="1.0"?>
<nitf><head><title>Floods</title><docdata><doc-id id-string="urn:fuzz:nitf"/><urgency ed-urg="4"/>
<date.issue norm="20240501T100000+0200"/><date.release norm="20240501T110000Z"/>
<du-key version="2"/></docdata></head>
<body><body.head><hedline><hl1>Floods hit the coast</hl1></hedline><byline>By Desk</byline>
<dateline><location>Lisbon</location></dateline><abstract><p>Abstract</p></abstract></body.head>
<body.content><p>Water <b>rose</b>.</p><table><tr><td>1</td></tr></table></body.content></body></nitf>"""

JSON_TOKENS = [
    b'"\\ud800"',
    b"1e400",
    b"NaN",
    b"-Infinity",
    b"Infinity",
    b"1" * 4400,
    b"\xc2\xb2",
    b'"\xc2\xb2"',
    b"[" * 3000,
    b"{}",
    b"[]",
    b"null",
    b"true",
    b'""',
    b'"javascript:alert(1)"',
    b'"9999-12-31T23:59:59-05:00"',
    b'"0001-01-01T00:00:00+05:00"',
    b"-1",
    b"1e30",
    b"10000000000000000000000000000000",
    b'"\\u0000"',
    b'"version"',
    b'"urgency"',
    b'"uri"',
    b'"pubstatus"',
    b'"canceled"',
    b'"embargoed"',
    b'"bodies"',
    b'"headlines"',
    b'"contenttype"',
    b'"text/html"',
    b'"text/plain"',
    b'"$standard"',
    b'"versionCreated"',
]
XML_TOKENS = [
    b"<a>" * 3000,
    b"<!DOCTYPE x [<!ENTITY e 'x'>]>",
    b"&e;",
    b"&#0;",
    b"&#xD800;",
    b"\xc2\xb2",
    b"<![CDATA[x]]>",
    b"<?pi x?>",
    b"<!-- c -->",
    b"xmlns:x='urn:x'",
    b' qcode="stat:canceled"',
    b"<urgency>\xc2\xb2</urgency>",
    b' version="100000000000000000000000000000"',
    b"9999-12-31T23:59:59-05:00",
    b"<p>",
    b"</p>",
    b"<inlineXML>",
    b"javascript:",
    b"\x00",
    b"\xed\xa0\x80",
]
TEXT_TOKENS = [
    b"2024-05-01T10:00:00Z",
    b"9999-12-31T23:59:59-05:00",
    b"0001-01-01T00:00:00+14:00",
    b"20240501T1000",
    b"+0200",
    b"Z",
    b"\xc2\xb2",
    b"\xd9\xa3",
    b"1" * 30,
    b"-",
    b"T",
    b":",
    b".",
    b"Mon, 01 Jan 2024 00:00:00",
    b" GMT",
    b" +0000",
    b"\x00",
    b"\xed\xa0\x80",
    b"\xef\xbc\x91",
]


def _lines(*items: object) -> bytes:
    return b"\n".join(json.dumps(i).encode() for i in items)


def _schemas() -> NinjsSchemas:
    return NinjsSchemas.load(SCHEMA_DIR if SCHEMA_DIR.is_dir() else None)


def _stream_seeds() -> list[bytes]:
    story = read_items(json.dumps(NINJS2).encode(), "application/json", "fuzz", NO_SCHEMAS, 0).items[0].story
    assert story is not None
    received = StoryReceived(story_id=story.id, trace_id="t", received_at=NOW, story=story)
    enriched = StoryEnriched(story_id=story.id, trace_id="t", received_at=NOW, enriched_at=NOW, story=story)
    return [
        asyncio.run(encode_event(received)),
        asyncio.run(encode_event(enriched)),
        received.model_dump_json().encode(),
    ]


_COMMON = [
    "services/ingest/formats.py",
    "services/ingest/dates.py",
    "services/ingest/items.py",
    "services/ingest/sanitising.py",
]
JSON_MODULES = [*_COMMON, "services/ingest/ninjs.py"]
SCHEMA_MODULES = [*JSON_MODULES, "services/ingest/schemas.py"]
NEWSML_MODULES = [*_COMMON, "services/ingest/xmldocs.py", "services/ingest/newsml.py"]
NITF_MODULES = [*_COMMON, "services/ingest/xmldocs.py", "services/ingest/nitf.py"]
NEWSML1_MODULES = [*_COMMON, "services/ingest/xmldocs.py", "services/ingest/newsml1.py"]
WIRE_MODULES = [*_COMMON, "services/ingest/wire.py", "services/ingest/anpa.py", "services/ingest/iptc7901.py"]
WIRE_TOKENS = [b"\x01", b"\x02", b"\x03", b"\x04", b"\x16", b"\r\n", b"\t", b"\xe9", b"\xc2\xb2", b"\x00"]

TARGETS: list[Target] = [
    Target(
        "ninjs1",
        ingest("application/json"),
        [json.dumps(NINJS1).encode()],
        JSON_TOKENS,
        JSON_MODULES,
        mutate_json,
    ),
    Target(
        "ninjs2",
        ingest("application/json"),
        [json.dumps(NINJS2).encode()],
        JSON_TOKENS,
        JSON_MODULES,
        mutate_json,
    ),
    Target(
        "ninjs3",
        ingest("application/json"),
        [json.dumps(NINJS3).encode()],
        JSON_TOKENS,
        JSON_MODULES,
        mutate_json,
    ),
    Target(
        "ninjs-schema",
        ingest("application/json", _schemas()),
        [json.dumps(i).encode() for i in (NINJS1, NINJS2, NINJS3)],
        JSON_TOKENS,
        SCHEMA_MODULES,
        mutate_json,
    ),
    Target(
        "ndjson",
        ingest("application/x-ndjson"),
        [_lines(NINJS1, NINJS2, NINJS3)],
        JSON_TOKENS,
        JSON_MODULES,
        mutate_json,
    ),
    Target(
        "newsml-g2",
        ingest("application/xml"),
        [NEWSML, NEWS_MESSAGE, *_agency("g2-*.xml")],
        XML_TOKENS,
        NEWSML_MODULES,
    ),
    Target("nitf", ingest("application/nitf+xml"), [NITF, *_agency("nitf-*.xml")], XML_TOKENS, NITF_MODULES),
    Target(
        "newsml1",
        ingest("application/vnd.iptc.newsml+xml"),
        _agency("newsml1-*.xml"),
        XML_TOKENS,
        NEWSML1_MODULES,
    ),
    Target("anpa1312", ingest("application/x-anpa-1312"), _agency("anpa-*"), WIRE_TOKENS, WIRE_MODULES),
    Target("iptc7901", ingest("application/x-iptc-7901"), _agency("iptc7901-*"), WIRE_TOKENS, WIRE_MODULES),
    Target(
        "text-wire",
        ingest("text/plain"),
        _agency("anpa-*") + _agency("iptc7901-*"),
        WIRE_TOKENS,
        WIRE_MODULES,
    ),
    Target(
        "dates",
        _text(lambda t: read_datetime(t, "/d", Reading("fuzz"), required=True)),
        [b"2024-05-01T10:00:00+02:00", b"20240501T100000Z"],
        TEXT_TOKENS,
        ["services/ingest/dates.py"],
    ),
    Target(
        "versions",
        _text(_version),
        [b"0", b"7", b"9007199254740991"],
        TEXT_TOKENS,
        ["services/ingest/items.py"],
    ),
    Target(
        "urgency",
        _text(lambda t: urgency_number(t, "/urgency")),
        [b"1", b"9"],
        TEXT_TOKENS,
        ["services/ingest/items.py"],
    ),
    Target(
        "retry-after",
        _text(_retry_after),
        [b"120", b"Wed, 21 Oct 2015 07:28:00 GMT"],
        TEXT_TOKENS,
        ["services/publish/retries.py"],
    ),
    Target("stream", _stream, _stream_seeds(), JSON_TOKENS, ["shared/consuming.py", "shared/streams.py"]),
]
