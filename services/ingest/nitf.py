"""NITF (News Industry Text Format) XML → the canonical Story (pure; no I/O).

Identity, first found: `head/docdata/doc-id/@id-string`; an identifying
`head/meta` (`id`, `guid`, `uri`, `itemid`, AP's `APID`/`ap-*id`); else, as AP
sends `<doc-id regsrc="AP"/>` with no id-string, `<regsrc>:<du-key/@key>` (the
story's slug, stable over its versions) with a warning. No id at all refuses it.
The version is `du-key/@version` (or `@generation`); `date.issue` is both
versioncreated and firstcreated, `date.release` the embargo, `date.expire` the
expiry, `docdata/@management-status` the status. The slugline is AAP's
`meta[@name=anpa-keyword]`, else `du-key/@key`. The headline is `hedline/hl1`,
else `head/title`, else the first `hl1`/`title` anywhere. Bylines drop their
`<byttl>` (the writer's title). Subject refnums get their IPTC parents.
"""

from __future__ import annotations

import hashlib
from typing import Any
from xml.etree.ElementTree import Element

from services.ingest.dates import read_datetime
from services.ingest.items import ItemError, Reading, story_from, version_number, whole_number
from services.ingest.sanitising import clean_html, html_to_text
from services.ingest.subjects import with_parents
from services.ingest.xmldocs import (
    attribute,
    child,
    children,
    descendant,
    inner_markup,
    lang_of,
    local,
    text_of,
)
from shared.story import Story, Subject

FORMAT = "nitf"
_STATUS = {"usable": "usable", "embargoed": "usable", "withheld": "withheld", "canceled": "canceled"}
_ID_METAS = ("id", "guid", "uri", "itemid", "item-id", "apid", "ap-itemid", "ap-id", "ap-transref")


def is_nitf(root: Element) -> bool:
    return local(root.tag).lower() == "nitf"


def nitf_body_html(nitf: Element) -> str:
    """Sanitised HTML of `body/body.content` (the article text without headline block)."""
    content = descendant(child(nitf, "body") or nitf, "body.content")
    return clean_html(inner_markup(content)) if content is not None else ""


def story_from_nitf(nitf: Element, reading: Reading, base: str = "/nitf") -> Story:
    docdata = child(nitf, "head", "docdata")
    where = f"{base}/head/docdata"
    du_key = child(docdata, "du-key")
    head = child(nitf, "body", "body.head")
    headline, body_html = _headline(nitf, head), nitf_body_html(nitf)
    issued = _norm(docdata, "date.issue", where, reading)
    uri = _identity(nitf, docdata, du_key, reading, where, (headline, body_html[:500]))
    fields: dict[str, Any] = {
        "partner": reading.partner,
        "uri": uri,
        "version": _version(du_key, f"{where}/du-key"),
        "pubstatus": _status(docdata, reading, where),
        "versioncreated": issued,
        "firstcreated": issued,
        "embargoed": _norm(docdata, "date.release", where, reading, required=True),
        "expires": _norm(docdata, "date.expire", where, reading),
        "urgency": _urgency(
            attribute(child(docdata, "urgency"), "ed-urg"), f"{where}/urgency/@ed-urg", reading
        ),
        "language": lang_of(nitf)
        or attribute(child(nitf, "body"), "lang")
        or _meta(nitf, "language", "lang"),
        "headline": headline,
        "description": html_to_text(inner_markup(a)) if (a := child(head, "abstract")) is not None else "",
        "byline": _byline(child(head, "byline")),
        "located": text_of(child(head, "dateline", "location")),
        "slugline": _meta(nitf, "anpa-keyword") or attribute(du_key, "key"),
        "body_html": body_html,
        "subjects": with_parents(
            [
                Subject(
                    name=attribute(s, "tobject.subject.detail") or attribute(s, "tobject.subject.matter"),
                    code=attribute(s, "tobject.subject.refnum"),
                )
                for s in _all(child(nitf, "head", "tobject"), "tobject.subject")
            ]
        ),
    }
    return story_from(
        fields, base, "a headline (body.head/hedline/hl1, head/title, an inline hl1 or title) or body.content"
    )


