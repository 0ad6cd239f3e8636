"""What a parser hands to the HTTP layer: stories, or errors that say where.

Every parser (ninjs, NewsML-G2, NITF) reports problems with the location in the
partner's own payload — a JSON pointer (RFC 6901) for JSON, an XPath for XML — so
the 4xx answer names the exact field a partner must fix.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.story import Story


class ItemError(ValueError):
    """One item cannot become a story (answered 422). `where` is a JSON pointer or XPath."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(f"{where or '/'}: {detail}")
        self.where = where or "/"
        self.detail = detail


class PayloadError(ValueError):
    """The body itself is unreadable: bad encoding, bad syntax, forbidden XML (answered 400)."""

    def __init__(self, slug: str, title: str, detail: str, where: str | None = None) -> None:
        super().__init__(detail)
        self.slug = slug
        self.title = title
        self.detail = detail
        self.where = where


@dataclass(frozen=True)
class ParsedItem:
    """One item of a request: its story (or why not), its format and its original bytes."""

    source_format: str
    original: bytes
    story: Story | None = None
    error: ItemError | None = None
    skipped: str | None = None  # set for parts of a message that are not news items


def pointer(*parts: str | int) -> str:
    """RFC 6901 JSON pointer from path parts (escaping `~` and `/`)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
