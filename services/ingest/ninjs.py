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

from services.ingest.dates import read_datetime
from services.ingest.items import (
    ItemError,
    PayloadError,
    Reading,
    pointer,
    refuse_if_blank,
    version_number,
    whole_number,
)
from services.ingest.nitf import nitf_body_html
from services.ingest.sanitising import clean_html, html_to_text, text_to_html
from services.ingest.subjects import with_parents
from services.ingest.xmldocs import parse_xml
from shared.story import MEDIA_TYPES, Association, Picture, Rendition, Story, Subject

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


def story_from_ninjs(item: Any, reading: Reading, version: str) -> Story:
    """Normalise one ninjs item (its schema, if any, already checked or linted)."""
    if not isinstance(item, dict):
        raise ItemError("/", "a ninjs item must be a JSON object")
    generation = version.split(".")[0] if _GENERATION.match(version) else "2"
    created_key, first_key, status_key, embargo_key = _NAMES[generation]

    uri = item.get("uri", item.get("guid"))
    if not isinstance(uri, str) or not uri.strip():
        raise ItemError("/uri", "required: the item's unique identifier (a non-empty string)")

    def date(*keys: str, required: bool = False) -> Any:
        for key in dict.fromkeys(keys):
            if item.get(key) is not None:
                found = read_datetime(item[key], pointer(key), reading, required=required)
                if found is not None:
                    return found
        return None

    def text(key: str) -> str | None:
        return _text(item.get(key), pointer(key), reading)

    kind = text("type") or "text"
    fields: dict[str, Any] = {
        "partner": reading.partner,
        "uri": uri.strip(),
        "version": _version(item.get("version")),
        # Dates only in contentCreated/contentModified fill the item's own when it has none.
        "versioncreated": date(created_key, "versioncreated", "contentModified", "contentmodified"),
        "firstcreated": date(first_key, "firstcreated", "contentCreated", "contentcreated"),
        "embargoed": date(embargo_key, required=True),
        "expires": date("expires"),
        "pubstatus": _pubstatus(item.get(status_key), pointer(status_key), reading),
        "urgency": _urgency(item.get("urgency"), reading),
        "language": text("language"),
        "type": kind,
        # Real feeds mix generations (a 2.x item with 1.x `byline`) and add their own
        # `bylines`/`authors`: every spelling is read rather than dropped.
        "byline": text("by") or text("byline") or _people(item, reading),
        "located": text("located"),
        "slugline": text("slugline"),
        "renditions": _renditions(item.get("renditions"), reading),
        "associations": _associations(item.get("associations")),
    }
    media = kind in MEDIA_TYPES
    if generation == "1":
        fields["headline"] = text("headline") or ""
        fields["body_html"] = _body_v1(item)
        fields["description"] = _description_v1(item)
        fields["subjects"] = _subjects(item.get("subject") or item.get("subjects"))
        fields["genres"] = _names(item.get("genre") or item.get("genres"))
    else:
        headline = _pick_value(item.get("headlines"), "/headlines", ("main", "", None), reading)
        fields["headline"] = headline or text("headline") or ""
        fields["body_html"] = _body_v2(item.get("bodies"), reading) or _body_v1(item)
        roles = ("caption", "summary", "text", "", None) if media else ("summary", "text", "", None)
        described = _pick_value(item.get("descriptions"), "/descriptions", roles, reading)
        fields["description"] = html_to_text(described or "") or _description_v1(item)
        fields["subjects"] = _subjects(item.get("subjects") or item.get("subject"))
        fields["genres"] = _names(item.get("genres") or item.get("genre"))
    fields["subjects"] = with_parents(fields["subjects"])
    if kind == "text":
        # A text item's pictures illustrate it (the photo and caption under its headline);
        # only a package's associations are members of their own.
        fields["pictures"] = _pictures(item.get("associations"), fields["associations"])
        fields["associations"] = [a for a in fields["associations"] if a.type not in MEDIA_TYPES]
    if not fields["headline"]:
        fields["headline"] = text("title") or ""
    try:
        story = Story.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ItemError(pointer(*err["loc"]), err["msg"]) from None
    return refuse_if_blank(
        story,
        "/",
        "a headline (headline, headlines[], title), a body (body_html, body_html5, body_xhtml, "
        "body_text, bodies[]), a description, renditions or associations",
    )


def _version(raw: Any) -> int:
    if raw is None:
        return 1
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise ItemError("/version", f"{raw!r} is not a whole, non-negative version number")
    return version_number(raw, "/version")


def _pubstatus(raw: Any, where: str, reading: Reading) -> str:
    if raw is None:
        return "usable"
    if raw not in ("usable", "withheld", "canceled"):
        reading.warn(where, raw, "not one of usable, withheld, canceled; read as usable")
        return "usable"
    return str(raw)


def _urgency(raw: Any, reading: Reading) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, str) and (quoted := whole_number(raw)) is not None:
        raw = quoted  # some agencies quote it
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw not in range(1, 10):
        reading.warn("/urgency", raw, "not a whole number from 1 (highest) to 9; dropped")
        return None
    return int(raw)


def _text(raw: Any, where: str, reading: Reading) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        reading.warn(where, raw, f"expected a string, got {type(raw).__name__}; dropped")
        return None
    return raw.strip() or None


def _people(item: dict[str, Any], reading: Reading) -> str | None:
    """A byline from agencies' `bylines` / `authors` lists (names or {byline|name})."""
    for key in ("bylines", "authors"):
        entries = item.get(key)
        if not isinstance(entries, list):
            continue
        names = []
        for entry in entries:
            if isinstance(entry, str):
                names.append(entry.strip())
            elif isinstance(entry, dict):
                value = entry.get("byline") or entry.get("name") or entry.get("value")
                if isinstance(value, str):
                    names.append(value.strip())
        if names := [n for n in names if n]:
            return ", ".join(names)
    return None


