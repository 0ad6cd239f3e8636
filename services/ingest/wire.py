"""What the classic text wires (ANPA 1312, IPTC 7901) share: bytes, framing and identity.

Both are byte streams framed by control characters — SOH (0x01) opens the
header, STX (0x02) the text, ETX (0x03) closes it, EOT (0x04) ends the
transmission — in UTF-8 from newer systems and ISO 8859-1 from older ones. Neither
carries a unique id: an item is identified by its source, its keyword (slug) and
a digest of its own words, so the same transmission sent twice is a duplicate and
a changed text is a new item (the formats give no way to link the two).
"""

from __future__ import annotations

import hashlib
import re

from services.ingest.items import PayloadError, Reading

SOH, STX, ETX, EOT, SYN = "\x01", "\x02", "\x03", "\x04", "\x16"
# Control characters that are framing or line-printer codes, never text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def decode(body: bytes, reading: Reading) -> str:
    """UTF-8 when the bytes are UTF-8, else ISO 8859-1 (the classic wires' code page), said so."""
    if not body.strip():
        raise PayloadError("empty", "Body is empty", "the body carries no wire item")
    try:
        return body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        reading.warn("/", "", "not UTF-8; read as ISO 8859-1 (Latin-1)")
        return body.decode("latin-1")


def between(text: str, start: str, end: str) -> str | None:
    """The text after the first `start` up to the next `end` (or the end), None without `start`."""
    at = text.find(start)
    if at < 0:
        return None
    stop = text.find(end, at + 1)
    return text[at + 1 : stop if stop >= 0 else len(text)]


def printable(line: str) -> str:
    return " ".join(_CONTROL.sub(" ", line).split())


def identity(kind: str, source: str, slug: str | None, *words: str) -> str:
    digest = hashlib.sha256("\x1f".join((kind, source, slug or "", *words)).encode()).hexdigest()[:16]
    return f"{kind}:{source or 'wire'}:{(slug or '').lower()}:{digest}".replace("::", ":")


def paragraphs(lines: list[str]) -> list[str]:
    """Paragraphs of wire text: a blank line or an indented line starts a new one."""
    result: list[str] = []
    current: list[str] = []
    for raw in lines:
        line = _CONTROL.sub("", raw.rstrip())
        starts_new = not line.strip() or line[:1] in (" ", "\t")
        if starts_new and current:
            result.append(" ".join(current))
            current = []
        if line.strip():
            current.append(" ".join(line.split()))
    if current:
        result.append(" ".join(current))
    return result
