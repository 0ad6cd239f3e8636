"""What text from partners (and outlets) may become in what we emit — the one place for it.

Every field a partner sends is hostile until shown otherwise. Three outputs need it:
- links: only an absolute URL with a safe scheme ever becomes an `href`/`src`
  (HTML renditions, Atom, bodies via the sanitiser); anything else stays text;
- XML: characters XML 1.0 forbids are dropped, so one item never makes a whole
  document (the Atom feed) ill-formed;
- terminals: control characters (ANSI escapes, OSC title changes, bidi overrides)
  never reach an operator's screen.
"""

from __future__ import annotations

import html
import re

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
"""mailto is kept: it starts a mail client, never script, and bodies carry contact addresses."""

# Browsers drop these before reading a URL's scheme (WHATWG URL: C0 controls and space at
# either end, tab and newline anywhere), so `" java\tscript:…"` is read as `javascript:`.
_URL_EDGES = "".join(chr(c) for c in range(0x21))
_URL_DROPPED = re.compile(r"[\t\n\r]")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_URL_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f]")

_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_BIDI = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_TERMINAL_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_TERMINAL_BLOCK = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_BIDI}]")


def safe_url(value: str | None) -> str | None:
    """The URL if it may be a link (absolute, scheme in SAFE_SCHEMES), else None."""
    if not value:
        return None
    url = _URL_DROPPED.sub("", value.strip(_URL_EDGES))
    scheme = _SCHEME.match(url)
    if scheme is None or scheme.group(1).lower() not in SAFE_SCHEMES or _URL_REFUSED.search(url):
        return None
    return url


def link_html(url: str | None, text: str) -> str:
    """An `<a>` to a safe URL, or just the text: the only way a partner's URL becomes a link."""
    label = html.escape(text)
    href = safe_url(url)
    return f'<a href="{html.escape(href)}">{label}</a>' if href else label


def xml_text(value: str) -> str:
    """The text without the characters XML 1.0 forbids (NUL, most C0 controls, lone surrogates)."""
    return _XML_ILLEGAL.sub("", value)


def terminal_text(value: str, *, lines: bool = False) -> str:
    """Safe to print on a terminal: control characters dropped (with `lines`, newlines and tabs kept;
    otherwise each line break or tab becomes a space, so a cell stays one line)."""
    if lines:
        return _TERMINAL_BLOCK.sub("", value)
    return _TERMINAL_LINE.sub(lambda m: " " if m.group() in "\t\n\r" else "", value)
