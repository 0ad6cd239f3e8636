"""Formatting an enriched story for outlets (pure)."""

from __future__ import annotations

from typing import Any

from shared.events import StoryEnriched
from shared.story import EntityTag


def _tag(tag: EntityTag) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tag.name}
    for field in ("uri", "rel", "literal"):
        value = getattr(tag, field)
        if value:
            out[field] = value
    return out


def to_ninjs(enriched: StoryEnriched) -> dict[str, Any]:
    """The story as a ninjs 2.2 item."""
    story, extra = enriched.story, enriched.enrichment
    item: dict[str, Any] = {
        "uri": story.uri,
        "type": story.type,
        "version": str(story.version),
        "pubstatus": story.pubstatus,
        "headlines": [{"role": "main", "value": story.headline}],
    }
    if story.versioncreated:
        item["versioncreated"] = story.versioncreated.isoformat()
    if story.firstcreated:
        item["firstcreated"] = story.firstcreated.isoformat()
    if story.embargoed:
        item["embargoed"] = story.embargoed.isoformat()
    if story.urgency is not None:
        item["urgency"] = story.urgency
    if story.language:
        item["language"] = story.language
    if story.byline:
        item["byline"] = story.byline
    if story.located:
        item["located"] = story.located
    if story.body_html:
        item["bodies"] = [{"role": "main", "contenttype": "text/html", "value": story.body_html}]
    if story.description:
        item["descriptions"] = [{"role": "summary", "contenttype": "text/plain", "value": story.description}]
    for field in ("people", "organisations", "places"):
        tags = getattr(extra, field)
        if tags:
            item[field] = [_tag(t) for t in tags]
    if extra.related:
        item["associations"] = [
            {
                "name": f"related{n}",
                "rel": "related",
                "uri": link.uri,
                "headlines": [{"value": link.headline}],
            }
            for n, link in enumerate(extra.related, start=1)
        ]
    return item


def event_type(enriched: StoryEnriched) -> str:
    if enriched.received_as == "kill" or enriched.story.pubstatus == "canceled":
        return "story.killed"
    if enriched.story.version > 1 or enriched.received_as == "update":
        return "story.updated"
    return "story.published"
