"""NewsML-G2 XML (a news or package item, or a `newsMessage` carrying several) → Stories (pure).

Reads `@guid`/`@version`, `itemMeta` (itemClass → type, versionCreated,
firstCreated, embargoed, pubStatus), `contentMeta` (headline, description,
urgency, located, by/creator, creditline, language, subject, genre, slugline;
contentCreated/contentModified fill the dates when itemMeta has none) and the
content: `inlineXML` (NITF or XHTML) or `inlineData` (text) is the body,
`remoteContent` the renditions of a picture, video, audio or graphic. A
`packageItem` (or a composite newsItem) becomes a story whose associations are
its `groupSet` members' `itemRef`s; a message's members are items of their own.
A caption (`description role="drol:caption"`) describes a media item, never a
text item. Errors name the element by XPath. Concepts, knowledge and planning
items are skipped inside a message and refused on their own.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element, tostring

from services.ingest.dates import read_datetime
from services.ingest.items import (
    ItemError,
    ParsedItem,
    Reading,
    story_from,
    version_number,
    whole_number,
)
from services.ingest.nitf import nitf_body_html
from services.ingest.sanitising import clean_html, html_to_text, text_to_html
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
from shared.story import MEDIA_TYPES, Association, Rendition, Story, Subject

_STATUS = {"usable": "usable", "withheld": "withheld", "canceled": "canceled"}
FORMAT = "newsml-g2"
NEWS_ITEMS = ("newsItem", "packageItem")


def is_newsml(root: Element) -> bool:
    return local(root.tag) in ("newsItem", "newsMessage") or local(root.tag).endswith("Item")


def items_from_newsml(root: Element, reading: Reading, max_original: int) -> list[ParsedItem]:
    """One ParsedItem per item: a story, an ItemError, or a skip note for non-news items."""
    name = local(root.tag)
    if name in NEWS_ITEMS:
        return [_parse(root, reading.fresh(), f"/{name}", max_original)]
    if name != "newsMessage":
        raise ItemError(
            f"/{name}", f"a {name} is not a news item; send a newsItem, packageItem or newsMessage"
        )
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
        if kind in NEWS_ITEMS:
            results.append(_parse(element, reading.fresh(), path, max_original))
        else:
            results.append(
                ParsedItem(FORMAT, b"", skipped=f"{path}: a {kind} is not a news item; not ingested")
            )
    if not any(r.skipped is None for r in results):
        raise ItemError("/newsMessage/itemSet", "the message carries no newsItem or packageItem")
    return results


def _parse(item: Element, reading: Reading, path: str, max_original: int) -> ParsedItem:
    original = tostring(item, encoding="utf-8")[:max_original]
    try:
        story = story_from_news_item(item, reading, path)
        return ParsedItem(FORMAT, original, story=story, warnings=reading.warnings)
    except ItemError as exc:
        return ParsedItem(FORMAT, original, error=exc, warnings=reading.warnings)


def story_from_news_item(item: Element, reading: Reading, path: str = "/newsItem") -> Story:
    guid = attribute(item, "guid")
    if not guid:
        raise ItemError(f"{path}/@guid", "required: the item's globally unique identifier")
    meta, content = child(item, "itemMeta"), child(item, "contentMeta")
    meta_path, content_path = f"{path}/itemMeta", f"{path}/contentMeta"
    kind = _item_type(item, meta)
    content_set = child(item, "contentSet")
    body = _body(content_set)
    headline = text_of(child(content, "headline")) or _inline_headline(content_set) or ""
    fields: dict[str, Any] = {
        "partner": reading.partner,
        "uri": guid,
        "version": version_number(attribute(item, "version") or "1", f"{path}/@version"),
        "pubstatus": _status(meta, meta_path, reading),
        "type": kind,
        "versioncreated": _date(meta, "versionCreated", meta_path, reading)
        or _date(content, "contentModified", content_path, reading),
        "firstcreated": _date(meta, "firstCreated", meta_path, reading)
        or _date(content, "contentCreated", content_path, reading),
        "embargoed": _date(meta, "embargoed", meta_path, reading, required=True),
        "expires": _date(meta, "expires", meta_path, reading)
        or _date(content, "expires", content_path, reading),
        "urgency": _urgency(content, content_path, reading),
        "language": attribute(child(content, "language"), "tag") or lang_of(item),
        "headline": headline,
        "description": _description(content, kind),
        "byline": text_of(child(content, "by")) or text_of(child(content, "creator", "name")),
        "credit": text_of(child(content, "creditline")),
        "located": text_of(child(content, "located", "name")) or text_of(child(content, "dateline")),
        "slugline": text_of(child(content, "slugline")),
        "subjects": with_parents(
            [
                Subject(name=text_of(child(s, "name")), code=attribute(s, "qcode"), uri=attribute(s, "uri"))
                for s in ([] if content is None else children(content, "subject"))
            ]
        ),
        "genres": [g for e in ([] if content is None else children(content, "genre")) if (g := _concept(e))],
        "body_html": body,
        "renditions": _renditions(content_set, reading, f"{path}/contentSet"),
        "associations": _members(child(item, "groupSet")),
    }
    if not fields["associations"] and kind == "composite":
        reading.warn(f"{path}/groupSet", "", "a package without members; kept as an empty composite")
    return story_from(
        fields,
        path,
        "a headline (contentMeta/headline, an inline title or hl1), a body (contentSet/inlineXML or "
        "inlineData), a description, renditions (remoteContent) or package members (groupSet)",
    )


def _item_type(item: Element, meta: Element | None) -> str:
    if local(item.tag) == "packageItem":
        return "composite"
    qcode = attribute(child(meta, "itemClass"), "qcode") or "ninat:text"
    kind = qcode.rsplit(":", 1)[-1].lower()
    return kind if kind in (*MEDIA_TYPES, "composite") else "text"


def _status(meta: Element | None, where: str, reading: Reading) -> str:
    qcode = attribute(child(meta, "pubStatus"), "qcode") or "stat:usable"
    status = _STATUS.get(qcode.rsplit(":", 1)[-1].lower())
    if status is None:
        reading.warn(f"{where}/pubStatus/@qcode", qcode, "not stat:usable/withheld/canceled; read as usable")
        return "usable"
    return status


def _date(parent: Element | None, name: str, where: str, reading: Reading, *, required: bool = False) -> Any:
    return read_datetime(text_of(child(parent, name)), f"{where}/{name}", reading, required=required)


def _urgency(content: Element | None, where: str, reading: Reading) -> int | None:
    text = text_of(child(content, "urgency"))
    if text is None:
        return None
    number = whole_number(text)
    if number is None or not 1 <= number <= 9:
        reading.warn(f"{where}/urgency", text, "not a whole number from 1 (highest) to 9; dropped")
        return None
    return number


def _description(content: Element | None, kind: str) -> str:
    """The summary of a text item, the caption of a media item (never a caption on text)."""
    if content is None:
        return ""
    by_role: dict[str, Element] = {}
    for element in children(content, "description"):
        role = (attribute(element, "role") or "").rsplit(":", 1)[-1].lower()
        by_role.setdefault(role, element)
    wanted = ("caption", "summary", "") if kind in MEDIA_TYPES else ("summary", "abstract", "", "teaser")
    chosen = next((by_role[r] for r in wanted if r in by_role), None)
    return html_to_text(inner_markup(chosen)) if chosen is not None else ""


def _concept(element: Element) -> str | None:
    return text_of(child(element, "name")) or attribute(element, "qcode")


def _body(content_set: Element | None) -> str:
    if content_set is None:
        return ""
    inline_xml = child(content_set, "inlineXML")
    if inline_xml is not None:
        nitf = next((e for e in inline_xml if local(e.tag).lower() == "nitf"), None)
        if nitf is not None:
            return nitf_body_html(nitf)
        body = descendant(inline_xml, "body")
        return clean_html(inner_markup(body if body is not None else inline_xml))
    inline_data = child(content_set, "inlineData")
    if inline_data is not None:
        return text_to_html("".join(inline_data.itertext()))
    return ""


def _inline_headline(content_set: Element | None) -> str | None:
    inline_xml = child(content_set, "inlineXML")
    return text_of(descendant(inline_xml, "hl1")) or text_of(descendant(inline_xml, "title"))


def _renditions(content_set: Element | None, reading: Reading, where: str) -> list[Rendition]:
    renditions = []
    for index, remote in enumerate([] if content_set is None else children(content_set, "remoteContent"), 1):
        at = f"{where}/remoteContent[{index}]"
        duration = _number(remote, "duration", at, reading)
        if duration is not None and (attribute(remote, "durationunit") or "").endswith(
            ("milliseconds", "ms")
        ):
            duration /= 1000
        renditions.append(
            Rendition(
                name=(attribute(remote, "rendition") or "").rsplit(":", 1)[-1],
                href=attribute(remote, "href") or attribute(remote, "residref"),
                mediatype=attribute(remote, "contenttype"),
                width=_whole(remote, "width", at, reading),
                height=_whole(remote, "height", at, reading),
                duration=duration,
                size=_whole(remote, "size", at, reading),
            )
        )
    return renditions


def _members(group_set: Element | None) -> list[Association]:
    members: list[Association] = []
    for ref in [] if group_set is None else group_set.iter():
        if local(ref.tag) != "itemRef" or not (uri := attribute(ref, "residref") or attribute(ref, "href")):
            continue
        kind = (attribute(child(ref, "itemClass"), "qcode") or "").rsplit(":", 1)[-1].lower() or None
        members.append(
            Association(
                name=f"member{len(members) + 1}",
                uri=uri,
                type=kind,
                headline=text_of(child(ref, "title")),
                description=text_of(child(ref, "description")),
            )
        )
    return members


def _whole(element: Element, name: str, where: str, reading: Reading) -> int | None:
    text = attribute(element, name)
    if text is None:
        return None
    if text.isascii() and text.isdigit() and len(text) <= 15:
        return int(text)
    reading.warn(f"{where}/@{name}", text, "not a whole number; dropped")
    return None


def _number(element: Element, name: str, where: str, reading: Reading) -> float | None:
    text = attribute(element, name)
    if text is None:
        return None
    try:
        value = float(text) if text.isascii() and len(text) <= 20 else None
    except ValueError:
        value = None
    if value is None or value != value or value < 0 or value == float("inf"):
        reading.warn(f"{where}/@{name}", text, "not a number; dropped")
        return None
    return value
