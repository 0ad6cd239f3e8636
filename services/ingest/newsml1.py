"""NewsML 1.2 (AFP's main feed, older Reuters and national agencies) → Stories (pure).

A `NewsML` document carries one or more `NewsItem`s. Identity is
`urn:newsml:<ProviderId>:<DateId>:<NewsItemId>` from `Identification/NewsIdentifier`
— the `PublicIdentifier` ends in the revision, so it is not the same for all
versions — and `RevisionId` is the version. `NewsManagement`: FirstCreated,
ThisRevisionCreated, Status (Usable/Withheld/Canceled), Urgency. `NewsLines`:
HeadLine, ByLine, DateLine, SlugLine (else `NameLabel`), CreditLine.
`DescriptiveMetadata`: Language, SubjectCode (Subject/SubjectMatter/SubjectDetail
FormalNames, with their IPTC parents), Genre. The body is the first text
`ContentItem`'s `DataContent` (NITF `body.content`, XHTML or text); a
`ContentItem` with an `Href` and a Photo/Graphic/Video/Audio `MediaType` is a
rendition of a media item, or a picture of a text item. Dates without an offset
(AFP sends them) are read in the partner's timezone.
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
from services.ingest.xmldocs import attribute, child, children, descendant, inner_markup, local, text_of
from shared.story import Picture, Rendition, Story, Subject

FORMAT = "newsml1"
_STATUS = {"usable": "usable", "withheld": "withheld", "canceled": "canceled", "cancelled": "canceled"}
_MEDIA = {"photo": "picture", "picture": "picture", "image": "picture", "graphic": "graphic",
          "video": "video", "audio": "audio", "sound": "audio"}  # fmt: skip


def is_newsml1(root: Element) -> bool:
    return local(root.tag) == "NewsML"


def items_from_newsml1(root: Element, reading: Reading) -> list[ParsedItem]:
    news_items = list(children(root, "NewsItem"))
    if not news_items:
        raise ItemError("/NewsML/NewsItem", "required: the NewsItem(s) this document carries")
    priority = attribute(child(root, "NewsEnvelope", "Priority"), "FormalName")
    results = []
    for index, element in enumerate(news_items, start=1):
        path = "/NewsML/NewsItem" + (f"[{index}]" if len(news_items) > 1 else "")
        item = reading.fresh()
        original = tostring(element, encoding="utf-8")[: reading.max_original]
        try:
            story = story_from_newsml1_item(element, item, path, priority)
            results.append(ParsedItem(FORMAT, original, story=story, warnings=item.warnings))
        except ItemError as exc:
            results.append(ParsedItem(FORMAT, original, error=exc, warnings=item.warnings))
    return results


def story_from_newsml1_item(item: Element, reading: Reading, path: str, priority: str | None = None) -> Story:
    identifier = child(item, "Identification", "NewsIdentifier")
    id_path = f"{path}/Identification/NewsIdentifier"
    uri = _identity(identifier, id_path)
    management = child(item, "NewsManagement")
    management_path = f"{path}/NewsManagement"
    component = child(item, "NewsComponent")
    lines = descendant(component, "NewsLines")
    described = descendant(component, "DescriptiveMetadata")
    contents = [] if component is None else [e for e in component.iter() if local(e.tag) == "ContentItem"]
    text_parts = [c for c in contents if _media_kind(c) is None]
    media_parts = [c for c in contents if _media_kind(c) is not None and attribute(c, "Href")]
    # A media file beside the text in the item's own component makes it a media item (the
    # text is its caption); a text story's pictures sit in nested NewsComponents.
    own_media = [
        c for c in ([] if component is None else children(component, "ContentItem")) if c in media_parts
    ]
    kind = _media_kind(own_media[0]) or "text" if own_media else "text"
    body = next((b for c in text_parts if (b := _body(c))), "") if kind == "text" else ""
    fields: dict[str, Any] = {
        "partner": reading.partner,
        "uri": uri,
        "version": version_number(text_of(child(identifier, "RevisionId")) or "1", f"{id_path}/RevisionId"),
        "pubstatus": _status(management, management_path, reading),
        "type": kind,
        "firstcreated": _date(management, "FirstCreated", management_path, reading),
        "versioncreated": _date(management, "ThisRevisionCreated", management_path, reading),
        "urgency": _urgency(management, priority, management_path, reading),
        "language": attribute(child(described, "Language"), "FormalName"),
        "headline": text_of(child(lines, "HeadLine")) or "",
        "byline": text_of(child(lines, "ByLine")),
        "located": text_of(child(lines, "DateLine")),
        "slugline": text_of(child(lines, "SlugLine")) or text_of(child(item, "Identification", "NameLabel")),
        "credit": text_of(child(lines, "CreditLine")),
        "description": _caption(text_parts) if kind != "text" else "",
        "subjects": with_parents(_subjects(described)),
        "genres": [g for e in _all(described, "Genre") if (g := attribute(e, "FormalName"))],
        "body_html": body,
    }
    if kind == "text":
        fields["pictures"] = [
            Picture(uri=attribute(c, "Href"), caption=_nearest_caption(component, c))
            for c in media_parts
            if _media_kind(c) == "picture"
        ]
    else:
        fields["renditions"] = [_rendition(c) for c in media_parts]
    return story_from(
        fields,
        path,
        "a headline (NewsLines/HeadLine), a body (ContentItem/DataContent) or media (ContentItem/@Href)",
    )


def _identity(identifier: Element | None, where: str) -> str:
    provider, date_id, item_id = (
        text_of(child(identifier, name)) for name in ("ProviderId", "DateId", "NewsItemId")
    )
    if provider and item_id:
        return f"urn:newsml:{provider}:{date_id or ''}:{item_id}"
    public = text_of(child(identifier, "PublicIdentifier"))
    if public:
        return public
    raise ItemError(where, "required: NewsItemId with ProviderId (or a PublicIdentifier) identifies the item")


def _status(management: Element | None, where: str, reading: Reading) -> str:
    raw = (attribute(child(management, "Status"), "FormalName") or "Usable").lower()
    if raw not in _STATUS:
        # NewsML 1.2 partners use their own words (e.g. 'Embargoed'): still a usable item.
        if raw != "embargoed":
            reading.warn(f"{where}/Status/@FormalName", raw, "not Usable/Withheld/Canceled; read as usable")
        return "usable"
    return _STATUS[raw]


def _date(parent: Element | None, name: str, where: str, reading: Reading) -> Any:
    return read_datetime(text_of(child(parent, name)), f"{where}/{name}", reading)


def _urgency(management: Element | None, priority: str | None, where: str, reading: Reading) -> int | None:
    text = attribute(child(management, "Urgency"), "FormalName")
    at = f"{where}/Urgency/@FormalName"
    if text is None:
        text, at = priority, "/NewsML/NewsEnvelope/Priority/@FormalName"
    if text is None:
        return None
    number = whole_number(text)
    if number is None or not 1 <= number <= 9:
        reading.warn(at, text, "not a whole number from 1 (highest) to 9; dropped")
        return None
    return number


def _subjects(described: Element | None) -> list[Subject]:
    subjects: list[Subject] = []
    for code in _all(described, "SubjectCode"):
        for element in code:
            if local(element.tag) in ("Subject", "SubjectMatter", "SubjectDetail"):
                formal = attribute(element, "FormalName")
                if formal and all(s.code != formal for s in subjects):
                    subjects.append(Subject(code=formal))
    return subjects


def _media_kind(content: Element) -> str | None:
    media = (attribute(child(content, "MediaType"), "FormalName") or "").lower()
    return _MEDIA.get(media)


def _body(content: Element) -> str:
    data = child(content, "DataContent")
    if data is None:
        return ""
    nitf = descendant(data, "nitf")
    if nitf is not None:
        return nitf_body_html(nitf)
    if len(data):
        markup = descendant(data, "body")
        return clean_html(inner_markup(markup if markup is not None else data))
    return text_to_html(data.text or "")


def _caption(text_parts: list[Element]) -> str:
    for content in text_parts:
        data = child(content, "DataContent")
        if data is not None:
            return html_to_text(inner_markup(data))
    return ""


def _nearest_caption(component: Element | None, target: Element) -> str | None:
    """The HeadLine or caption text of the NewsComponent holding `target`."""
    for holder in [] if component is None else component.iter():
        if local(holder.tag) == "NewsComponent" and any(c is target for c in holder):
            caption = text_of(descendant(holder, "HeadLine"))
            texts = [c for c in children(holder, "ContentItem") if _media_kind(c) is None]
            return _caption(texts) or caption
    return None


def _rendition(content: Element) -> Rendition:
    properties = {
        (attribute(p, "FormalName") or "").lower(): attribute(p, "Value")
        for p in _all(child(content, "Characteristics"), "Property")
    }
    size = text_of(child(content, "Characteristics", "SizeInBytes"))
    return Rendition(
        name=attribute(content, "Duid") or "",
        href=attribute(content, "Href"),
        mediatype=attribute(child(content, "MimeType"), "FormalName"),
        width=_whole(properties.get("width")),
        height=_whole(properties.get("height")),
        size=_whole(size),
    )


def _whole(text: str | None) -> int | None:
    return whole_number(text) if text else None


def _all(parent: Element | None, name: str) -> list[Element]:
    return [] if parent is None else list(children(parent, name))
