"""Property tests (Hypothesis) over every parser and renderer.

Parsers (the table in `targets.py`): whatever the bytes, the answer is a result or one of
the project's own refusals. Renderers (HTML, text, ninjs, Atom, the terminal queue):
whatever a partner wrote, no unsafe link, a well-formed feed, no control characters on a
terminal. `NEWSROOM_FUZZ_EXAMPLES` sets the budget per property (CI: a short slice;
`make fuzz`: a long one).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from services.publish.atom import feed_xml
from services.publish.formats import render, to_html, to_ninjs, to_text
from services.publish.page.terminal import QueueFilters
from services.publish.page.terminal import render as render_queue
from shared.config import Outlet
from shared.events import Enrichment, RelatedLink, StoryEnriched
from shared.story import Picture, Story
from tests.fuzz.mutate import NINJS_KEYS
from tests.fuzz.targets import REFUSALS, TARGETS, Target
from tests.helpers.outputs import TERMINAL_CONTROLS, assert_only_safe_links, linked_urls

EXAMPLES = int(os.environ.get("NEWSROOM_FUZZ_EXAMPLES", "30"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
NOW = datetime(2026, 4, 5, 12, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"


def _runs_or_refuses(target: Target, data: bytes) -> None:
    with contextlib.suppress(*REFUSALS):
        target.run(data)


def _mutated(target: Target) -> st.SearchStrategy[bytes]:
    seeds = target.seeds or [b""]
    return st.builds(
        lambda seed, rng, rounds: _apply(target, seed, rng, rounds),
        st.sampled_from(seeds),
        st.randoms(use_true_random=False),
        st.integers(1, 4),
    )


def _apply(target: Target, seed: bytes, rng: random.Random, rounds: int) -> bytes:
    data = seed
    for _ in range(rounds):
        data = target.mutator(rng, data, list(target.seeds), target.tokens)
    return data


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
@FUZZ
@given(data=st.data())
def test_a_parser_answers_or_refuses_whatever_the_bytes(target: Target, data: st.DataObject) -> None:
    _runs_or_refuses(target, data.draw(st.one_of(st.binary(max_size=2048), _mutated(target))))


_JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", "²", "\ud800", "9999-12-31T23:00:00-05:00", "javascript:alert(1)", "canceled"])
)
_JSON = st.recursive(
    _JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(NINJS_KEYS), inner, max_size=5)
    ),
    max_leaves=20,
)
_NINJS = st.dictionaries(st.sampled_from(NINJS_KEYS), _JSON, max_size=10).map(
    lambda d: {"uri": "urn:h:1", **d} if "uri" not in d else d
)
_JSON_TARGETS = [t for t in TARGETS if t.name.startswith("ninjs") or t.name == "ndjson"]


@pytest.mark.parametrize("target", _JSON_TARGETS, ids=[t.name for t in _JSON_TARGETS])
@FUZZ
@given(item=_NINJS)
def test_a_ninjs_parser_answers_or_refuses_any_json_shape(target: Target, item: dict[str, Any]) -> None:
    body = json.dumps(item, ensure_ascii=False).encode("utf-8", "surrogatepass")
    _runs_or_refuses(target, body)


# --- renderers ----------------------------------------------------------------------------

_HOSTILE_TEXT = st.text(max_size=60) | st.sampled_from(
    ["\x00\x1b]0;x\x07\x1b[2J", "\ud800", "\ufffe", "]]>", '"><script>x</script>', "[/bold]", "\u202e"]
)
_URLS = st.text(max_size=40) | st.sampled_from(
    [
        "javascript:alert(1)",
        " JaVa\tScRiPt:alert(1)",
        "\x01data:text/html,x",
        "vbscript:x",
        "https://ok.example/a?b=1&c=\"'",
        "mailto:a@b.example",
        "//evil.example",
    ]
)


@st.composite
def _enriched(draw: st.DrawFn) -> StoryEnriched:
    story = Story(
        partner="alpha",
        uri=draw(_URLS),
        headline=draw(_HOSTILE_TEXT),
        description=draw(_HOSTILE_TEXT),
        body_html=draw(st.sampled_from(["", "<p>One.</p><p>Two.</p>", "<p>x</p>" * 5])),
        byline=draw(st.none() | _HOSTILE_TEXT),
        located=draw(st.none() | _HOSTILE_TEXT),
        language=draw(st.none() | st.sampled_from(["en", '"><x', "\x00"])),
        pubstatus=draw(st.sampled_from(["usable", "canceled"])),
        pictures=[Picture(uri=draw(st.none() | _URLS), caption=draw(_HOSTILE_TEXT))],
    )
    related = [
        RelatedLink(story_id=draw(_HOSTILE_TEXT), uri=draw(_URLS), headline=draw(_HOSTILE_TEXT), score=0.5)
        for _ in range(draw(st.integers(0, 3)))
    ]
    return StoryEnriched(
        story_id=story.id,
        trace_id="t",
        received_at=NOW,
        enriched_at=NOW,
        story=story,
        enrichment=Enrichment(related=related),
    )


@FUZZ
@given(enriched=_enriched(), footer=_HOSTILE_TEXT)
def test_renditions_never_carry_an_unsafe_link(enriched: StoryEnriched, footer: str) -> None:
    outlet = Outlet.model_validate({"name": "web", "format": "html", "wording": {"footer": footer}})
    assert_only_safe_links(linked_urls(to_html(enriched, outlet, "This article is old.")))
    to_text(enriched, outlet, None)
    json.dumps(to_ninjs(enriched))


@FUZZ
@given(entries=st.lists(_enriched(), min_size=1, max_size=3), query=_HOSTILE_TEXT)
def test_the_atom_feed_is_always_well_formed_with_only_safe_links(
    entries: list[StoryEnriched], query: str
) -> None:
    outlet = Outlet(name="feed", transport="atom", format="html")
    rows = [
        {
            "story_id": e.story_id,
            "uri": e.story.uri,
            "type": "story.published",
            "headline": e.story.headline,
            "summary": e.story.description,
            "html": render(e, outlet, None, []).html,
            "updated": NOW.isoformat(),
            "published": NOW.isoformat(),
            "author": e.story.byline,
        }
        for e in entries
    ]
    root = ElementTree.fromstring(feed_xml("feed", f"http://publish/feeds/feed.atom{query}", rows, NOW))
    assert len(root.findall(f"{ATOM}entry")) == len(entries)
    assert_only_safe_links(
        [link.get("href", "") for link in root.iter(f"{ATOM}link") if link.get("rel") != "self"]
    )
    for content in root.iter(f"{ATOM}content"):
        assert_only_safe_links(linked_urls(content.text or ""))


_API_VALUE = st.none() | st.integers() | _HOSTILE_TEXT


@FUZZ
@given(
    deliveries=st.lists(
        st.fixed_dictionaries(
            {k: _API_VALUE for k in ("story_id", "headline", "outlet", "partner", "status", "last_error")},
            optional={"flags": st.lists(_HOSTILE_TEXT, max_size=2), "queued_at": _API_VALUE},
        ),
        max_size=3,
    ),
    error=st.none() | _HOSTILE_TEXT,
)
def test_the_terminal_queue_never_prints_a_control_character(
    deliveries: list[dict[str, Any]], error: str | None
) -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None, force_terminal=False)
    snapshot = {"deliveries": deliveries, "counts": {"by_outlet": {"web": {"failed": 1}}}}
    console.print(render_queue(snapshot, QueueFilters(), url="http://publish", error=error))
    assert not TERMINAL_CONTROLS.search(out.getvalue())
