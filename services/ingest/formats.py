"""Which format a request carries, and the items in it (pure; no I/O).

`PARSERS` is the one table of formats: each is a pure `parse(body, reading)`
returning the items it carries; `CONTENT_TYPES` says which media types reach
which parser. Adding a format is a line in each.

JSON (`application/json`, `application/vnd.iptc.ninjs+json`): one ninjs item, or
an array of items (a batch). NDJSON (`application/x-ndjson`): one ninjs item per
line (a batch). XML (`application/xml`, `text/xml`, …): by its root element a
NewsML-G2 news/package item or newsMessage (a batch), an NITF document or a
NewsML 1.2 document (a batch when it carries several NewsItems). Text wire
(`text/plain`, …): ANPA 1312 or IPTC 7901, told apart by their framing. An
explicit ninjs version may be declared with the media type parameter `version=`
(e.g. `application/vnd.iptc.ninjs+json; version=1.0`); otherwise it is read from
the payload.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any
from xml.etree.ElementTree import Element

from services.ingest import anpa, iptc7901, newsml1
from services.ingest.items import ItemError, ParsedItem, PayloadError, Reading, pointer
from services.ingest.newsml import is_newsml, items_from_newsml
from services.ingest.ninjs import detect_version, story_from_ninjs
from services.ingest.nitf import is_nitf, story_from_nitf
from services.ingest.xmldocs import local, parse_xml


@dataclass(frozen=True)
class Parsed:
    items: list[ParsedItem]
    batch: bool


Parser = Callable[[bytes, Reading], Parsed]


class UnsupportedType(ValueError):
    pass


def media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """`type/subtype` in lower case and its parameters."""
    main, *params = (header or "").split(";")
    parameters = {}
    for param in params:
        key, _, value = param.partition("=")
        parameters[key.strip().lower()] = value.strip().strip('"')
    return main.strip().lower(), parameters


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            "invalid-encoding",
            "Body is not valid UTF-8",
            f"byte {exc.start} (0x{body[exc.start]:02x}) is not valid UTF-8; JSON must be UTF-8 (RFC 8259)",
            where=f"byte {exc.start}",
        ) from None


class _Unrepresentable:
    """A JSON number nothing downstream can hold (NaN, ±Infinity, 1e400, 5,000 digits).

    Kept in the decoded document until the item's walk finds it, so the answer names
    its field instead of the decoder failing the whole body without saying where.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Numbers:
    """The decoder's number hooks for one document; `kept` says whether any number became an
    `_Unrepresentable` (only then does an item need walking for one)."""

    __slots__ = ("kept",)

    def __init__(self) -> None:
        self.kept = False

    def integer(self, text: str) -> int | _Unrepresentable:
        if len(text.lstrip("-")) <= sys.get_int_max_str_digits():
            return int(text)
        return self.keep(text)

    def real(self, text: str) -> float | _Unrepresentable:
        number = float(text)
        return number if math.isfinite(number) else self.keep(text)

    def keep(self, text: str) -> _Unrepresentable:
        self.kept = True
        return _Unrepresentable(text)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


MAX_JSON_DEPTH = 100
"""Deepest array/object nesting accepted (ninjs needs under 10). Deeper documents that the
decoder still reads would exhaust the stack later, when an item is re-encoded or walked."""


@dataclass(frozen=True)
class _Decoded:
    document: Any
    suspect: bool  # may hold an `_Unrepresentable` or a lone surrogate: walk its items


def _decode_json(text: str, line_offset: int = 0) -> _Decoded:
    numbers = _Numbers()
    try:
        document = json.loads(
            text, parse_int=numbers.integer, parse_float=numbers.real, parse_constant=numbers.keep
        )
    except json.JSONDecodeError as exc:
        line = exc.lineno + line_offset
        raise PayloadError(
            "invalid-json",
            "Body is not valid JSON",
            f"{exc.msg} at line {line}, column {exc.colno}",
            where=f"line {line}, column {exc.colno}",
        ) from None
    except RecursionError:
        document = None
        depth = MAX_JSON_DEPTH + 1
    else:
        # Each level opens a bracket, so few brackets in the text bound the depth: no walk.
        brackets = text.count("{") + text.count("[")
        depth = _depth(document) if brackets > MAX_JSON_DEPTH else brackets
    if depth > MAX_JSON_DEPTH:
        raise PayloadError(
            "invalid-json",
            "Body is not valid JSON",
            f"arrays and objects are nested more than {MAX_JSON_DEPTH} levels deep; "
            "no news format needs that many",
        )
    # UTF-8 text decodes to no surrogate, so a lone one can only come from a \u escape.
    return _Decoded(document, numbers.kept or "\\u" in text)


