"""Agency-style files of every format read as a newsroom expects (pure: no Redis, no HTTP).

The fixtures in tests/fixtures/agency are ours, written from the specifications
and agencies' conventions; each shows one thing real feeds do. The table says
what each must yield — fields and the warnings ingest gives — and the failure
cases below say what is refused and why.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.ingest.formats import CONTENT_TYPES, PARSERS, Parsed, read_items, sniff
from services.ingest.items import ItemError, ParsedItem, Reading
from services.ingest.schemas import NinjsSchemas
from tests.conftest import SHARED_DATA

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agency"
CEST, AEST = timezone(timedelta(hours=2)), timezone(timedelta(hours=10))


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# file → (content type, expected story fields, warned fields)
CASES: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "nitf-ap-no-id-string.xml": (
        "application/nitf+xml",
        {
            "headline": "Harbour ferry returns to service after repairs",
            "byline": "By The Associated Press",
            "versioncreated": datetime(2024, 11, 29, 17, 0, 43, tzinfo=UTC),
            "firstcreated": datetime(2024, 11, 29, 17, 0, 43, tzinfo=UTC),
            "text": "The harbour ferry resumed its morning crossings on Friday after three weeks of "
            "repairs. Commuters said the queues had been long.",
        },
        ["/nitf/head/docdata/doc-id/@id-string"],
    ),
    "nitf-placeholder-dates.xml": (
        "application/nitf+xml",
        {
            "uri": "aap-20240501-cycle",
            "version": 2,
            "urgency": 3,
            "headline": "Council approves new cycle lanes",
            "byline": "By Alan Karben",
            "slugline": "Cycle-Lanes",
            "located": "Brisbane",
            "embargoed": None,
            "expires": None,
            "versioncreated": datetime(2024, 5, 1, 8, 15, tzinfo=AEST),
            "codes": ["11006005", "11006000", "11000000"],
        },
        ["/nitf/head/docdata/date.release/@norm", "/nitf/head/docdata/date.expire/@norm"],
    ),
    "nitf-inline-title-only.xml": (
        "application/xml",
        {"headline": "Snow expected in the mountains", "slugline": "vaer", "version": 1},
        [],
    ),
    "g2-uppercase-xhtml.xml": (
        "application/vnd.iptc.g2.newsitem+xml",
        {
            "language": "fi",
            "urgency": 4,
            "version": 3,
            "slugline": "satama",
            "text": "Satama avautuu huomenna kello kuusi. Jonot ovat pitkiä.",
            "codes": ["medtop:20000349", "medtop:04000000"],
        },
        [],
    ),
    "g2-dpa-header-block.xml": (
        "application/xml",
        {
            "text": "Berlin (dpa) - Die Züge rollen wieder.",
            "description": "Der Streik der Lokführer ist vorbei.",
            "firstcreated": datetime(2024, 5, 1, 7, 30, tzinfo=CEST),
            "versioncreated": datetime(2024, 5, 1, 7, 45, tzinfo=CEST),
        },
        [],
    ),
    "g2-picture.xml": (
        "application/xml",
        {
            "type": "picture",
            "credit": "EPA/Jeanne Martin",
            "description": "Des manifestants défilent place de la République, à Paris, le 1er mai 2024.",
            "renditions": [
                ("highRes", "https://media.example/pic-1.jpg", "image/jpeg", 3000, 2000, 2345678),
                ("thumb", "https://media.example/pic-1-thumb.jpg", "image/jpeg", 300, 200, None),
            ],
        },
        ["/newsItem/contentSet/remoteContent[2]/@size"],
    ),
    "ninjs-extensions.json": (
        "application/json",
        {
            "uri": "https://ntb.example/items/4242",
            "version": 2,
            "byline": "Kari Nordmann, Ola Nordmann",
            "text": "Strømprisen stiger for tredje dag på rad.",
            "versioncreated": datetime(2016, 1, 12, 12, 35, 40, tzinfo=UTC),
            "codes": ["04005001", "04005000", "04000000"],
        },
        ["/versioncreated"],
    ),
    "ninjs-picture.json": (
        "application/vnd.iptc.ninjs+json",
        {
            "type": "picture",
            "description": "Studenter firar valborg vid Fyrisån.",
            "renditions": [
                ("original", "https://media.example/555.jpg", "image/jpeg", 4000, 2667, 3456789),
                ("preview", "https://media.example/555-preview.jpg", "image/jpeg", 512, 341, None),
            ],
        },
        [],
    ),
    "newsml1-afp-text.xml": (
        "application/xml",
        {
            "uri": "urn:newsml:afp.com:20240501:TX-PAR-ABC12",
            "version": 2,
            "urgency": 3,
            "language": "fr",
            "headline": "Des milliers de manifestants à Paris pour le 1er mai",
            "byline": "Par Jeanne MARTIN",
            "slugline": "France-social",
            "firstcreated": datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
            "versioncreated": datetime(2024, 5, 1, 10, 14, tzinfo=UTC),
            "text": "Des milliers de personnes ont défilé mercredi à Paris. Les syndicats réclament "
            "des hausses de salaires.",
            "codes": ["09000000", "09002000"],
        },
        [
            "/NewsML/NewsItem/NewsManagement/FirstCreated",
            "/NewsML/NewsItem/NewsManagement/ThisRevisionCreated",
        ],
    ),
    "newsml1-photo.xml": (
        "application/xml",
        {
            "type": "picture",
            "credit": "BELGA/Jan Peeters",
            "description": "Des syndicalistes défilent à Bruxelles, le 1er mai 2024.",
            "text": "",
            "renditions": [(None, "https://media.example/belga-778.jpg", "image/jpeg", 2400, 1600, 1234567)],
        },
        [],
    ),
    "anpa-ap-writethru.anpa": (
        "application/x-anpa-1312",
        {
            "headline": "Bridge reopens after two-year repair",
            "byline": "By JANE DOE",
            "slugline": "Bridge-Reopens",
            "urgency": 4,
            "version": 3,
            "firstcreated": datetime(2024, 5, 1, 16, 35, tzinfo=UTC),
            "text": "SPRINGFIELD (AP) _ The Main Street bridge reopened on Wednesday after a two-year "
            "repair. The mayor cut the ribbon at noon.",
        },
        [],
    ),
    "iptc7901-dpa-latin1.txt": (
        "text/plain",
        {
            "headline": "Wahlbeteiligung in Niedersachsen gestiegen",
            "slugline": "Wahl/Niedersachsen/Beteiligung",
            "urgency": 4,
            "text": "Hannover (dpa) - Die Wahlbeteiligung bei der Landtagswahl lag am Sonntag bei 61 "
            "Prozent, wie die Landeswahlleiterin mitteilte. Vor fünf Jahren waren es 58 Prozent gewesen.",
        },
        ["/"],
    ),
}


def _read(name: str, reading: Reading | None = None) -> Parsed:
    content_type = CASES[name][0]
    return read_items((FIXTURES / name).read_bytes(), content_type, reading or Reading("acme"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_agency_file_is_read_with_its_fields_and_warnings(name: str) -> None:
    _, expected, warned = CASES[name]
    [item] = _read(name).items
    assert item.error is None, item.error
    story = item.story
    assert story is not None
    for field, value in expected.items():
        if field == "text":
            assert _text(story.body_html) == value
        elif field == "codes":
            assert [s.code for s in story.subjects] == value
        elif field == "renditions":
            got = [(r.name or None, r.href, r.mediatype, r.width, r.height, r.size) for r in story.renditions]
            assert got == value
        else:
            assert getattr(story, field) == value, field
    assert [w.field for w in item.warnings] == warned


def test_every_parser_is_one_line_in_the_table_and_every_content_type_reaches_one() -> None:
    assert set(CONTENT_TYPES.values()) <= set(PARSERS)
    for name in CASES:
        assert sniff((FIXTURES / name).read_bytes()) in PARSERS


def test_an_id_from_the_words_makes_a_resend_the_same_item() -> None:
    first, again = _read("nitf-ap-no-id-string.xml"), _read("nitf-ap-no-id-string.xml")
    assert first.items[0].story is not None
    assert again.items[0].story is not None
    assert first.items[0].story.uri == again.items[0].story.uri
    assert first.items[0].story.uri.startswith("AP:")


def test_naive_times_are_read_in_the_partners_timezone() -> None:
    reading = Reading("ntb", timezone=ZoneInfo("Pacific/Auckland"))
    [item] = _read("ninjs-extensions.json", reading).items
    assert item.story is not None
    assert item.story.versioncreated == datetime(2016, 1, 11, 23, 35, 40, tzinfo=UTC)
    assert item.warnings[0].action == "no UTC offset; read as Pacific/Auckland time"


def test_a_package_points_at_its_members_and_the_members_are_items_of_their_own() -> None:
    parsed = read_items((FIXTURES / "g2-package-message.xml").read_bytes(), "application/xml", "acme")
    assert parsed.batch
    package, member = (p.story for p in parsed.items)
    assert package is not None
    assert member is not None
    assert package.type == "composite"
    assert package.headline == "May Day in Paris"
    assert [(a.name, a.uri, a.type) for a in package.associations] == [
        ("member1", "urn:newsml:example.com:20240501:story-1", "text"),
        ("member2", "urn:newsml:epa.eu:20240501:pic-1", "picture"),
    ]
    assert package.associations[1].description == "Des manifestants défilent place de la République."
    assert member.uri == package.associations[0].uri


def test_a_caption_never_describes_a_text_item() -> None:
    [item] = _read("g2-dpa-header-block.xml").items
    assert item.story is not None
    assert "Archivbild" not in item.story.description
    assert "dpa-Meldung" not in item.story.body_html


def _error(body: bytes, content_type: str) -> ItemError:
    [item] = read_items(body, content_type, "acme").items
    assert item.error is not None
    return item.error


NITF_NO_ID = b'<nitf><head><docdata><date.issue norm="20240501T000000Z"/></docdata></head></nitf>'
NITF_BLANK = (
    b'<nitf><head><docdata><doc-id id-string="x"/></docdata></head>'
    b"<body><body.content> </body.content></body></nitf>"
)
G2_BLANK = b'<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="g"><contentMeta/></newsItem>'
NEWSML1_NO_ID = b"<NewsML><NewsItem><Identification><NewsIdentifier/></Identification></NewsItem></NewsML>"
REFUSED = {
    "nitf-no-id": (NITF_NO_ID, "application/nitf+xml", "/nitf/head/docdata/doc-id/@id-string", "required"),
    "nitf-blank": (NITF_BLANK, "application/nitf+xml", "/nitf", "body.content"),
    "g2-blank": (G2_BLANK, "application/xml", "/newsItem", "contentMeta/headline"),
    "newsml1-no-id": (
        NEWSML1_NO_ID,
        "application/xml",
        "/NewsML/NewsItem/Identification/NewsIdentifier",
        "NewsItemId",
    ),
    "7901-blank": (
        b"\x01dpa0001 4 pol 3\r\nSlug/\r\n\x02\r\n\x03",
        "application/x-iptc-7901",
        "/",
        "after STX",
    ),
    "anpa-blank": (
        b"\x16\x16\x01a0001\x1fAP\r\nr u bc-Slug 05-01 0000\r\n\x02\x03",
        "application/x-anpa-1312",
        "/",
        "heading",
    ),
    "7901-unframed": (b"plain words with no framing", "application/x-iptc-7901", "/", "no STX"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_cannot_be_identified_or_read_is_refused_saying_where(case: str) -> None:
    body, content_type, where, detail = REFUSED[case]
    error = _error(body, content_type)
    assert error.where == where
    assert detail in error.detail


def test_a_bare_kill_is_not_refused_as_blank() -> None:
    body = (
        b'<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="g" version="2">'
        b'<itemMeta><pubStatus qcode="stat:canceled"/></itemMeta></newsItem>'
    )
    [item] = read_items(body, "application/xml", "acme").items
    assert item.story is not None
    assert item.story.pubstatus == "canceled"


def test_extensions_are_warnings_with_the_schemas_message_unless_the_partner_is_strict() -> None:
    folder = SHARED_DATA / "iptc/ninjs/specification"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent (IPTC's ninjs schemas)")
    schemas = NinjsSchemas.load(folder)
    body = (FIXTURES / "ninjs-extensions.json").read_bytes()
    [lenient] = read_items(body, "application/json", Reading("ntb", schemas=schemas)).items
    [strict] = read_items(body, "application/json", Reading("ntb", strict=True, schemas=schemas)).items
    assert lenient.story is not None
    schema_warnings = [w for w in lenient.warnings if "IPTC schema" in w.action]
    assert schema_warnings
    assert "ninjs 1." in schema_warnings[0].action
    assert strict.error is not None
    assert "schema" in strict.error.detail


def _json_items(parsed: Parsed) -> list[ParsedItem]:
    return [p for p in parsed.items if p.story is not None]


def test_a_batch_gives_each_item_its_own_warnings_under_its_index() -> None:
    items = [json.loads((FIXTURES / "ninjs-extensions.json").read_text()), {"uri": "b", "headline": "B"}]
    parsed = read_items(json.dumps(items).encode(), "application/json", "acme")
    first, second = _json_items(parsed)
    assert [w.field for w in first.warnings] == ["/0/versioncreated"]
    assert second.warnings == []
