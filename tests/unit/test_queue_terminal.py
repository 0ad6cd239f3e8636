"""`newsroom queue`: the terminal table, its counts and filters, and how it talks to the API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from rich.console import Console

from services.publish.page.terminal import (
    QueueError,
    QueueFilters,
    counts_table,
    fetch,
    render,
    watch,
)

TOKEN = "editor-token"


def delivery(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "msg_wire-1_v1_published_web",
        "story_id": "wire-1",
        "outlet": "web",
        "partner": "wire",
        "headline": "Ceasefire declared in Nagorno-Karabakh",
        "version": 1,
        "status": "delivered",
        "attempts": 1,
        "last_error": None,
        "status_code": 200,
        "queued_at": "2026-11-28T10:00:00+00:00",
        "sent_at": "2026-11-28T10:00:01+00:00",
        "updated_at": "2026-11-28T10:00:01+00:00",
        "next_attempt_at": None,
        "hold_reason": None,
        "age_label": None,
        "flags": [],
        "event_type": "story.published",
    }
    return {**base, **fields}


SNAPSHOT: dict[str, Any] = {
    "deliveries": [
        delivery(),
        delivery(
            id="msg_wire-1_v1_published_app",
            outlet="app",
            status="failed",
            attempts=3,
            status_code=500,
            last_error="HTTP 500 (gave up after 3 attempts)",
            sent_at=None,
            flags=["FLASH", "EMBARGOED until 2026-11-28T18:00:00+00:00"],
            age_label="10 years old",
        ),
    ],
    "counts": {
        "by_status": {"queued": 0, "held": 0, "sending": 0, "delivered": 1, "retrying": 0, "failed": 1},
        "by_outlet": {"web": {"delivered": 1}, "app": {"failed": 1}},
    },
}


def text_of(renderable: Any, width: int = 220) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_table_has_the_page_columns_and_every_value() -> None:
    out = text_of(render(SNAPSHOT, QueueFilters(), url="http://publish"), width=400)
    for column in ("Queued", "Headline", "Action", "Outlet", "Partner", "Ver.", "Status", "Tries"):
        assert column in out
    assert "Last error" in out
    assert "Sent" in out
    assert "Ceasefire declared in Nagorno-Karabakh" in out
    assert "published" in out
    assert "story.published" not in out
    assert "HTTP 500 (gave up after 3 attempts)" in out
    assert "HTTP 200" not in out
    assert "[FLASH]" in out
    assert "[EMBARGOED until 2026-11-28T18:00:00+00:00]" in out
    assert "10 years old" in out
    assert "2 deliveries shown" in out


def test_failing_outlets_are_marked_in_words() -> None:
    out = text_of(counts_table(SNAPSHOT["counts"]))
    rows = [[cell.strip() for cell in line.split("│") if cell.strip()] for line in out.splitlines()]
    lines = {row[0]: row for row in rows if row and row[0] in ("app", "web")}
    assert lines["app"][-1] == "⚠ FAILING"
    assert lines["web"][-1] == "ok"
    assert "all outlets" in out


def test_filters_become_query_parameters() -> None:
    filters = QueueFilters(outlet="app", status="failed", flag="FLASH", q="ceasefire", limit=20)
    assert filters.params() == {
        "outlet": "app",
        "status": "failed",
        "flag": "FLASH",
        "q": "ceasefire",
        "limit": "20",
    }
    assert QueueFilters().params() == {"limit": "50"}
    assert "outlet=app" in filters.describe()
    assert "limit" not in filters.describe()


def api(status: int = 200, body: Any = None, seen: list[httpx.Request] | None = None) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"title": "Editor token required"})
        return httpx.Response(status, json=SNAPSHOT if body is None else body)

    return httpx.Client(
        base_url="http://publish",
        transport=httpx.MockTransport(handle),
        headers={"authorization": f"Bearer {TOKEN}"},
    )


def test_fetch_sends_the_token_and_the_filters() -> None:
    seen: list[httpx.Request] = []
    with api(seen=seen) as client:
        snapshot = fetch(client, QueueFilters(outlet="app", status="failed"))
    assert snapshot == SNAPSHOT
    assert seen[0].url.path == "/v1/deliveries"
    assert dict(seen[0].url.params) == {"outlet": "app", "status": "failed", "limit": "50"}


def test_a_refused_token_is_fatal_and_a_server_error_is_not() -> None:
    bad = httpx.Client(
        base_url="http://publish",
        transport=httpx.MockTransport(lambda _r: httpx.Response(401, json={})),
    )
    with pytest.raises(QueueError) as refused:
        fetch(bad, QueueFilters())
    assert refused.value.fatal
    with (
        api(status=503, body={"detail": "Redis cannot be reached"}) as client,
        pytest.raises(QueueError) as down,
    ):
        fetch(client, QueueFilters())
    assert not down.value.fatal
    assert "Redis cannot be reached" in str(down.value)


def test_watch_once_prints_a_snapshot_or_exits_2_on_a_bad_token() -> None:
    console = Console(record=True, width=200, color_system=None)
    with api() as client:
        assert watch("http://publish", TOKEN, QueueFilters(), once=True, console=console, client=client) == 0
    assert "Ceasefire declared" in console.export_text()
    refused = httpx.Client(
        base_url="http://publish",
        transport=httpx.MockTransport(lambda _r: httpx.Response(401, json={})),
    )
    console = Console(record=True, width=200, color_system=None)
    assert watch("http://publish", "x", QueueFilters(), once=True, console=console, client=refused) == 2
    assert "refused" in console.export_text()


def test_watch_keeps_refreshing_through_outages_until_interrupted() -> None:
    answers = iter(
        [
            httpx.Response(200, json=SNAPSHOT),
            httpx.Response(503, json={"detail": "Redis cannot be reached"}),
            httpx.Response(200, json=SNAPSHOT),
        ]
    )
    calls: list[int] = []

    def handle(_request: httpx.Request) -> httpx.Response:
        calls.append(1)
        answer = next(answers, None)
        if answer is None:
            raise KeyboardInterrupt  # the operator presses Ctrl-C
        return answer

    client = httpx.Client(base_url="http://publish", transport=httpx.MockTransport(handle))
    console = Console(record=True, width=200, color_system=None, force_terminal=True)
    assert watch("http://publish", TOKEN, QueueFilters(), interval=0.01, console=console, client=client) == 0
    assert len(calls) == 4
    out = console.export_text()
    assert "Redis cannot be reached" in out
    assert "Ceasefire declared" in out


def test_every_copy_of_a_killed_story_says_killed() -> None:
    kill = delivery(id="msg_wire-1_v1_killed_web", event_type="story.killed", flags=["KILLED"])
    other = delivery(id="msg_wire-2_v1_published_web", story_id="wire-2", headline="Unrelated story")
    out = text_of(
        render({"deliveries": [kill, delivery(), other], "counts": {}}, QueueFilters(), url="u"), 400
    )
    lines = [line for line in out.splitlines() if "Ceasefire" in line or "Unrelated" in line]
    assert len(lines) == 3
    assert all("[KILLED]" in line for line in lines if "Ceasefire" in line)
    assert "[KILLED]" not in next(line for line in lines if "Unrelated" in line)


def test_why_a_delivery_waits_is_the_apis_reason() -> None:
    held = delivery(status="held", hold_reason="embargo", waiting="embargoed until 14:00 UTC", sent_at=None)
    out = text_of(render({**SNAPSHOT, "deliveries": [held]}, QueueFilters(), url="http://publish"), width=400)
    assert "embargoed until 14:00 UTC" in out
    plain = text_of(render(SNAPSHOT, QueueFilters(), url="http://publish"), width=400)
    assert "embargoed until" not in plain
