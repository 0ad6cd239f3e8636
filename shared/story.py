"""The canonical story: what every partner format is normalised into.

Field names follow IPTC ninjs 2.x (`uri`, `version`, `versioncreated`,
`firstcreated`, `pubstatus`, `embargoed`, `expires`, `urgency`, `language`,
`located`, `byline`) so the model maps 1:1 onto what outlets receive. Tags and
links are added by enrich; ingest leaves them empty.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

_TAG = re.compile(r"<[^>]*>")
MEDIA_TYPES = ("picture", "video", "audio", "graphic")
"""Item types that are a file with a caption, not copy: they keep renditions, get no related links."""
PubStatus = Literal["usable", "withheld", "canceled"]

MAX_VERSION = 2**53 - 1
"""The largest version every component holds exactly: Redis' Lua and JavaScript readers of our
JSON have doubles only, so 2**53 would already read back as its neighbour."""


def _in_utc_range(moment: datetime) -> datetime:
    # 9999-12-31T23:00-05:00 is a valid ISO date, but 10000-01-01 in UTC is not: every age
    # rule, flag and rendition that converts it would overflow, so it is refused here, once.
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("the date is outside what can be held in UTC (years 1 to 9999)") from None
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]
"""A point in time with its offset that also exists in UTC."""


def make_story_id(partner: str, uri: str) -> str:
    """Stable, URL-safe id of one item of one partner, the same for all its versions."""
    digest = hashlib.sha256(f"{partner}\n{uri}".encode()).hexdigest()[:20]
    return f"{partner}-{digest}"


class Mention(BaseModel):
    """Where an entity is named: character offsets into the field's plain text."""

    start: int
    end: int
    field: Literal["headline", "description", "body"] = "body"
    text: str = Field("", description="The words as written, e.g. 'Azeri' for Azerbaijan.")
    provenance: str = Field("", description="How it was found and linked, e.g. 'ner+kb', 'demonym'.")


class EntityTag(BaseModel):
    """A person, organisation, place or event found in the story (ninjs 2.x shape)."""

    name: str
    uri: str | None = None
    rel: str | None = None
    literal: str | None = None
    kind: Literal["person", "organisation", "place", "event"]
    relevance: float = Field(0.0, ge=0.0, le=1.0)
    mentions: list[Mention] = Field(default_factory=list)
    provenance: str = "ner"


class Subject(BaseModel):
    name: str | None = None
    uri: str | None = None
    code: str | None = None
    rel: str | None = None


class Picture(BaseModel):
    uri: str | None = None
    caption: str | None = None
    credit: str | None = None
    language: str | None = None


class Rendition(BaseModel):
    """One file of a media item (ninjs `renditions`): the same picture, video or audio in one size."""

    name: str = Field("", description="The rendition's role, e.g. 'highRes', 'web', 'thumb'.")
    href: str | None = None
    mediatype: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = Field(None, description="Seconds (video, audio).")
    size: int | None = Field(None, description="Bytes.")


class Association(BaseModel):
    """An item this one points at (ninjs `associations`): a package's member, a story's picture."""

    name: str = Field(description="Key of the association, e.g. 'main', 'member2'.")
    uri: str = Field(description="The member's uri; members are ingested as their own items.")
    type: str | None = Field(None, description="text, picture, video, audio, graphic, composite.")
    headline: str | None = None
    description: str | None = Field(None, description="Caption or summary as the package gives it.")


class Story(BaseModel):
    model_config = ConfigDict(extra="forbid")

    partner: str = Field(description="Id of the wire partner that sent the item.")
    uri: str = Field(description="The partner's identifier of the item (ninjs uri / guid).")
    version: int = Field(1, ge=0, le=MAX_VERSION, description="Partner version number (AP numbers from 0).")
    versioncreated: Moment | None = None
    firstcreated: Moment | None = None
    pubstatus: PubStatus = "usable"
    embargoed: Moment | None = None
    expires: Moment | None = None
    urgency: int | None = Field(None, ge=1, le=9)
    language: str | None = None
    type: str = Field("text", description="text, picture, video, audio, graphic or composite (a package).")
    headline: str = ""
    description: str = Field("", description="Standfirst / summary, plain text.")
    body_html: str = Field("", description="Sanitised HTML body.")
    byline: str | None = None
    located: str | None = Field(None, description="Dateline place.")
    slugline: str | None = None
    genres: list[str] = Field(default_factory=list)
    subjects: list[Subject] = Field(default_factory=list)
    pictures: list[Picture] = Field(default_factory=list)
    credit: str | None = Field(None, description="Credit line of a media item (e.g. 'EPA/Jane Doe').")
    renditions: list[Rendition] = Field(default_factory=list)
    associations: list[Association] = Field(default_factory=list)

    @property
    def id(self) -> str:
        return make_story_id(self.partner, self.uri)

    @property
    def is_media(self) -> bool:
        return self.type in MEDIA_TYPES

    def best_rendition(self, media: str = "image/") -> Rendition | None:
        """The largest rendition of `media` type with a link (what a page shows), if any."""
        usable = [r for r in self.renditions if r.href and (r.mediatype or media).startswith(media)]
        return max(usable, key=lambda r: (r.width or 0) * (r.height or 0), default=None)

    def has_words(self) -> bool:
        """Anything a reader could see: a headline, a body, a caption, a file or members."""
        return bool(
            self.headline.strip()
            or _TAG.sub("", self.body_html).strip()
            or self.description.strip()
            or self.renditions
            or self.associations
        )

    def first_published(self) -> datetime | None:
        return self.firstcreated or self.versioncreated
