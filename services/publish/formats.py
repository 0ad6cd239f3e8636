"""The story as each outlet receives it (pure): ninjs 2.2, an HTML article, plain text.

Everything reader-facing that depends on time (the age banner) is passed in, so
publish computes it at delivery time. The HTML article follows what outlets show
(see the published sample): age banner, headline, standfirst, byline and dateline,
photo caption, body with inline "Related:" links, the outlet's footer.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from html.parser import HTMLParser
from typing import Any, Literal

from shared.config import Outlet, OutletWording
from shared.events import RelatedLink, StoryEnriched
from shared.story import MEDIA_TYPES, Association, EntityTag, Story
from shared.story import Rendition as MediaRendition
from shared.untrusted import link_html, safe_url

Format = Literal["ninjs", "html", "text"]
EventType = Literal["story.published", "story.updated", "story.killed"]
CONTENT_TYPES: dict[str, str] = {
    "ninjs": "application/json",
    "html": "text/html; charset=utf-8",
    "text": "text/plain; charset=utf-8",
}
EXTENSIONS: dict[str, str] = {"ninjs": "json", "html": "html", "text": "txt"}


def event_type(enriched: StoryEnriched) -> EventType:
    if enriched.received_as == "kill" or enriched.story.pubstatus == "canceled":
        return "story.killed"
    if enriched.story.version > 1 or enriched.received_as == "update":
        return "story.updated"
    return "story.published"


# --- ninjs 2.2 -------------------------------------------------------------------


def _tag(tag: EntityTag) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tag.name}
    for field in ("uri", "rel", "literal"):
        value = getattr(tag, field)
        if value:
            out[field] = value
    return out


def to_ninjs(enriched: StoryEnriched) -> dict[str, Any]:
    """The story as a ninjs 2.2 item (valid against the IPTC schema: no unknown properties)."""
    story, extra = enriched.story, enriched.enrichment
    item: dict[str, Any] = {
        "uri": story.uri,
        "type": story.type,
        "version": str(story.version),
        "pubstatus": story.pubstatus,
        "headlines": [{"role": "main", "value": story.headline}],
    }
    for field in ("versioncreated", "firstcreated", "embargoed", "expires"):
        value: datetime | None = getattr(story, field)
        if value:
            item[field] = value.isoformat()
    if story.urgency is not None:
        item["urgency"] = story.urgency
    if story.language:
        item["language"] = story.language
    if story.byline:
        item["by"] = story.byline
    if story.located:
        item["located"] = story.located
    if story.slugline:
        item["slugline"] = story.slugline
    if story.body_html:
        item["bodies"] = [{"role": "main", "contenttype": "text/html", "value": story.body_html}]
    if story.description:
        role = "caption" if story.is_media else "summary"
        item["descriptions"] = [{"role": role, "contenttype": "text/plain", "value": story.description}]
    renditions = [_rendition(r) for r in story.renditions if r.href]
    if renditions:
        item["renditions"] = renditions
    if story.genres:
        item["genres"] = [{"name": genre} for genre in story.genres]
    for field in ("people", "organisations", "places", "events"):
        tags = getattr(extra, field)
        if tags:
            item[field] = [_tag(t) for t in tags]
    subjects = [
        {k: v for k, v in (("name", s.name), ("uri", s.uri), ("literal", s.code), ("rel", s.rel)) if v}
        for s in story.subjects
    ]
    if any(subjects):
        item["subjects"] = [s for s in subjects if s]
    associations: list[dict[str, Any]] = [
        {"name": f"related{n}", "uri": link.uri, "headlines": [{"value": link.headline}]}
        for n, link in enumerate(extra.related, start=1)
    ]
    for n, picture in enumerate(story.pictures, start=1):
        if picture.uri:
            pic: dict[str, Any] = {"name": f"picture{n}", "uri": picture.uri, "type": "picture"}
            if picture.caption:
                pic["descriptions"] = [{"role": "caption", "value": picture.caption}]
            if picture.credit:
                pic["by"] = picture.credit
            associations.append(pic)
    for member in story.associations:
        entry: dict[str, Any] = {"name": member.name, "uri": member.uri}
        if member.type:
            entry["type"] = member.type
        if member.headline:
            entry["headlines"] = [{"value": member.headline}]
        if member.description:
            role = "caption" if member.type in MEDIA_TYPES else "summary"
            entry["descriptions"] = [{"role": role, "value": member.description}]
        associations.append(entry)
    if associations:
        item["associations"] = associations
    return item


def _rendition(rendition: MediaRendition) -> dict[str, Any]:
    """ninjs 2.2 rendition: name, href, contenttype, width, height, duration, sizeinbytes."""
    out: dict[str, Any] = {"name": rendition.name or "main", "href": rendition.href}
    for field, value in (
        ("contenttype", rendition.mediatype),
        ("width", rendition.width),
        ("height", rendition.height),
        ("duration", rendition.duration),
        ("sizeinbytes", rendition.size),
    ):
        if value is not None:
            out[field] = value
    return out


# --- HTML and plain text ----------------------------------------------------------


class _Paragraphs(HTMLParser):
    """Split sanitised body HTML into top-level blocks (kept as HTML) and their text."""

    BLOCKS = frozenset({"p", "h2", "h3", "h4", "ul", "ol", "blockquote", "pre", "table", "figure"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._current: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCKS:
            if self._depth == 0:
                self._flush()
            self._depth += 1
        elif tag == "br":
            self._current.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS and self._depth:
            self._depth -= 1
            if self._depth == 0:
                self._flush()

    def handle_data(self, data: str) -> None:
        self._current.append(data)

    def _flush(self) -> None:
        text = re.sub(r"[ \t\r\f\v]+", " ", "".join(self._current)).strip()
        if text:
            self.texts.append(text)
        self._current = []

    def close(self) -> None:
        super().close()
        self._flush()


def body_paragraphs(body_html: str) -> list[str]:
    """The body's paragraphs as plain text."""
    parser = _Paragraphs()
    parser.feed(body_html)
    parser.close()
    return parser.texts