def _identity(
    nitf: Element,
    docdata: Element | None,
    du_key: Element | None,
    reading: Reading,
    where: str,
    words: tuple[str, str],
) -> str:
    doc_id = child(docdata, "doc-id")
    if uri := attribute(doc_id, "id-string"):
        return uri
    for name in _ID_METAS:
        if uri := _meta(nitf, name):
            return uri
    source = attribute(doc_id, "regsrc") or "nitf"
    if key := attribute(du_key, "key"):
        reading.warn(f"{where}/doc-id/@id-string", "", f"absent; identified as {source}:{key} (du-key/@key)")
        return f"{source}:{key}"
    if doc_id is not None and (text := text_of(doc_id)):
        return text
    if doc_id is not None and any(words):
        # AP's NITF renditions carry `<doc-id regsrc="AP"/>` and nothing else that identifies
        # them: the item's own words do, so a resend is a duplicate (an edit is a new item).
        issued = attribute(child(docdata, "date.issue"), "norm") or ""
        uri = f"{source}:{stable_digest(source, issued, *words)}"
        reading.warn(f"{where}/doc-id/@id-string", "", f"absent; identified as {uri} (from its text)")
        return uri
    raise ItemError(
        f"{where}/doc-id/@id-string",
        "required: the item's unique identifier (looked for doc-id/@id-string, an id meta, du-key/@key)",
    )


def _version(du_key: Element | None, where: str) -> int:
    """`du-key/@version`, else `@generation`; unreadable refuses the item (the registry needs it)."""
    for name in ("version", "generation"):
        text = attribute(du_key, name)
        if text is not None:
            return version_number(text, f"{where}/@{name}")
    return 1


def _status(docdata: Element | None, reading: Reading, where: str) -> str:
    raw = (attribute(docdata, "management-status") or "usable").lower()
    if raw not in _STATUS:
        reading.warn(f"{where}/@management-status", raw, "not usable/withheld/canceled; read as usable")
        return "usable"
    return _STATUS[raw]


def _headline(nitf: Element, head: Element | None) -> str:
    return (
        text_of(child(head, "hedline", "hl1"))
        or text_of(child(nitf, "head", "title"))
        or text_of(descendant(nitf, "hl1"))
        or text_of(descendant(nitf, "title"))
        or ""
    )


def _byline(byline: Element | None) -> str | None:
    """The byline's words without `<byttl>` (e.g. 'By Alan Karben', not '… NITF Network News Online')."""
    if byline is None:
        return None
    parts = [byline.text or ""]
    for node in byline:
        if local(node.tag).lower() != "byttl":
            parts.append("".join(node.itertext()))
        parts.append(node.tail or "")
    return " ".join("".join(parts).split()).rstrip(",;/ ") or None


def _norm(docdata: Element | None, name: str, where: str, reading: Reading, *, required: bool = False) -> Any:
    element = child(docdata, name)
    return read_datetime(attribute(element, "norm"), f"{where}/{name}/@norm", reading, required=required)


def _urgency(text: str | None, where: str, reading: Reading) -> int | None:
    if text is None:
        return None
    number = whole_number(text)
    if number is None or not 1 <= number <= 9:
        reading.warn(where, text, "not a whole number from 1 (highest) to 9; dropped")
        return None
    return number


def _meta(nitf: Element, *names: str) -> str | None:
    for meta in _all(child(nitf, "head"), "meta"):
        if (attribute(meta, "name") or "").lower() in names:
            return attribute(meta, "content")
    return None


def _all(parent: Element | None, name: str) -> list[Element]:
    return [] if parent is None else list(children(parent, name))


def stable_digest(*parts: str) -> str:
    """A short, stable id from an item's own words (for formats that carry no id at all)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]
