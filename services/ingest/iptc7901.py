"""IPTC 7901 (the agencies' classic text wire: dpa, APA, the Nordic agencies) → a Story (pure).

Layout, as IPTC Recommendation 7901 sets it out: `SOH` (or the telegraph
`ZCZC`), the header line — source and message number (`dpa0123`), priority
(1 flash … 6), subject category, word count, optional information — then the
keyword lines (the slugline, `/`-separated), `STX`, the headline on the first
line of the text, the text, `ETX`, and an optional trailer (the filing time).
Text after "The following information is not for publication" is an editors'
note, not text. Paragraphs are separated by blank lines or an indent; where a
feed wraps lines with CRLF and ends paragraphs with a bare LF (dpa), that is
the rule instead.

Read: source, priority → urgency, slugline, headline, byline (a first text
line starting "By"/"Von"/"Av"/"Af"), body. No id is sent: see `wire.identity`.
"""

from __future__ import annotations

import html
import re
from typing import Any

from services.ingest import wire
from services.ingest.items import ItemError, Reading, story_from
from shared.story import Story

FORMAT = "iptc7901"
_HEADER = re.compile(r"^(?:ZCZC\s*)?([A-Za-z]*)(\d*)\s+(\S)\s+(\S+)(?:\s+(\d+))?(.*)$", re.ASCII)
_NOT_FOR_PUBLICATION = re.compile(r"the following information is not (?:for|intended for) publication", re.I)
_BYLINE = re.compile(r"^(by|von|av|af|par|door)\s+\S", re.IGNORECASE)


def story_from_iptc7901(body: bytes, reading: Reading) -> Story:
    text = wire.decode(body, reading)
    header_text, has_text, rest = text.partition(wire.STX)
    if not has_text:
        raise ItemError("/", "not IPTC 7901: no STX (0x02) starts the text")
    content = rest.partition(wire.ETX)[0].partition(wire.EOT)[0]
    header_lines = [
        line for line in (wire.printable(raw) for raw in header_text.replace("\r", "").split("\n")) if line
    ]
    header = _HEADER.match(header_lines[0]) if header_lines else None
    keyword_lines = header_lines[1:] if header else header_lines
    slug = " ".join(keyword_lines).rstrip("/ ").strip() or None
    content = _NOT_FOR_PUBLICATION.split(content, maxsplit=1)[0]
    headline_line, _, text_body = content.lstrip("\r\n").partition("\n")
    headline = wire.printable(headline_line)
    paragraphs = _paragraphs(text_body)
    byline = None
    if paragraphs and _BYLINE.match(paragraphs[0]) and len(paragraphs[0]) < 80:
        byline = paragraphs.pop(0)
    if header is None:
        reading.warn(
            "/", header_lines[0] if header_lines else "", "no IPTC 7901 header line; priority not read"
        )
    source = header[1] if header else ""
    priority = header[3] if header else ""
    fields: dict[str, Any] = {
        "partner": reading.partner,
        "uri": wire.identity(FORMAT, source.lower(), slug, headline, *paragraphs[:3]),
        "urgency": int(priority) if priority.isascii() and priority.isdigit() and priority != "0" else None,
        "headline": headline,
        "byline": byline,
        "slugline": slug,
        "body_html": "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs),
    }
    return story_from(fields, "/", "a headline (the first line after STX) or text before ETX")


def _paragraphs(text: str) -> list[str]:
    if "\r\n" in text and re.search(r"(?<!\r)\n", text):
        return [p for p in (wire.printable(chunk) for chunk in re.split(r"(?<!\r)\n", text)) if p]
    lines = text.replace("\r", "").split("\n")
    marked = any(not line.strip() or line[:1] in " \t" for line in lines[1:-1])
    if marked:
        return wire.paragraphs(lines)
    return [p for p in (wire.printable(line) for line in lines) if p]
