"""Which format a request carries, and the items in it (pure; no I/O).

JSON (`application/json`, `application/vnd.iptc.ninjs+json`): one ninjs item, or
an array of items (a batch). NDJSON (`application/x-ndjson`): one ninjs item per
line (a batch). XML (`application/xml`, `text/xml`, `application/nitf+xml`,
`application/vnd.iptc.g2.*+xml`): a NewsML-G2 newsItem, a newsMessage (a
batch), or an NITF document. An explicit ninjs version may be declared with the
media type parameter `version=` (e.g. `application/vnd.iptc.ninjs+json; version=1.0`);
otherwise it is read from the payload.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from services.ingest.items import ItemError, ParsedItem, PayloadError, pointer
from services.ingest.newsml import is_newsml, items_from_newsml
from services.ingest.ninjs import detect_version, story_from_ninjs
from services.ingest.nitf import is_nitf, story_from_nitf
from services.ingest.schemas import NinjsSchemas
from services.ingest.xmldocs import local, parse_xml

JSON_TYPES = {"application/json", "application/vnd.iptc.ninjs+json"}
NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl"}
XML_TYPES = {
    "application/xml",
    "text/xml",
    "application/nitf+xml",
    "application/vnd.iptc.g2.newsitem+xml",
    "application/vnd.iptc.g2.newsmessage+xml",
}
ACCEPTED_TYPES = sorted(JSON_TYPES | NDJSON_TYPES | XML_TYPES)


class UnsupportedType(ValueError):
    pass


@dataclass(frozen=True)
class Parsed:
    items: list[ParsedItem]
    batch: bool


def media_type(header: str | None) -> tuple[str, dict[str, str]]:
    """`type/subtype` in lower case and its parameters."""
    main, *params = (header or "").split(";")
    parameters = {}
    for param in params:
        key, _, value = param.partition("=")
        parameters[key.strip().lower()] = value.strip().strip('"')
    return main.strip().lower(), parameters


def read_items(
    body: bytes, content_type: str | None, partner: str, schemas: NinjsSchemas, max_original: int
) -> Parsed:
    kind, params = media_type(content_type)
    if kind in JSON_TYPES:
        return _json(body, partner, schemas, params.get("version"), max_original)
    if kind in NDJSON_TYPES:
        return _ndjson(body, partner, schemas, params.get("version"), max_original)
    if kind in XML_TYPES:
        return _xml(body, partner, max_original)
    raise UnsupportedType(kind or "(none)")


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


def _integer(text: str) -> int | _Unrepresentable:
    return int(text) if len(text.lstrip("-")) <= sys.get_int_max_str_digits() else _Unrepresentable(text)


def _real(text: str) -> float | _Unrepresentable:
    number = float(text)
    return number if math.isfinite(number) else _Unrepresentable(text)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


MAX_JSON_DEPTH = 100
"""Deepest array/object nesting accepted (ninjs needs under 10). Deeper documents that the
decoder still reads would exhaust the stack later, when an item is re-encoded or walked."""


def _decode_json(text: str, line_offset: int = 0) -> Any:
    try:
        document = json.loads(text, parse_int=_integer, parse_float=_real, parse_constant=_Unrepresentable)
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
        depth = _depth(document)
    if depth > MAX_JSON_DEPTH:
        raise PayloadError(
            "invalid-json",
            "Body is not valid JSON",
            f"arrays and objects are nested more than {MAX_JSON_DEPTH} levels deep; "
            "no news format needs that many",
        )
    return document


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
    item: Any,
    partner: str,
    schemas: NinjsSchemas,
    declared: str | None,
    original: Callable[[], bytes],
    prefix: str,
) -> ParsedItem:
    unreadable = _unrepresentable(item)
    if unreadable is not None:
        return ParsedItem(
            "ninjs", b"", error=ItemError(prefix + unreadable.where.rstrip("/"), unreadable.detail)
        )
    if not isinstance(item, dict):
        return ParsedItem(
            "ninjs", original(), error=ItemError(prefix or "/", "a ninjs item must be a JSON object")
        )
    version = detect_version(item, declared)
    source = f"ninjs{version.split('.')[0]}"
    try:
        schemas.check(item, version)
        return ParsedItem(source, original(), story=story_from_ninjs(item, partner, version))
    except ItemError as exc:
        return ParsedItem(source, original(), error=ItemError(prefix + exc.where.rstrip("/"), exc.detail))


def _head(original: bytes, cap: int) -> bytes:
    return original[:cap]


def _dumped(item: Any, cap: int) -> bytes:
    return json.dumps(item).encode()[:cap]


def _json(body: bytes, partner: str, schemas: NinjsSchemas, declared: str | None, cap: int) -> Parsed:
    document = _decode_json(_text(body))
    if isinstance(document, list):
        if not document:
            raise ItemError("/", "an empty array carries no items")
        return Parsed(
            [
                _ninjs_item(
                    item,
                    partner,
                    schemas,
                    declared,
                    partial(_dumped, item, cap),
                    f"/{index}",
                )
                for index, item in enumerate(document)
            ],
            batch=True,
        )
    return Parsed(
        [_ninjs_item(document, partner, schemas, declared, partial(_head, body, cap), "")], batch=False
    )


def _ndjson(body: bytes, partner: str, schemas: NinjsSchemas, declared: str | None, cap: int) -> Parsed:
    text = _text(body)
    items = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        item = _decode_json(line, line_offset=number - 1)
        items.append(_ninjs_item(item, partner, schemas, declared, partial(_head, line.encode(), cap), ""))
    if not items:
        raise ItemError("/", "the NDJSON body carries no items")
    return Parsed(items, batch=True)


def _xml(body: bytes, partner: str, cap: int) -> Parsed:
    root = parse_xml(body)
    if is_nitf(root):
        try:
            return Parsed([ParsedItem("nitf", body[:cap], story=story_from_nitf(root, partner))], False)
        except ItemError as exc:
            return Parsed([ParsedItem("nitf", body[:cap], error=exc)], False)
    if is_newsml(root):
        items = items_from_newsml(root, partner, cap)
        return Parsed(items, batch=local(root.tag) == "newsMessage")
    raise ItemError(f"/{local(root.tag)}", "not a NewsML-G2 newsItem/newsMessage or an NITF document")
