"""What a parser hands to the HTTP layer: stories, or errors that say where.

Every parser (ninjs, NewsML-G2, NITF) reports problems with the location in the
partner's own payload — a JSON pointer (RFC 6901) for JSON, an XPath for XML — so
the 4xx answer names the exact field a partner must fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any, Protocol

from pydantic import ValidationError

from shared.events import IngestWarning
from shared.story import MAX_VERSION, Story

_ASCII_DIGITS = re.compile(r"[0-9]+")


class ItemError(ValueError):
    """One item cannot become a story (answered 422). `where` is a JSON pointer or XPath."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where or '/'}: {detail}")
        self.where = where or "/"
        self.detail = detail

    def __reduce__(self) -> tuple[type[ItemError], tuple[str, str]]:
        return type(self), (self.where, self.detail)  # parsed items cross a process boundary


class PayloadError(ValueError):
    """The body itself is unreadable: bad encoding, bad syntax, forbidden XML (answered 400)."""

    def __init__(self, slug: str, title: str, detail: str, where: str | None = None) -> None:
        super().__init__(detail)
        self.slug = slug
        self.title = title
        self.detail = detail
        self.where = where


class SchemaCheck(Protocol):
    """Validates a JSON item against a published schema, raising ItemError (NinjsSchemas)."""

    def check(self, item: Any, version: str) -> None: ...


class NoSchemas:
    def check(self, item: Any, version: str) -> None:
        return None


@dataclass
class Reading:
    """How one partner's items are read, and what reading them had to set aside.

    `timezone` is the partner's configured zone for times sent without an offset;
    `strict` turns IPTC schema violations from warnings into refusals; `schemas`
    are those IPTC schemas, `max_original` bounds the payload kept for audit. A parser
    calls `warn` for each optional field it drops or reinterprets, so the item is
    kept and the partner is told (answer, timeline, queue page).
    """

    partner: str
    timezone: tzinfo = UTC
    strict: bool = False
    schemas: SchemaCheck = field(default_factory=NoSchemas)
    max_original: int = 256 * 1024
    declared_version: str | None = None  # ninjs `; version=` on the media type
    warnings: list[IngestWarning] = field(default_factory=list)

    def warn(self, where: str, value: object, action: str) -> None:
        shown = value if isinstance(value, str) else repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        self.warnings.append(IngestWarning(field=where or "/", value=shown, action=action))

    def fresh(self) -> Reading:
        """The same partner settings with no warnings yet (one per item of a batch)."""
        return Reading(
            self.partner, self.timezone, self.strict, self.schemas, self.max_original, self.declared_version
        )


@dataclass(frozen=True)
class ParsedItem:
    """One item of a request: its story (or why not), its format and its original bytes."""

    source_format: str
    original: bytes
    story: Story | None = None
    error: ItemError | None = None
    skipped: str | None = None  # set for parts of a message that are not news items
    warnings: list[IngestWarning] = field(default_factory=list)


def story_from(fields: dict[str, Any], where: str, looked: str) -> Story:
    """The Story a markup or wire parser read: a value the model refuses is named at `where`,
    and an item with nothing a reader could see is refused (`looked` says where we looked)."""
    try:
        story = Story.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ItemError(where, f"{'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    return refuse_if_blank(story, where, looked)


def refuse_if_blank(story: Story, where: str, looked: str) -> Story:
    """An item with nothing a reader could see is refused, never passed on blank.

    A kill is exempt: agencies send it bare, and it must still withdraw the story.
    """
    if story.pubstatus != "canceled" and not story.has_words():
        raise ItemError(where, f"nothing to publish: looked for {looked} and found none")
    return story


def pointer(*parts: str | int) -> str:
    """RFC 6901 JSON pointer from path parts (escaping `~` and `/`)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def whole_number(text: str) -> int | None:
    """`text` as a non-negative whole number written in ASCII digits, else None.

    `str.isdigit()` also takes '²' (which `int()` refuses) and other scripts' digits;
    a version or urgency is only ever written 0-9.
    """
    text = text.strip()
    return int(text) if _ASCII_DIGITS.fullmatch(text) and len(text) <= 20 else None


def version_number(written: str | int, where: str) -> int:
    """A partner's version number (text, or a JSON integer), or ItemError at `where` saying why not."""
    number = written if isinstance(written, int) else whole_number(written)
    if number is None or number < 0:
        shown = repr(written[:40]) if isinstance(written, str) else "a negative number"
        raise ItemError(where, f"{shown} is not a whole, non-negative version number")
    if number > MAX_VERSION:
        raise ItemError(where, f"the version is above the largest one accepted, {MAX_VERSION}")
    return number


def urgency_number(text: str, where: str) -> int:
    number = whole_number(text)
    if number is None or not 1 <= number <= 9:
        raise ItemError(where, f"{text[:40]!r} is not a whole number from 1 (highest) to 9")
    return number
