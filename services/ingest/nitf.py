"""NITF (News Industry Text Format) XML → the canonical Story (pure; no I/O).

Identity comes from `head/docdata/doc-id/@id-string`, the version from
`du-key/@version`; dates use NITF's `norm` attributes (ISO 8601 basic or
extended); `date.release` is the embargo, `date.expire` the expiry;
`docdata/@management-status` the publication status.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from pydantic import ValidationError

from services.ingest.dates import parse_datetime
from services.ingest.items import ItemError, urgency_number, version_number
from services.ingest.sanitising import clean_html, html_to_text
from services.ingest.xmldocs import attribute, child, children, inner_markup, lang_of, local, text_of
from shared.story import Story, Subject

_STATUS = {"usable": "usable", "embargoed": "usable", "withheld": "withheld", "canceled": "canceled"}


def is_nitf(root: Element) -> bool:
    return local(root.tag) == "nitf"


def nitf_body_html(nitf: Element) -> str:
    """Sanitised HTML of `body/body.content` (the article text without headline block)."""
    content = child(nitf, "body", "body.content")
    return clean_html(inner_markup(content)) if content is not None else ""


def story_from_nitf(nitf: Element, partner: str, base: str = "/nitf") -> Story:
    docdata = child(nitf, "head", "docdata")
    where = f"{base}/head/docdata"
    uri = attribute(child(docdata, "doc-id"), "id-string")
    if not uri:
        raise ItemError(f"{where}/doc-id/@id-string", "required: the item's unique identifier")
    version = version_number(
        attribute(child(docdata, "du-key"), "version") or "1", f"{where}/du-key/@version"
    )
    status_raw = attribute(docdata, "management-status") or "usable"
    if status_raw not in _STATUS:
        raise ItemError(f"{where}/@management-status", f"{status_raw!r} is not usable/withheld/canceled")
    head = child(nitf, "body", "body.head")
    urgency_text = attribute(child(docdata, "urgency"), "ed-urg")
    fields: dict[str, Any] = {
        "partner": partner,
        "uri": uri,
        "version": version,
        "pubstatus": _STATUS[status_raw],
        "versioncreated": _norm(docdata, "date.issue", where),
        "embargoed": _norm(docdata, "date.release", where),
        "expires": _norm(docdata, "date.expire", where),
        "urgency": _urgency(urgency_text, f"{where}/urgency/@ed-urg"),
        "language": lang_of(nitf) or attribute(child(nitf, "body"), "lang") or _doc_lang(nitf),
        "headline": text_of(child(head, "hedline", "hl1")) or text_of(child(nitf, "head", "title")) or "",
        "description": html_to_text(inner_markup(a)) if (a := child(head, "abstract")) is not None else "",
        "byline": text_of(child(head, "byline")),
        "located": text_of(child(head, "dateline", "location")),
        "body_html": nitf_body_html(nitf),
        "subjects": [
            Subject(name=attribute(s, "tobject.subject.matter"), code=attribute(s, "tobject.subject.refnum"))
            for s in _all(child(nitf, "head", "tobject"), "tobject.subject")
        ],
    }
    try:
        return Story.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ItemError(base, f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def _norm(docdata: Element | None, name: str, where: str) -> Any:
    element = child(docdata, name)
    return parse_datetime(attribute(element, "norm"), f"{where}/{name}/@norm")


def _urgency(text: str | None, where: str) -> int | None:
    if text is None:
        return None
    return urgency_number(text, where)


def _doc_lang(nitf: Element) -> str | None:
    for meta in _all(child(nitf, "head"), "meta"):
        if attribute(meta, "name") in ("language", "lang"):
            return attribute(meta, "content")
    return None


def _all(parent: Element | None, name: str) -> list[Element]:
    return [] if parent is None else list(children(parent, name))
