"""ninjs JSON → the canonical Story (pure)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from shared.story import Story


class ItemError(ValueError):
    """A payload that cannot become a story; `pointer` says where (RFC 6901)."""

    def __init__(self, pointer: str, detail: str) -> None:
        super().__init__(f"{pointer}: {detail}")
        self.pointer = pointer
        self.detail = detail


def _first_text(items: Any, key: str = "value") -> str:
    if isinstance(items, list) and items and isinstance(items[0], dict):
        return str(items[0].get(key, ""))
    return ""


def story_from_ninjs(item: Any, partner: str) -> Story:
    """Normalise a ninjs 2.x item (the foundation's format; the ingest issue adds the rest)."""
    if not isinstance(item, dict):
        raise ItemError("", "a ninjs item must be a JSON object")
    uri = item.get("uri") or item.get("guid")
    if not isinstance(uri, str) or not uri.strip():
        raise ItemError("/uri", "required: the item's unique identifier")
    version_raw = item.get("version", "1")
    try:
        version = int(str(version_raw))
    except ValueError:
        raise ItemError("/version", f"{version_raw!r} is not a whole number") from None
    headline = item.get("headline") or _first_text(item.get("headlines"))
    body = item.get("body_html") or _first_text(item.get("bodies"))
    fields = {
        "partner": partner,
        "uri": uri,
        "version": version,
        "versioncreated": item.get("versioncreated"),
        "firstcreated": item.get("firstcreated"),
        "pubstatus": item.get("pubstatus", "usable"),
        "embargoed": item.get("embargoed"),
        "expires": item.get("expires"),
        "urgency": item.get("urgency"),
        "language": item.get("language"),
        "headline": headline,
        "body_html": body,
        "byline": item.get("byline"),
        "located": item.get("located"),
    }
    try:
        return Story.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ItemError("/" + "/".join(str(p) for p in err["loc"]), err["msg"]) from None