def _depth(document: Any) -> int:
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                stack.extend(
                    (inner, depth + 1) for inner in (value.values() if isinstance(value, dict) else value)
                )
    return deepest


def _unrepresentable(document: Any) -> ItemError | None:
    """The first value of a decoded item no story or stream can carry, with its pointer."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _Unrepresentable):
            detail = (
                f"{value.text[:40]}{'…' if len(value.text) > 40 else ''} is not a number this API accepts"
            )
            return ItemError(pointer(*path), detail + " (finite, at most 4,300 digits)")
        if isinstance(value, str) and _LONE_SURROGATE.search(value):
            return ItemError(
                pointer(*path), "contains a lone UTF-16 surrogate (\\ud800-\\udfff), not a character"
            )
        if isinstance(value, dict):
            for key, inner in value.items():
                if _LONE_SURROGATE.search(key):
                    return ItemError(pointer(*path), "a member name contains a lone UTF-16 surrogate")
                stack.append(((*path, key), inner))
        elif isinstance(value, list):
            stack.extend(((*path, index), inner) for index, inner in enumerate(value))
    return None


def _ninjs_item(
    item: Any, reading: Reading, original: Callable[[], bytes], prefix: str, suspect: bool = True
) -> ParsedItem:
    unreadable = _unrepresentable(item) if suspect else None
    if unreadable is not None:
        return ParsedItem(
            "ninjs", b"", error=ItemError(prefix + unreadable.where.rstrip("/"), unreadable.detail)
        )
    if not isinstance(item, dict):
        return ParsedItem(
            "ninjs", original(), error=ItemError(prefix or "/", "a ninjs item must be a JSON object")
        )
    version = detect_version(item, reading.declared_version)
    source = f"ninjs{version.split('.')[0]}"
    try:
        _lint(item, version, reading)
        story = story_from_ninjs(item, reading, version)
        return ParsedItem(source, original(), story=story, warnings=_prefixed(reading, prefix))
    except ItemError as exc:
        error = ItemError(prefix + exc.where.rstrip("/"), exc.detail)
        return ParsedItem(source, original(), error=error, warnings=_prefixed(reading, prefix))


def _lint(item: dict[str, Any], version: str, reading: Reading) -> None:
    """IPTC's schemas refuse for a `strict` partner and only warn for the rest.

    Agencies' real ninjs carries extensions (`guid`, `priority`, `bylines`,
    `body_html5`, …) that the schemas disallow; refusing them would lose the copy.
    """
    try:
        reading.schemas.check(item, version)
    except ItemError as exc:
        if reading.strict:
            raise
        reading.warn(exc.where, "", f"IPTC schema: {exc.detail}; accepted (the partner is not strict)")


def _prefixed(reading: Reading, prefix: str) -> list[Any]:
    if not prefix:
        return reading.warnings
    return [w.model_copy(update={"field": prefix + w.field.rstrip("/")}) for w in reading.warnings]


def _head(original: bytes, cap: int) -> bytes:
    return original[:cap]


def _dumped(item: Any, cap: int) -> bytes:
    return json.dumps(item).encode()[:cap]


def parse_json(body: bytes, reading: Reading) -> Parsed:
    decoded = _decode_json(_text(body))
    document, suspect = decoded.document, decoded.suspect
    cap = reading.max_original
    if isinstance(document, list):
        if not document:
            raise ItemError("/", "an empty array carries no items")
        return Parsed(
            [
                _ninjs_item(item, reading.fresh(), partial(_dumped, item, cap), f"/{index}", suspect)
                for index, item in enumerate(document)
            ],
            batch=True,
        )
    only = _ninjs_item(document, reading.fresh(), partial(_head, body, cap), "", suspect)
    return Parsed([only], batch=False)


def parse_ndjson(body: bytes, reading: Reading) -> Parsed:
    text = _text(body)
    items = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        decoded = _decode_json(line, line_offset=number - 1)
        original = partial(_head, line.encode(), reading.max_original)
        items.append(_ninjs_item(decoded.document, reading.fresh(), original, "", decoded.suspect))
    if not items:
        raise ItemError("/", "the NDJSON body carries no items")
    return Parsed(items, batch=True)


def _nitf(root: Element, body: bytes, reading: Reading) -> Parsed:
    item = reading.fresh()
    original = body[: reading.max_original]
    try:
        story = story_from_nitf(root, item)
        return Parsed([ParsedItem("nitf", original, story=story, warnings=item.warnings)], False)
    except ItemError as exc:
        return Parsed([ParsedItem("nitf", original, error=exc, warnings=item.warnings)], False)


def _g2(root: Element, body: bytes, reading: Reading) -> Parsed:
    items = items_from_newsml(root, reading, reading.max_original)
    return Parsed(items, batch=local(root.tag) == "newsMessage")


def _newsml1(root: Element, body: bytes, reading: Reading) -> Parsed:
    items = newsml1.items_from_newsml1(root, reading)
    return Parsed(items, batch=len(items) > 1)


# XML formats by their root element, tried in order.
XML_ROOTS: list[tuple[Callable[[Element], bool], Callable[[Element, bytes, Reading], Parsed]]] = [
    (is_nitf, _nitf),
    (newsml1.is_newsml1, _newsml1),
    (is_newsml, _g2),
]


def parse_xml_document(body: bytes, reading: Reading) -> Parsed:
    root = parse_xml(body)
    for matches, parse in XML_ROOTS:
        if matches(root):
            return parse(root, body, reading)
    raise ItemError(
        f"/{local(root.tag)}",
        "not a NewsML-G2 newsItem/packageItem/newsMessage, an NITF document or a NewsML 1.2 document",
    )


def _wire_item(format_name: str, parse: Callable[[bytes, Reading], Any]) -> Parser:
    def parse_wire(body: bytes, reading: Reading) -> Parsed:
        item = reading.fresh()
        original = body[: reading.max_original]
        try:
            story = parse(body, item)
            return Parsed([ParsedItem(format_name, original, story=story, warnings=item.warnings)], False)
        except ItemError as exc:
            return Parsed([ParsedItem(format_name, original, error=exc, warnings=item.warnings)], False)

    return parse_wire


def parse_text_wire(body: bytes, reading: Reading) -> Parsed:
    """ANPA 1312 or IPTC 7901 by the framing (ANPA's SYN SYN SOH + service letter)."""
    return PARSERS["anpa1312" if anpa.looks_like_anpa(body) else "iptc7901"](body, reading)


# The formats: name → pure parser. One line per format.
PARSERS: dict[str, Parser] = {
    "ninjs": parse_json,
    "ndjson": parse_ndjson,
    "xml": parse_xml_document,
    "anpa1312": _wire_item("anpa1312", anpa.story_from_anpa),
    "iptc7901": _wire_item("iptc7901", iptc7901.story_from_iptc7901),
    "text-wire": parse_text_wire,
}

# Media type → format in PARSERS.
CONTENT_TYPES: dict[str, str] = {
    "application/json": "ninjs",
    "application/vnd.iptc.ninjs+json": "ninjs",
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "application/xml": "xml",
    "text/xml": "xml",
    "application/nitf+xml": "xml",
    "application/vnd.iptc.g2.newsitem+xml": "xml",
    "application/vnd.iptc.g2.newsmessage+xml": "xml",
    "application/vnd.iptc.g2.packageitem+xml": "xml",
    "application/vnd.iptc.newsml+xml": "xml",
    "application/x-anpa-1312": "anpa1312",
    "application/x-iptc-7901": "iptc7901",
    "text/plain": "text-wire",
}
JSON_TYPES = {kind for kind, name in CONTENT_TYPES.items() if name == "ninjs"}
NDJSON_TYPES = {kind for kind, name in CONTENT_TYPES.items() if name == "ndjson"}
XML_TYPES = {kind for kind, name in CONTENT_TYPES.items() if name == "xml"}
WIRE_TYPES = {kind for kind, name in CONTENT_TYPES.items() if name in ("anpa1312", "iptc7901", "text-wire")}
ACCEPTED_TYPES = sorted(CONTENT_TYPES)


def read_items(
    body: bytes,
    content_type: str | None,
    reading: Reading | str,
    schemas: Any = None,
    max_original: int | None = None,
) -> Parsed:
    """The items of one request, read as its content type says."""
    kind, params = media_type(content_type)
    name = CONTENT_TYPES.get(kind)
    if name is None:
        raise UnsupportedType(kind or "(none)")
    base = reading if isinstance(reading, Reading) else Reading(reading)
    updates: dict[str, Any] = {"declared_version": params.get("version"), "warnings": []}
    if schemas is not None:
        updates["schemas"] = schemas
    if max_original is not None:
        updates["max_original"] = max_original
    return PARSERS[name](body, replace(base, **updates))


def sniff(body: bytes) -> str:
    """The format name a file's bytes look like (for `newsroom check`, which has no content type)."""
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"[" or (start == b"{" and body.strip().count(b"\n{") == 0):
        return "ninjs"
    if start == b"{":
        return "ndjson"
    if start == b"<":
        return "xml"
    return "text-wire"