_BLOCK_END = re.compile(r"</(?:p|h2|h3|h4|ul|ol|blockquote|pre|table|figure)>", re.IGNORECASE)


def _html_blocks(body_html: str) -> list[str]:
    blocks, start = [], 0
    for match in _BLOCK_END.finditer(body_html):
        blocks.append(body_html[start : match.end()].strip())
        start = match.end()
    rest = body_html[start:].strip()
    if rest:
        blocks.append(rest)
    return [b for b in blocks if b]


def related_slots(paragraphs: int, links: int) -> list[int]:
    """After which paragraph each related link goes: spread through the body, never first."""
    if links == 0:
        return []
    if paragraphs == 0:
        return [0] * links
    step = max(1, paragraphs // (links + 1))
    return [min(paragraphs, step * (n + 1) + (1 if paragraphs > 2 else 0)) for n in range(links)]


def byline_text(story: Story, wording: OutletWording) -> str:
    if not story.byline or wording.byline_style == "none":
        return ""
    return story.byline if wording.byline_style == "plain" else f"By {story.byline}"


def caption_text(story: Story) -> str:
    """The photo line: a media item's own caption and credit, else its first picture's."""
    if story.is_media and (story.description or story.credit):
        parts = [story.description, f"Photo: {story.credit}" if story.credit else ""]
        return " ".join(p for p in parts if p)
    for picture in story.pictures:
        if picture.caption or picture.credit:
            parts = [picture.caption or "", f"Photo: {picture.credit}" if picture.credit else ""]
            return " ".join(p for p in parts if p)
    return ""


def to_html(enriched: StoryEnriched, outlet: Outlet, age_sentence: str | None) -> str:
    """A complete HTML article for the outlet."""
    story, esc = enriched.story, html.escape
    if event_type(enriched) == "story.killed":
        return _document(
            story,
            f'<p class="kill-notice">KILL: this story has been withdrawn. Do not publish. '
            f"Remove it wherever it was published.</p>\n<h1>{esc(story.headline)}</h1>",
        )
    parts: list[str] = []
    if age_sentence:
        parts.append(f'<p class="age-banner" role="note">{esc(age_sentence)}</p>')
    parts.append(f"<h1>{esc(story.headline)}</h1>")
    if story.description:
        parts.append(f'<p class="standfirst">{esc(story.description)}</p>')
    byline, dateline = byline_text(story, outlet.wording), (story.located or "").upper()
    if byline or dateline:
        meta = [f'<span class="byline">{esc(byline)}</span>' if byline else ""]
        meta.append(f'<span class="dateline">{esc(dateline)}</span>' if dateline else "")
        parts.append('<p class="meta">' + " · ".join(m for m in meta if m) + "</p>")
    picture = next((p for p in story.pictures if p.uri or p.caption), None)
    caption = caption_text(story)
    shown = story.best_rendition() if story.is_media else None
    if shown is not None or (story.is_media and caption):
        src = safe_url(shown.href if shown else None)
        img = f'<img src="{esc(src)}" alt="{esc(story.headline)}">' if src else ""
        parts.append(f"<figure>{img}<figcaption>{esc(caption)}</figcaption></figure>")
    elif picture is not None:
        src = safe_url(picture.uri)
        img = f'<img src="{esc(src)}" alt="">' if src else ""
        parts.append(f"<figure>{img}<figcaption>{esc(caption)}</figcaption></figure>")
    parts.extend(_member_html(member) for member in story.associations)
    blocks = _html_blocks(story.body_html)
    links = enriched.enrichment.related
    slots = related_slots(len(blocks), len(links))
    body: list[str] = []
    for index in range(len(blocks) + 1):
        if index:
            body.append(blocks[index - 1])
        body.extend(_related_html(link) for link, slot in zip(links, slots, strict=True) if slot == index)
    parts.append('<div class="body">\n' + "\n".join(body) + "\n</div>")
    if outlet.wording.footer:
        parts.append(f'<footer><p class="outlet-footer">{esc(outlet.wording.footer)}</p></footer>')
    return _document(story, "\n".join(parts))


def _member_html(member: Association) -> str:
    """A package member: a picture as a figure with its caption, anything else as a link."""
    label = member.headline or member.uri
    if member.type in MEDIA_TYPES:
        caption = html.escape(member.description or member.headline or "")
        figcaption = f"<figcaption>{link_html(member.uri, label)} {caption}</figcaption>"
        return f'<figure class="member">{figcaption}</figure>'
    return f'<p class="member">{link_html(member.uri, label)}</p>'


def _related_html(link: RelatedLink) -> str:
    return f'<p class="related">Related: {link_html(link.uri, link.headline)}</p>'


def _document(story: Story, article: str) -> str:
    lang = f' lang="{html.escape(story.language)}"' if story.language else ""
    return (
        f'<!doctype html>\n<html{lang}>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(story.headline)}</title>\n</head>\n<body>\n<article>\n"
        f"{article}\n</article>\n</body>\n</html>\n"
    )


def to_text(enriched: StoryEnriched, outlet: Outlet, age_sentence: str | None) -> str:
    """The article as plain text, laid out like the published sample."""
    story = enriched.story
    if event_type(enriched) == "story.killed":
        return f"KILL: this story has been withdrawn. Do not publish.\n\n{story.headline}\n"
    parts: list[str] = []
    if age_sentence:
        parts.append(age_sentence)
    parts.append(story.headline)
    if story.description:
        parts.append(story.description)
    caption = caption_text(story)
    if caption:
        parts.append(caption)
    meta = " · ".join(p for p in (byline_text(story, outlet.wording), (story.located or "").upper()) if p)
    if meta:
        parts.append(meta)
    parts.extend(f"{m.headline or m.uri}: {m.uri}" for m in story.associations)
    paragraphs = body_paragraphs(story.body_html)
    links = enriched.enrichment.related
    slots = related_slots(len(paragraphs), len(links))
    for index in range(len(paragraphs) + 1):
        if index:
            parts.append(paragraphs[index - 1])
        parts.extend(
            f"Related: {link.headline}" for link, slot in zip(links, slots, strict=True) if slot == index
        )
    if outlet.wording.footer:
        parts.append(outlet.wording.footer)
    return "\n\n".join(parts) + "\n"


# --- what goes on the wire --------------------------------------------------------


@dataclass(frozen=True)
class Rendition:
    """One outlet's copy of one story version at one moment."""

    format: Format
    item: dict[str, Any] | str
    age_label: str | None
    flags: list[str]
    enriched: StoryEnriched
    outlet: Outlet

    @cached_property
    def html(self) -> str:
        """The rendered article (what editors preview; Atom entries carry it)."""
        if self.format == "html" and isinstance(self.item, str):
            return self.item
        return to_html(self.enriched, self.outlet, self.age_label)

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    def file_body(self) -> bytes:
        if isinstance(self.item, dict):
            return json.dumps(self.item, ensure_ascii=False, indent=2).encode()
        return self.item.encode()


def render(enriched: StoryEnriched, outlet: Outlet, age_sentence: str | None, flags: list[str]) -> Rendition:
    item: dict[str, Any] | str
    if outlet.format == "ninjs":
        item = to_ninjs(enriched)
    elif outlet.format == "html":
        item = to_html(enriched, outlet, age_sentence)
    else:
        item = to_text(enriched, outlet, age_sentence)
    return Rendition(outlet.format, item, age_sentence, flags, enriched, outlet)


def webhook_body(enriched: StoryEnriched, rendition: Rendition, timestamp: datetime) -> bytes:
    """The Standard Webhooks body: `{"type", "timestamp", "data"}`."""
    story = enriched.story
    envelope = {
        "type": event_type(enriched),
        "timestamp": timestamp.isoformat(),
        "data": {
            "story_id": enriched.story_id,
            "uri": story.uri,
            "version": story.version,
            "format": rendition.format,
            "content_type": rendition.content_type,
            "item": rendition.item,
            "age_label": rendition.age_label,
            "flags": rendition.flags,
        },
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
