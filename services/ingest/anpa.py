"""ANPA 1312 (AP's and many North American agencies' classic text wire) → a Story (pure).

Layout, as AP documents it: `SYN SYN SOH`, the service level letter and a
4-digit sequence number, `US`, the selector codes; a second header line with the
priority letter, the category letter, two format codes (0x12 = tabular, kept as
preformatted), the keyword (`bc-`/`am-`/`pm-` + slug), the version/take
(`2ndLd-Writethru`, `Correction`), the date (`MM-DD`) and the word count; then
`STX`, the text and `ETX`, followed by the filing trailer
(`AP-NY-01-12-16 1235GMT`) and `EOT`. Inside the text, lines starting `^` are
the heading block (keyword line, headline, byline lines ending `<` or `=`) and
tab-indented lines are paragraphs.

Read: priority (f flash → urgency 1, b bulletin 2, u urgent 3, r regular 4, d
deferred 5, a advance 6), category, slugline (the heading's `XX-XX--slug`, else
the header keyword), headline, byline, body, version (the Nth lead is version
N+1) and the trailer's GMT time as firstcreated/versioncreated. No id is sent:
see `wire.identity`.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

from services.ingest import wire
from services.ingest.items import ItemError, Reading, story_from
from shared.story import Story

FORMAT = "anpa1312"
_URGENCY = {"f": 1, "b": 2, "u": 3, "r": 4, "d": 5, "a": 6}
_FIRST = re.compile(r"^\x16*\x01([a-z])(\d{4})\x1f?(.*)$", re.IGNORECASE | re.ASCII)
_SECOND = re.compile(
    r"^([a-z])\s+([a-z])([\x13\x14]?)([\x11\x12]?)\s*((?:am|pm|bc|ap)-)?(\S+)(.*?)\s+(\d{1,2})-(\d{1,2})\s+(\d{3,5})\s*$",
    re.IGNORECASE | re.ASCII,
)
_TRAILER = re.compile(
    r"([A-Z]+)-([A-Z]+)-(\d{1,2})-(\d{1,2})-(\d{2,4})\s+(\d{2})(\d{2})\s*GMT", re.IGNORECASE
)
_LEAD = re.compile(r"(\d+)(?:st|nd|rd|th)\s*-?\s*Ld", re.IGNORECASE)
_HEADING_SLUG = re.compile(r"^[A-Z]{2}-[A-Z]{2,}--?([A-Za-z0-9.][A-Za-z0-9.-]*)", re.ASCII)


def looks_like_anpa(body: bytes) -> bool:
    return re.match(rb"^\x16*\x01[a-z]\d{4}", body.lstrip(b"\r\n"), re.IGNORECASE) is not None


def story_from_anpa(body: bytes, reading: Reading) -> Story:
    text = wire.decode(body, reading)
    header_text, _, rest = text.partition(wire.STX)
    if not rest:
        raise ItemError("/", "not ANPA 1312: no STX (0x02) starts the text")
    content, _, trailer = rest.partition(wire.ETX)
    header = [line for line in header_text.replace("\r", "").split("\n") if line.strip(" \x16")]
    first = _FIRST.match(header[0].strip(" ")) if header else None
    second = _SECOND.match(header[1].strip(" ")) if len(header) > 1 else None
    if second is None and first is not None:
        second = _SECOND.match(first[3].strip())
    lines = content.replace("\r", "").split("\n")
    heading = [wire.printable(line).strip("^<= ") for line in lines if line.lstrip(" \t").startswith("^")]
    body_lines = [line for line in lines if not line.lstrip(" \t").startswith("^")]
    preformatted = bool(second and second[4] == "\x12")
    paragraphs = wire.paragraphs(body_lines) if not preformatted else []
    headline = heading[1] if len(heading) > 1 else (heading[0] if heading else "")
    slug = _slug(heading, second)
    take = (second[7].strip() if second else "") or ""
    created = _trailer_time(trailer, reading)
    body_html = (
        "<pre>"
        + html.escape("\n".join(wire.printable(line) for line in body_lines if line.strip()))
        + "</pre>"
        if preformatted
        else "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
    )
    if not headline and paragraphs:
        headline = paragraphs[0][:120]
        reading.warn("/", "", "no heading block (^ lines); the first paragraph's start is the headline")
    source = (first[3].split()[0] if first and first[3].split() else "") or "anpa"
    fields: dict[str, Any] = {
        "partner": reading.partner,
        "uri": wire.identity(FORMAT, source, slug, headline, trailer.strip(), *paragraphs[:3]),
        "version": _version(take),
        "urgency": _URGENCY.get((second[1] if second else "").lower()),
        "headline": headline,
        "byline": _byline(heading),
        "slugline": slug,
        "firstcreated": created,
        "versioncreated": created,
        "body_html": body_html,
    }
    if second is None:
        reading.warn(
            "/", header[1] if len(header) > 1 else "", "no ANPA keyword line; priority and slug not read"
        )
    return story_from(fields, "/", "a heading (^ lines) or text between STX and ETX")


def _slug(heading: list[str], second: re.Match[str] | None) -> str | None:
    if heading and (match := _HEADING_SLUG.match(heading[0])):
        return match[1].rstrip(",.")
    return second[6] if second else None


def _byline(heading: list[str]) -> str | None:
    for line in heading[2:]:
        if line.lower().startswith("by "):
            return line
    return heading[-2] if len(heading) > 3 else None


def _version(take: str) -> int:
    match = _LEAD.search(take)
    return int(match[1]) + 1 if match and len(match[1]) <= 4 else 1


def _trailer_time(trailer: str, reading: Reading) -> datetime | None:
    match = _TRAILER.search(trailer)
    if match is None:
        return None
    month, day, year, hour, minute = (int(match[i]) for i in (3, 4, 5, 6, 7))
    try:
        return datetime(year + 2000 if year < 100 else year, month, day, hour, minute, tzinfo=UTC)
    except ValueError:
        reading.warn("/trailer", match[0], "not a valid date; dropped")
        return None
