"""`newsroom check FILE…`: how ingest would read a partner's file, without Redis or HTTP.

For a partner's integration engineer debugging a feed before sending it: the
format detected, then per item its id, version, type, headline, body length,
dates, renditions, associations and warnings — or why it would be refused.
The same parsers and acceptance policy as `POST /v1/stories` (pure; no I/O here).
"""

from __future__ import annotations

from typing import Any

from services.ingest.formats import PARSERS, sniff
from services.ingest.items import ItemError, ParsedItem, PayloadError, Reading
from services.ingest.sanitising import html_to_text
from shared.untrusted import terminal_text

_DATES = ("firstcreated", "versioncreated", "embargoed", "expires")


def check_file(body: bytes, reading: Reading, format_name: str | None = None) -> dict[str, Any]:
    """The report for one file: `format`, and `items` (or `problem` if the whole file is unreadable)."""
    name = format_name or sniff(body)
    try:
        parsed = PARSERS[name](body, reading)
    except (PayloadError, ItemError) as exc:
        where = exc.where if isinstance(exc, ItemError) else exc.where or ""
        return {"format": name, "problem": {"where": where, "detail": exc.detail}, "items": []}
    items = [_item(item) for item in parsed.items]
    # The table's entry point ("xml", "text-wire") is less telling than what each item turned out to be.
    found = sorted({item["format"] for item in items})
    return {"format": ", ".join(found) or name, "batch": parsed.batch, "items": items}


def _item(item: ParsedItem) -> dict[str, Any]:
    report: dict[str, Any] = {"format": item.source_format}
    if item.skipped:
        report["skipped"] = item.skipped
    if item.error is not None:
        report["refused"] = {"where": item.error.where, "detail": item.error.detail}
    story = item.story
    if story is not None:
        report.update(
            {
                "id": story.uri,
                "version": story.version,
                "type": story.type,
                "pubstatus": story.pubstatus,
                "headline": story.headline,
                "body_chars": len(html_to_text(story.body_html)),
                "language": story.language,
                "urgency": story.urgency,
                "byline": story.byline,
                "slugline": story.slugline,
                "description": story.description or None,
                "credit": story.credit,
                "dates": {d: value.isoformat() for d in _DATES if (value := getattr(story, d))},
                "subjects": [s.code or s.uri or s.name for s in story.subjects],
                "renditions": [r.model_dump(exclude_none=True) for r in story.renditions],
                "associations": [a.model_dump(exclude_none=True) for a in story.associations],
            }
        )
    report["warnings"] = [w.model_dump() for w in item.warnings]
    return report


def as_text(path: str, report: dict[str, Any]) -> str:
    """The report as an engineer reads it in a terminal (values already made terminal-safe)."""
    lines = [f"{path}: {report['format']}" + (" (batch)" if report.get("batch") else "")]
    if "problem" in report:
        lines.append(f"  unreadable at {report['problem']['where']}: {report['problem']['detail']}")
    for index, item in enumerate(report["items"]):
        head = f"  [{index}] " if len(report["items"]) > 1 else "  "
        prefix = " " * len(head) + "  "
        if "skipped" in item:
            lines.append(f"{head}skipped: {item['skipped']}")
            continue
        if "refused" in item:
            lines.append(f"{head}REFUSED (422) at {item['refused']['where']}: {item['refused']['detail']}")
        else:
            lines.append(
                f"{head}accepted: {item['id']} v{item['version']} {item['type']} ({item['pubstatus']})"
            )
            lines.append(f"{prefix}headline: {item['headline']!r}")
            lines.append(f"{prefix}body: {item['body_chars']} characters")
            for key in ("language", "urgency", "byline", "slugline", "description", "credit"):
                if item[key] is not None:
                    lines.append(f"{prefix}{key}: {item[key]}")
            for key, value in item["dates"].items():
                lines.append(f"{prefix}{key}: {value}")
            if item["subjects"]:
                lines.append(f"{prefix}subjects: {', '.join(map(str, item['subjects']))}")
            for rendition in item["renditions"]:
                shown = " ".join(f"{k}={v}" for k, v in rendition.items())
                lines.append(f"{prefix}rendition: {shown}")
            for association in item["associations"]:
                lines.append(
                    f"{prefix}association {association['name']}: {association['uri']}"
                    f" ({association.get('type') or '?'})"
                )
        for warning in item["warnings"]:
            value = f" {warning['value']!r}" if warning["value"] else ""
            lines.append(f"{prefix}warning {warning['field']}{value}: {warning['action']}")
    return "\n".join(terminal_text(line) for line in lines)
