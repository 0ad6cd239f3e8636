"""ninjs 1.x, 2.x and 3.x JSON → the canonical Story (pure; no I/O).

The generation is read from the payload: an explicit `$standard`/`standard`
version first, then camelCase names (3.x), then the 2.x plural arrays, else 1.x.
1.x has flat `headline`/`body_html`; 2.x has `headlines[]`/`bodies[]`; 3.x renames
to camelCase (`versionCreated`, `pubStatus`, `embargoedUntil`).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from services.ingest.dates import parse_datetime
from services.ingest.items import ItemError, PayloadError, pointer, version_number
from services.ingest.nitf import nitf_body_html
from services.ingest.sanitising import clean_html, html_to_text, text_to_html
from services.ingest.xmldocs import parse_xml
from shared.story import Story, Subject

_THREE_ONLY = {
    "versionCreated", "firstCreated", "pubStatus", "embargoedUntil", "contentCreated", "altIds",
    "copyrightHolder", "copyrightNotice", "edNote", "infoSources", "rightsInfo", "trustIndicators",
    "usageTerms", "eventDetails", "plannedCoverage", "representationType", "digitalSourceType",
}  # fmt: skip
_TWO_AND_UP = {
    "headlines", "bodies", "descriptions", "people", "organisations", "places", "subjects",
    "genres", "events", "objects", "infosources", "trustindicators", "by", "standard",
}  # fmt: skip

# Field names per generation: (versioncreated, firstcreated, pubstatus, embargoed)
_NAMES = {
    "1": ("versioncreated", "firstcreated", "pubstatus", "embargoed"),
    "2": ("versioncreated", "firstcreated", "pubstatus", "embargoed"),
    "3": ("versionCreated", "firstCreated", "pubStatus", "embargoedUntil"),
}


_GENERATION = re.compile(r"^[123](?:\.|$)")


def detect_version(item: dict[str, Any], declared: str | None = None) -> str:
    """ "1.4", "2.1", "3" …: the declared version, else the one the field names imply.

    Only 1.x, 2.x and 3.x are ninjs versions: any other declaration ("20", "2024-05-01", "")
    is no declaration, and the field names decide.
    """
    if declared and _GENERATION.match(declared):
        return declared
    for key in ("standard", "$standard"):
        standard = item.get(key)
        if isinstance(standard, dict) and isinstance(standard.get("version"), str):
            version: str = standard["version"].strip()
            if _GENERATION.match(version):
                return version
    keys = item.keys()
    if keys & _THREE_ONLY:
        return "3"
    if keys & _TWO_AND_UP:
        return "2"
    return "1"


def story_from_ninjs(item: Any, partner: str, version: str) -> Story:
    """Normalise one ninjs item already checked against its schema (if any)."""
    if not isinstance(item, dict):
        raise ItemError("/", "a ninjs item must be a JSON object")
    generation = version.split(".")[0] if _GENERATION.match(version) else "2"
    created_key, first_key, status_key, embargo_key = _NAMES[generation]

    uri = item.get("uri", item.get("guid"))
    if not isinstance(uri, str) or not uri.strip():
        raise ItemError("/uri", "required: the item's unique identifier (a non-empty string)")
    fields: dict[str, Any] = {
        "partner": partner,
        "uri": uri.strip(),
        "version": _version(item.get("version")),
        "versioncreated": parse_datetime(item.get(created_key), pointer(created_key)),
        "firstcreated": parse_datetime(item.get(first_key), pointer(first_key)),
        "embargoed": parse_datetime(item.get(embargo_key), pointer(embargo_key)),
        "expires": parse_datetime(item.get("expires"), "/expires"),
        "pubstatus": _pubstatus(item.get(status_key), pointer(status_key)),
        "urgency": _urgency(item.get("urgency")),
        "language": _text(item.get("language"), "/language"),
        "type": _text(item.get("type"), "/type") or "text",
        # Real feeds mix generations (a 2.x item with 1.x `byline`); without a schema
        # to refuse them, the 1.x name is read as a fallback rather than dropped.
        "byline": _text(item.get("by"), "/by") or _text(item.get("byline"), "/byline"),
        "located": _text(item.get("located"), "/located"),
        "slugline": _text(item.get("slugline"), "/slugline"),
    }
    if generation == "1":
        fields["headline"] = _text(item.get("headline"), "/headline") or ""
        fields["body_html"] = _body_v1(item)
        fields["description"] = _description_v1(item)
        fields["subjects"] = _subjects(item.get("subject"))
        fields["genres"] = _names(item.get("genre"))
    else:
        headline = _pick_value(item.get("headlines"), "/headlines", ("main", "", None))
        fields["headline"] = headline or _text(item.get("headline"), "/headline") or ""
        fields["body_html"] = _body_v2(item.get("bodies")) or _body_v1(item)
        described = _pick_value(item.get("descriptions"), "/descriptions", ("summary", "text", "", None))
        fields["description"] = html_to_text(described or "")
        fields["subjects"] = _subjects(item.get("subjects"))
        fields["genres"] = _names(item.get("genres"))
    if not fields["headline"]:
        fields["headline"] = _text(item.get("title"), "/title") or ""
    try:
        return Story.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ItemError(pointer(*err["loc"]), err["msg"]) from None


def _version(raw: Any) -> int:
    if raw is None:
        return 1
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ItemError("/version", f"{raw!r} is not a whole, non-negative version number")
    return version_number(raw, "/version")


def _pubstatus(raw: Any, where: str) -> str:
    if raw is None:
        return "usable"
    if raw not in ("usable", "withheld", "canceled"):
        raise ItemError(where, f"{raw!r} is not one of usable, withheld, canceled")
    return str(raw)


def _urgency(raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw not in range(1, 10):
        raise ItemError("/urgency", f"{raw!r} is not a whole number from 1 (highest) to 9")
    return int(raw)


def _text(raw: Any, where: str) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ItemError(where, f"expected a string, got {type(raw).__name__}")
    return raw.strip() or None


def _pick_value(entries: Any, where: str, roles: tuple[str | None, ...]) -> str | None:
    """The `value` of the entry whose role comes first in `roles`, else of the first entry."""
    if entries is None:
        return None
    if not isinstance(entries, list):
        raise ItemError(where, "expected an array of objects with a 'value'")
    usable = [(i, e) for i, e in enumerate(entries) if isinstance(e, dict) and "value" in e]
    if not usable:
        return None
    for role in roles:
        for _, entry in usable:
            if entry.get("role") == role:
                return _text(entry["value"], f"{where}/{entries.index(entry)}/value")
    index, entry = usable[0]
    return _text(entry["value"], f"{where}/{index}/value")


def _body_v1(item: dict[str, Any]) -> str:
    if isinstance(item.get("body_html"), str):
        return clean_html(item["body_html"])
    if isinstance(item.get("body_xhtml"), str):
        return clean_html(item["body_xhtml"])
    if isinstance(item.get("body_text"), str):
        return text_to_html(item["body_text"])
    return ""


def _description_v1(item: dict[str, Any]) -> str:
    for key in ("description_text", "description_html", "description_xhtml"):
        if isinstance(item.get(key), str):
            return html_to_text(item[key])
    return ""


def _body_v2(bodies: Any) -> str:
    if bodies is None:
        return ""
    if not isinstance(bodies, list):
        raise ItemError("/bodies", "expected an array of body objects")
    best: tuple[int, int] | None = None  # (rank, index): markup beats plain text
    for index, body in enumerate(bodies):
        if isinstance(body, dict) and isinstance(body.get("value"), str):
            rank = 0 if _kind(body) != "text" else 1
            if best is None or rank < best[0]:
                best = (rank, index)
    if best is None:
        return ""
    body = bodies[best[1]]
    kind = _kind(body)
    if kind == "nitf":
        try:
            return nitf_body_html(parse_xml(body["value"].encode()))
        except PayloadError as exc:
            raise ItemError(f"/bodies/{best[1]}/value", f"NITF body unreadable: {exc.detail}") from None
    return clean_html(body["value"]) if kind == "html" else text_to_html(body["value"])


def _kind(body: dict[str, Any]) -> str:
    declared = str(body.get("contenttype") or body.get("contentType") or body.get("role") or "").lower()
    if "nitf" in declared:
        return "nitf"
    return "html" if "html" in declared or "xml" in declared else "text"


def _subjects(raw: Any) -> list[Subject]:
    if not isinstance(raw, list):
        return []
    subjects = []
    for entry in raw:
        if isinstance(entry, dict):
            subjects.append(
                Subject(
                    name=_str_or_none(entry.get("name")),
                    uri=_str_or_none(entry.get("uri")),
                    code=_str_or_none(entry.get("code")),
                    rel=_str_or_none(entry.get("rel")),
                )
            )
    return subjects


def _names(raw: Any) -> list[str]:
    if not isinstance(raw, list):
        return []
    return [str(e.get("name") or e.get("code") or e.get("uri")) for e in raw if isinstance(e, dict)]


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