def _pick_value(entries: Any, where: str, roles: tuple[str | None, ...], reading: Reading) -> str | None:
    """The `value` of the entry whose role comes first in `roles`, else of the first entry."""
    if entries is None:
        return None
    if not isinstance(entries, list):
        reading.warn(where, entries, "expected an array of objects with a 'value'; dropped")
        return None
    usable = [(i, e) for i, e in enumerate(entries) if isinstance(e, dict) and "value" in e]
    if not usable:
        return None
    for role in roles:
        for _, entry in usable:
            if entry.get("role") == role:
                return _text(entry["value"], f"{where}/{entries.index(entry)}/value", reading)
    # A caption describes a picture, never the text item it came with.
    usable = [(i, e) for i, e in usable if "caption" in roles or e.get("role") != "caption"]
    if not usable:
        return None
    index, entry = usable[0]
    return _text(entry["value"], f"{where}/{index}/value", reading)


def _body_v1(item: dict[str, Any]) -> str:
    for key in ("body_html", "body_html5", "body_xhtml"):
        if isinstance(item.get(key), str) and item[key].strip():
            return clean_html(item[key])
    if isinstance(item.get("body_text"), str):
        return text_to_html(item["body_text"])
    return ""


def _description_v1(item: dict[str, Any]) -> str:
    for key in ("description_text", "description_html", "description_xhtml"):
        if isinstance(item.get(key), str):
            return html_to_text(item[key])
    return ""


def _body_v2(bodies: Any, reading: Reading) -> str:
    if bodies is None:
        return ""
    if not isinstance(bodies, list):
        reading.warn("/bodies", bodies, "expected an array of body objects; dropped")
        return ""
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
            reading.warn(f"/bodies/{best[1]}/value", exc.detail, "NITF body unreadable; dropped")
            return ""
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


def _renditions(raw: Any, reading: Reading) -> list[Rendition]:
    """ninjs renditions: an object keyed by name (1.x) or an array of objects with a name (2.x/3.x)."""
    entries = (
        list(raw.items()) if isinstance(raw, dict) else list(enumerate(raw)) if isinstance(raw, list) else []
    )
    renditions = []
    for key, entry in entries:
        if not isinstance(entry, dict):
            continue
        where = pointer("renditions", key)
        renditions.append(
            Rendition(
                name=str(entry.get("name") or (key if isinstance(key, str) else "")),
                href=_str_or_none(entry.get("href")),
                mediatype=_str_or_none(
                    entry.get("mimetype") or entry.get("contenttype") or entry.get("contentType")
                ),
                width=_count(entry.get("width"), f"{where}/width", reading),
                height=_count(entry.get("height"), f"{where}/height", reading),
                duration=_seconds(entry.get("duration"), f"{where}/duration", reading),
                size=_count(
                    entry.get("sizeinbytes", entry.get("sizeInBytes", entry.get("size"))),
                    f"{where}/size",
                    reading,
                ),
            )
        )
    return renditions


def _associations(raw: Any) -> list[Association]:
    """ninjs associations: an object keyed by name (1.x/2.x) or an array of objects with a name (3.x)."""
    entries = (
        list(raw.items()) if isinstance(raw, dict) else list(enumerate(raw)) if isinstance(raw, list) else []
    )
    associations = []
    for key, entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("uri"), str):
            continue
        headline = entry.get("headline")
        if not isinstance(headline, str) and isinstance(entry.get("headlines"), list) and entry["headlines"]:
            first = entry["headlines"][0]
            headline = first.get("value") if isinstance(first, dict) else None
        description = entry.get("description_text") or entry.get("description")
        if not isinstance(description, str) and isinstance(entry.get("descriptions"), list):
            description = next(
                (d.get("value") for d in entry["descriptions"] if isinstance(d, dict) and d.get("value")),
                None,
            )
        associations.append(
            Association(
                name=str(entry.get("name") or (key if isinstance(key, str) else f"member{key + 1}")),
                uri=entry["uri"],
                type=_str_or_none(entry.get("type")),
                headline=_str_or_none(headline),
                description=_str_or_none(description),
            )
        )
    return associations


def _pictures(raw: Any, associations: list[Association]) -> list[Picture]:
    """The picture associations of a text item, with the file a page shows, caption and credit."""
    entries = list(raw.values()) if isinstance(raw, dict) else raw if isinstance(raw, list) else []
    by_uri = {e["uri"]: e for e in entries if isinstance(e, dict) and isinstance(e.get("uri"), str)}
    pictures = []
    for association in associations:
        if association.type != "picture":
            continue
        entry = by_uri.get(association.uri, {})
        files = _renditions(entry.get("renditions"), Reading(""))
        best = max((r for r in files if r.href), key=lambda r: (r.width or 0) * (r.height or 0), default=None)
        credit = next((v for k in ("creditline", "by", "byline") if isinstance(v := entry.get(k), str)), None)
        pictures.append(
            Picture(
                uri=best.href if best else association.uri,
                caption=association.description or association.headline,
                credit=credit,
                language=_str_or_none(entry.get("language")),
            )
        )
    return pictures


def _count(raw: Any, where: str, reading: Reading) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        reading.warn(where, raw, "not a whole, non-negative number; dropped")
        return None
    return raw


def _seconds(raw: Any, where: str, reading: Reading) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw < 1e12:
        reading.warn(where, raw, "not a duration in seconds; dropped")
        return None
    return float(raw)


def _names(raw: Any) -> list[str]:
    if not isinstance(raw, list):
        return []
    return [str(e.get("name") or e.get("code") or e.get("uri")) for e in raw if isinstance(e, dict)]


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
