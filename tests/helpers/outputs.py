"""Reading our outputs the way their consumers do, independently of the code that made them safe."""

from __future__ import annotations

import re
from html.parser import HTMLParser

SAFE = ("http", "https", "mailto")
TERMINAL_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def browser_scheme(url: str) -> str | None:
    """The scheme a browser reads (WHATWG URL): C0 controls and spaces trimmed, tab/newline removed."""
    cleaned = re.sub(r"[\t\n\r]", "", url.strip("".join(chr(c) for c in range(0x21))))
    match = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", cleaned)
    return match.group(1).lower() if match else None


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value or "" for name, value in attrs if name in ("href", "src")]


def linked_urls(markup: str) -> list[str]:
    """Every href and src in an HTML document or fragment."""
    parser = _Links()
    parser.feed(markup)
    parser.close()
    return parser.urls


def assert_only_safe_links(urls: list[str]) -> None:
    for url in urls:
        assert browser_scheme(url) in SAFE, url
