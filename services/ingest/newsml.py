"""NewsML-G2 XML (a `newsItem`, or a `newsMessage` carrying several) → Stories (pure).

Reads `@guid`/`@version`, `itemMeta` (versionCreated, firstCreated, embargoed,
pubStatus), `contentMeta` (headline, description, urgency, located, by/creator,
language, subject, genre, slugline) and the body from `contentSet/inlineXML`
(NITF or XHTML) or `inlineData` (text). Errors name the element by XPath.
Items that are not news items (packages, concepts, planning) are reported as
skipped inside a message and refused on their own.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, tostring

from pydantic import ValidationError

from services.ingest.dates import parse_datetime
from services.ingest.items import ItemError, ParsedItem, urgency_number, version_number
from services.ingest.nitf import nitf_body_html
from services.ingest.sanitising import clean_html, html_to_text, text_to_html
from services.ingest.xmldocs import attribute, child, children, inner_markup, lang_of, local, text_of
from shared.story import Story, Subject

_STATUS = {"usable": "usable", "withheld": "withheld", "canceled": "canceled"}
FORMAT = "newsml-g2"


def is_newsml(root: Element) -> bool:
    return local(root.tag) in ("newsItem", "newsMessage") or local(root.tag).endswith("Item")


def items_from_newsml(root: Element, partner: str, max_original: int) -> list[ParsedItem]:
    """One ParsedItem per item: a story, an ItemError, or a skip note for non-news items."""
    name = local(root.tag)
    if name == "newsItem":
        return [_parse(root, partner, "/newsItem", max_original)]
    if name != "newsMessage":
        raise ItemError(f"/{name}", f"a {name} is not a news item; send a newsItem or a newsMessage")
    item_set = child(root, "itemSet")
    if item_set is None:
        raise ItemError("/newsMessage/itemSet", "required: the items this message carries")
    results: list[ParsedItem] = []
    counts: dict[str, int] = {}
    for element in item_set:
        kind = local(element.tag)
        if not kind:
            continue
        counts[kind] = counts.get(kind, 0) + 1
        path = f"/newsMessage/itemSet/{kind}[{counts[kind]}]"
        if kind == "newsItem":
            results.append(_parse(element, partner, path, max_original))
        else:
            results.append(
                ParsedItem(FORMAT, b"", skipped=f"{path}: a {kind} is not a news item; not ingested")
            )
    if not any(r.skipped is None for r in results):
        raise ItemError("/newsMessage/itemSet", "the message carries no newsItem")
    return results


def _parse(item: Element, partner: str, path: str, max_original: int) -> ParsedItem:
    original = tostring(item, encoding="utf-8")[:max_original]
    try:
        return ParsedItem(FORMAT, original, story=story_from_news_item(item, partner, path))
    except ItemError as exc:
        return ParsedItem(FORMAT, original, error=exc)


def story_from_news_item(item: Element, partner: str, path: str = "/newsItem") -> Story:
    guid = attribute(item, "guid")
    if not guid:
        raise ItemError(f"{path}/@guid", "required: the item's globally unique identifier")
    version = version_number(attribute(item, "version") or "1", f"{path}/@version")
    meta, content = child(item, "itemMeta"), child(item, "contentMeta")
    meta_path, content_path = f"{path}/itemMeta", f"{path}/contentMeta"
    status_qcode = attribute(child(meta, "pubStatus"), "qcode") or "stat:usable"
    status = _STATUS.get(status_qcode.rsplit(":", 1)[-1])
    if status is None:
        raise ItemError(
            f"{meta_path}/pubStatus/@qcode", f"{status_qcode!r} is not stat:usable/withheld/canceled"
        )
    language = attribute(child(content, "language"), "tag") or lang_of(item)
    by = text_of(child(content, "by")) or text_of(child(content, "creator", "name"))
    fields: dict[str, Any] = {
        "partner": partner,
        "uri": guid,
        "version": version,
        "pubstatus": status,
        "versioncreated": _date(meta, "versionCreated", meta_path),
        "firstcreated": _date(meta, "firstCreated", meta_path),
        "embargoed": _date(meta, "embargoed", meta_path),
        "expires": _date(meta, "expires", meta_path) or _date(content, "expires", content_path),
        "urgency": _urgency(content, content_path),
        "language": language,
        "headline": text_of(child(content, "headline")) or "",
        "description": text_of(child(content, "description")) or "",
        "byline": by,
        "located": text_of(child(content, "located", "name")) or text_of(child(content, "dateline")),
        "slugline": text_of(child(content, "slugline")),
        "subjects": [
            Subject(name=text_of(child(s, "name")), code=attribute(s, "qcode"), uri=attribute(s, "uri"))
            for s in ([] if content is None else children(content, "subject"))
        ],
        "genres": [g for e in ([] if content is None else children(content, "genre")) if (g := _concept(e))],
        "body_html": _body(child(item, "contentSet")),
    }
    if not fields["description"] and (summary := child(content, "description")) is not None:
        fields["description"] = html_to_text(inner_markup(summary))
    try:
        return Story.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ItemError(path, f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None


def _date(parent: Element | None, name: str, where: str) -> Any:
    return parse_datetime(text_of(child(parent, name)), f"{where}/{name}")


def _urgency(content: Element | None, where: str) -> int | None:
    text = text_of(child(content, "urgency"))
    if text is None:
        return None
    return urgency_number(text, f"{where}/urgency")


def _concept(element: Element) -> str | None:
    return text_of(child(element, "name")) or attribute(element, "qcode")


def _body(content_set: Element | None) -> str:
    if content_set is None:
        return ""
    inline_xml = child(content_set, "inlineXML")
    if inline_xml is not None:
        nitf = next((e for e in inline_xml if local(e.tag) == "nitf"), None)
        if nitf is not None:
            return nitf_body_html(nitf)
        body = next((e for e in inline_xml.iter() if local(e.tag) == "body"), None)
        return clean_html(inner_markup(body if body is not None else inline_xml))
    inline_data = child(content_set, "inlineData")
    if inline_data is not None:
        return text_to_html("".join(inline_data.itertext()))
    return ""
