"""The editors' queue page as an editor uses it, in Chromium, against the real pipeline.

Sign in; a story POSTed to ingest appears live; its detail shows what each outlet
received; a failed delivery is retried, a waiting one held and released, a story
killed everywhere — each confirmed in a dialog and visible in the timeline; and
nothing is allowed without an editor token.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import EDITOR_TOKEN, LAPTOP, PHONE, Stack, ninjs, shoot
from tests.helpers.pipeline import PARTNER_ID

pytestmark = pytest.mark.browser

# The issue asks for a story POSTed to ingest to appear within a second; it takes
# about 0.3 s here (202 → row visible, tagging on). The budget leaves room for a
# loaded CI machine without hiding a page that polls instead of listening.
LIVE_BUDGET_SECONDS = 1.5
DELIVERED_TIMEOUT_MS = 30_000


def sign_in(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.url}/")
    page.get_by_label("Editor token").fill(EDITOR_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#queue")).to_be_visible()
    expect(page.locator("#live")).to_have_text("live", timeout=10_000)


def row(page: Page, story_id: str, outlet: str, action: str = "published") -> Locator:
    return page.locator(
        f'#deliveries tbody tr[data-story="{story_id}"][data-outlet="{outlet}"][data-action="{action}"]'
    )


def confirm(page: Page, expected_title: str) -> None:
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text(expected_title)
    dialog.get_by_role("button", name=expected_title.split(" ")[0]).click()
    expect(dialog).to_be_hidden()


def open_story(page: Page, story_id: str, headline: str) -> None:
    page.locator(f'#deliveries tbody tr[data-story="{story_id}"] a').first.click()
    expect(page.locator("#story-title")).to_have_text(headline)


def test_wrong_token_is_refused_then_sign_in_works(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.url}/")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#queue")).to_be_hidden()
    page.get_by_label("Editor token").fill("not-an-editor-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_contain_text("not accepted")
    expect(page.locator("#queue")).to_be_hidden()
    shoot(page, "sign-in")

    sign_in(page, stack)
    assert page.evaluate("sessionStorage.getItem('newsroom.editorToken')") == EDITOR_TOKEN
    assert EDITOR_TOKEN not in page.url
    page.get_by_role("button", name="Sign out").click()
    expect(page.locator("#signin")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('newsroom.editorToken')") is None


def test_a_posted_story_appears_live_and_its_detail_shows_every_outlet(page: Page, stack: Stack) -> None:
    sign_in(page, stack)
    earlier = ninjs(
        "Heavy fighting erupts between Azerbaijan and Armenian separatists in Nagorno-Karabakh",
        located="Baku",
        body="<p>Azerbaijan and ethnic Armenian separatists in Nagorno-Karabakh accused each other of "
        "attacks along the contact line, in the fiercest fighting in the breakaway region for years.</p>"
        "<p>Armenia's defence ministry said Azeri forces attacked with tanks and artillery. The Minsk Group "
        "of Russia, France and the United States has mediated in the Nagorno-Karabakh conflict.</p>",
    )
    earlier_id = stack.post(earlier)
    expect(row(page, earlier_id, "web-desk")).to_have_attribute(
        "data-status", "delivered", timeout=DELIVERED_TIMEOUT_MS
    )
    headline = "Ceasefire declared in Nagorno-Karabakh after four days of fighting"
    item = ninjs(
        headline,
        located="Baku",
        body="<p>Azerbaijan and the breakaway region of Nagorno-Karabakh said on Tuesday they were halting "
        "hostilities after four days of intense fighting between Azerbaijan and Armenia.</p>"
        "<p>Azerbaijan's defence ministry said military actions on the contact line were halted. "
        "Russia, France and the United States, who mediate as the Minsk Group, will send envoys.</p>",
    )
    item["expires"] = "2099-01-01 00:00:00"  # no UTC offset: kept, with a warning on the timeline
    posted = time.monotonic()
    story_id = stack.post(item)
    expect(page.locator(f'#deliveries tbody tr[data-story="{story_id}"]').first).to_be_visible(timeout=15_000)
    appeared = time.monotonic() - posted
    print(f"\nstory visible on the page {appeared * 1000:.0f} ms after ingest answered 202")
    for outlet in ("web-desk", "mobile-app"):
        expect(row(page, story_id, outlet)).to_have_attribute(
            "data-status", "delivered", timeout=DELIVERED_TIMEOUT_MS
        )
    web = row(page, story_id, "web-desk")
    expect(web).to_contain_text(headline)
    expect(web.locator('td[data-label="Partner"]')).to_have_text(PARTNER_ID)
    expect(web.locator("td.time").last).not_to_have_text("—")
    expect(page.locator('#outlet-counts [data-outlet="web-desk"]')).to_contain_text("delivered")
    shoot(page, "queue-live")

    open_story(page, story_id, headline)
    sent = [r for r in list(stack.web.received) if json.loads(r.body)["data"]["uri"] == item["uri"]]
    web_copy = page.locator('#story-deliveries tr[data-outlet="web-desk"]')
    expect(web_copy.locator(".tag-id")).to_have_text(sent[0].webhook_id)  # what the outlet saw
    tabs = page.get_by_role("tab")
    expect(tabs).to_have_count(2)
    expect(tabs.first).to_have_attribute("aria-selected", "true")
    page.get_by_role("tab", name="web-desk (html)").click()
    expect(page.get_by_role("tab", name="web-desk (html)")).to_have_attribute("aria-selected", "true")
    preview = page.frame_locator(".rendition iframe")
    expect(preview.locator("body")).to_contain_text(headline)
    expect(page.locator("pre.payload")).to_contain_text('"type": "story.published"')
    page.get_by_role("tab", name="mobile-app (ninjs)").click()
    expect(page.locator("pre.payload")).to_contain_text('"uri": "' + item["uri"] + '"')
    tags = page.locator('[data-slot="tags"]')
    expect(tags).to_contain_text("Azerbaijan")
    expect(tags.locator("li", has_text="Azerbaijan").first.locator(".tag-id")).not_to_have_text("no id")
    related = page.locator('[data-slot="links"] .links a', has_text="Heavy fighting erupts")
    expect(related).to_be_visible()
    expect(page.locator('[data-slot="links"] .reason').first).not_to_be_empty()
    timeline = page.locator(".timeline")
    for event in ("received", "enriched", "routed", "delivery:web-desk", "delivery:mobile-app"):
        expect(timeline).to_contain_text(event)
    for service in ("ingest", "enrich", "publish"):
        expect(timeline.locator(f".svc-{service}").first).to_be_visible()
    expect(timeline).to_contain_text(
        'warnings: /expires "2099-01-01 00:00:00": no UTC offset; read as UTC time'
    )
    shoot(page, "story-detail")

    page.get_by_role("link", name="Back to the queue").click()
    expect(page.locator("#queue")).to_be_visible()
    assert appeared <= LIVE_BUDGET_SECONDS, f"took {appeared:.2f} s to appear"


def test_story_view_shows_a_duplicate_with_its_reason(page: Page, stack: Stack) -> None:
    sign_in(page, stack)
    text = (
        "<p>GENEVA — Delegates from forty countries agreed on Thursday to phase out single-use plastics "
        "in packaging by 2035, closing two weeks of negotiations at the United Nations in Geneva.</p>"
        "<p>The agreement sets binding national targets, a fund to help poorer countries build recycling "
        "plants, and a ban on plastic microbeads in cosmetics from 2028. Countries that miss their targets "
        "must publish a recovery plan within a year.</p>"
        "<p>Environmental groups welcomed the plastics treaty but said the deadline was too late, while "
        "industry associations warned that packaging costs would rise for food producers.</p>"
    )
    first = ninjs("Forty countries agree to phase out single-use plastics by 2035", body=text)
    again = ninjs("Forty countries agree to phase out single-use plastics by 2035, UN says", body=text)
    first_id = stack.post(first)
    expect(row(page, first_id, "web-desk")).to_have_attribute(
        "data-status", "delivered", timeout=DELIVERED_TIMEOUT_MS
    )
    again_id = stack.post(again)
    expect(row(page, again_id, "web-desk")).to_be_visible(timeout=DELIVERED_TIMEOUT_MS)
    open_story(page, again_id, again["headlines"][0]["value"])
    duplicates = page.locator('[data-slot="links"] .panel').nth(1)
    expect(duplicates.locator("a", has_text="Forty countries agree")).to_be_visible()
    expect(duplicates.locator(".reason").first).not_to_be_empty()
    duplicates.locator("a", has_text="Forty countries agree").click()
    expect(page.locator("#story-title")).to_have_text(first["headlines"][0]["value"])


def test_retry_a_failed_delivery_and_watch_it_succeed(page: Page, stack: Stack) -> None:
    sign_in(page, stack)
    headline = "Markets close higher as the central bank holds rates"
    item = ninjs(headline, located="Frankfurt")
    stack.script.set(item["uri"], "fail")
    story_id = stack.post(item)
    failed = row(page, story_id, "mobile-app")
    expect(failed).to_have_attribute("data-status", "failed", timeout=DELIVERED_TIMEOUT_MS)
    expect(failed.locator("td.error")).to_contain_text("HTTP 500")
    expect(failed.locator("td.num").last).to_have_text("3")
    expect(row(page, story_id, "web-desk")).to_have_attribute("data-status", "delivered")
    outlet_card = page.locator('#outlet-counts [data-outlet="mobile-app"]')
    expect(outlet_card).to_have_class(re.compile(r"\bfailing\b"))
    expect(outlet_card).to_contain_text("failing")
    shoot(page, "queue-failing-outlet")

    stack.script.set(item["uri"], "ok")
    failed.get_by_role("button", name="Retry").click()
    expect(page.locator("#confirm-text")).to_contain_text(headline)
    shoot(page, "confirm-retry", full_page=False)
    confirm(page, "Retry this delivery?")
    expect(failed).to_have_attribute("data-status", "delivered", timeout=DELIVERED_TIMEOUT_MS)
    expect(failed.locator("td.num").last).to_have_text("4")
    assert len(stack.received_by(stack.app, item["uri"])) == 1

    open_story(page, story_id, headline)
    expect(page.locator(".timeline")).to_contain_text("editor:retry")


def test_hold_then_release_a_waiting_delivery(page: Page, stack: Stack) -> None:
    sign_in(page, stack)
    headline = "Storm Ciarán closes ports along the Channel coast"
    item = ninjs(headline, located="Calais")
    stack.script.set(item["uri"], "throttle")  # 503 with Retry-After: one hour
    story_id = stack.post(item)
    waiting = row(page, story_id, "mobile-app")
    expect(waiting).to_have_attribute("data-status", "retrying", timeout=DELIVERED_TIMEOUT_MS)

    waiting.get_by_role("button", name="Hold").click()
    confirm(page, "Hold this delivery?")
    expect(waiting).to_have_attribute("data-status", "held", timeout=10_000)
    expect(waiting).to_contain_text("held by an editor")
    expect(waiting.get_by_role("button", name="Release")).to_be_visible()
    expect(page.locator('#status-counts [data-status="held"] strong')).not_to_have_text("0")
    shoot(page, "queue-held")

    stack.script.set(item["uri"], "ok")
    # Sentinel: a story posted after the hold reaches the same outlet; the held one did not.
    later = ninjs("Ferries resume from Dover after the storm", located="Dover")
    stack.post(later)
    assert stack.app.wait_for(lambda r: len(stack.received_by(r, later["uri"])) == 1, 30), "the later story"
    assert stack.received_by(stack.app, item["uri"]) == [], "a held delivery was sent"
    waiting.get_by_role("button", name="Release").click()
    confirm(page, "Release this delivery?")
    expect(waiting).to_have_attribute("data-status", "delivered", timeout=DELIVERED_TIMEOUT_MS)
    assert len(stack.received_by(stack.app, item["uri"])) == 1

    open_story(page, story_id, headline)
    timeline = page.locator(".timeline")
    expect(timeline).to_contain_text("editor:hold")
    expect(timeline).to_contain_text("editor:release")


def test_cancel_a_waiting_delivery(page: Page, stack: Stack) -> None:
    sign_in(page, stack)
    headline = "Central bank chief to testify before lawmakers next week"
    item = ninjs(headline, located="Washington")
    stack.script.set(item["uri"], "throttle")
    story_id = stack.post(item)
    waiting = row(page, story_id, "mobile-app")
    expect(waiting).to_have_attribute("data-status", "retrying", timeout=DELIVERED_TIMEOUT_MS)
    waiting.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Go back").click()  # changing one's mind leaves it alone
    expect(page.locator("#confirm")).to_be_hidden()
    expect(waiting).to_have_attribute("data-status", "retrying")
    waiting.get_by_role("button", name="Cancel").click()
    confirm(page, "Cancel this delivery?")
    expect(waiting).to_have_attribute("data-status", "canceled", timeout=10_000)
    expect(waiting.get_by_role("button", name="Retry")).to_be_visible()
    stack.script.set(item["uri"], "ok")
    open_story(page, story_id, headline)
    expect(page.locator(".timeline")).to_contain_text("editor:cancel")
    assert stack.received_by(stack.app, item["uri"]) == []


def test_kill_a_story_and_every_outlet_row_changes(page: Page, stack: Stack) -> None:
    sign_in(page, stack)
    headline = "Minister resigns over leaked budget documents"
    item = ninjs(headline, located="London", urgency=2)
    story_id = stack.post(item)
    for outlet in ("web-desk", "mobile-app"):
        expect(row(page, story_id, outlet)).to_have_attribute(
            "data-status", "delivered", timeout=DELIVERED_TIMEOUT_MS
        )

    open_story(page, story_id, headline)
    page.get_by_role("button", name="Kill story everywhere").click()
    expect(page.locator("#confirm-text")).to_contain_text("every outlet")
    shoot(page, "confirm-kill", full_page=False)
    confirm(page, "Kill this story everywhere?")
    expect(page.locator(".timeline")).to_contain_text("editor:kill", timeout=10_000)
    expect(page.get_by_role("button", name="Killed everywhere")).to_be_disabled(timeout=DELIVERED_TIMEOUT_MS)
    page.get_by_role("link", name="Back to the queue").click()

    for outlet in ("web-desk", "mobile-app"):
        expect(row(page, story_id, outlet, "killed")).to_have_attribute(
            "data-status", "delivered", timeout=DELIVERED_TIMEOUT_MS
        )
        original = row(page, story_id, outlet)
        expect(original).to_have_class(re.compile(r"\bkilled\b"))
        expect(original.locator(".f-killed")).to_have_text("KILLED")
    shoot(page, "queue-killed")
    for receiver in (stack.web, stack.app):
        kinds = [body["type"] for body in stack.received_by(receiver, item["uri"])]
        assert kinds == ["story.published", "story.killed"]


def test_filters_search_and_counts(page: Page, stack: Stack) -> None:
    sign_in(page, stack)
    flash = ninjs("FLASH: Earthquake of magnitude 7.1 strikes off Japan's coast", urgency=1, located="Tokyo")
    flash_id = stack.post(flash)
    expect(row(page, flash_id, "web-desk")).to_have_attribute(
        "data-status", "delivered", timeout=DELIVERED_TIMEOUT_MS
    )
    expect(row(page, flash_id, "web-desk").locator(".f-flash")).to_have_text("FLASH")

    page.locator("#f-flag").select_option("FLASH")
    rows = page.locator("#deliveries tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Earthquake")
    page.get_by_role("button", name="Clear filters").click()

    page.get_by_label("Search headlines").fill("earthquake")
    expect(rows).to_have_count(2)
    page.locator("#f-outlet").select_option("mobile-app")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-outlet", "mobile-app")
    page.get_by_role("button", name="Clear filters").click()

    page.locator('#status-counts [data-status="delivered"]').click()
    expect(page.locator("#f-status")).to_have_value("delivered")
    for status in rows.evaluate_all("rows => rows.map(r => r.dataset.status)"):
        assert status == "delivered"
    assert "status=delivered" in page.url  # a filtered view can be bookmarked or shared
    open_story(page, flash_id, flash["headlines"][0]["value"])
    page.get_by_role("link", name="Back to the queue").click()
    expect(page.locator("#f-status")).to_have_value("delivered")
    page.get_by_role("button", name="Clear filters").click()

    api = httpx.get(
        f"{stack.url}/v1/deliveries", headers={"authorization": f"Bearer {EDITOR_TOKEN}"}, timeout=10
    ).json()
    for status, count in api["counts"]["by_status"].items():
        expect(page.locator(f'#status-counts [data-status="{status}"] strong')).to_have_text(str(count))


def test_actions_are_refused_without_an_editor_token(page: Page, stack: Stack) -> None:
    item = ninjs("Council approves new tram line", located="Leeds")
    story_id = stack.post(item)
    token = {"authorization": f"Bearer {EDITOR_TOKEN}"}
    deadline = time.monotonic() + 30
    deliveries: list[dict[str, str]] = []
    while time.monotonic() < deadline and not deliveries:
        found = httpx.get(f"{stack.url}/v1/deliveries", params={"story": story_id}, headers=token)
        deliveries = found.json()["deliveries"]
        time.sleep(0.1)
    assert deliveries, "the story was never queued"
    delivery_id = deliveries[0]["id"]
    attempts = [
        *[("POST", f"/v1/deliveries/{delivery_id}/{a}") for a in ("retry", "hold", "release", "cancel")],
        ("POST", f"/v1/stories/{story_id}/kill"),
        ("GET", "/v1/deliveries"),
        ("GET", f"/v1/stories/{story_id}"),
        ("GET", "/v1/events"),
    ]
    # Query parameters named like the handlers' arguments must not stand in for a token.
    smuggled = {"_": "desk", "who": "desk", "editor": "desk"}
    for headers in ({}, {"authorization": "Bearer wrong-token"}, {"authorization": f"Basic {EDITOR_TOKEN}"}):
        for method, path in attempts:
            answer = httpx.request(method, f"{stack.url}{path}", headers=headers, params=smuggled, timeout=10)
            assert answer.status_code == 401, (method, path, headers, answer.status_code)
            assert answer.headers["content-type"].startswith("application/problem+json")

    # The page itself: without a token it shows only the sign-in, and its own
    # requests without the header are refused by the API.
    page.goto(f"{stack.url}/#/story/{story_id}")
    expect(page.locator("#signin")).to_be_visible()
    expect(page.locator("#story")).to_be_hidden()
    status = page.evaluate(f"fetch('/v1/stories/{story_id}/kill', {{method: 'POST'}}).then(r => r.status)")
    assert status == 401
    page.evaluate("sessionStorage.setItem('newsroom.editorToken', 'stale-token')")
    page.reload()
    expect(page.locator("#signin-error")).to_contain_text("not accepted")
    for receiver in (stack.web, stack.app):
        kinds = [body["type"] for body in stack.received_by(receiver, item["uri"])]
        assert "story.killed" not in kinds


def test_phone_layout_and_keyboard_only_use(browser: Browser, stack: Stack) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        page.goto(f"{stack.url}/")
        expect(page.get_by_label("Editor token")).to_be_focused()  # the sign-in puts the cursor there
        page.keyboard.type(EDITOR_TOKEN)
        page.keyboard.press("Enter")
        expect(page.locator("#live")).to_have_text("live", timeout=10_000)
        story_id = stack.post(ninjs("Floods close schools across the valley", located="Valencia"))
        expect(page.locator(f'#deliveries tbody tr[data-story="{story_id}"]').first).to_be_visible(
            timeout=15_000
        )
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"
        shoot(page, "phone-queue", full_page=False)

        link = page.locator("#deliveries tbody tr a").first
        link.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#story-title")).to_be_focused()
        expect(page.locator("#story")).to_be_visible()
        shoot(page, "phone-story", full_page=False)
        page.get_by_role("button", name="Kill story everywhere").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#confirm")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator("#confirm")).to_be_hidden()
        expect(page.get_by_role("button", name="Kill story everywhere")).to_be_focused()
    finally:
        context.close()


def test_laptop_overview_screenshot(browser: Browser, stack: Stack) -> None:
    """The screenshot the README shows: the queue after the scenarios above, with trouble on one outlet."""
    failing = ninjs("Rail strike halts trains across the north", located="Manchester")
    throttled = ninjs("Parliament debates the new energy bill", located="London")
    stack.script.set(failing["uri"], "fail")
    stack.script.set(throttled["uri"], "throttle")
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    try:
        sign_in(page, stack)
        failing_id, throttled_id = stack.post(failing), stack.post(throttled)
        expect(row(page, failing_id, "mobile-app")).to_have_attribute(
            "data-status", "failed", timeout=DELIVERED_TIMEOUT_MS
        )
        expect(row(page, throttled_id, "mobile-app")).to_have_attribute(
            "data-status", "retrying", timeout=DELIVERED_TIMEOUT_MS
        )
        expect(page.locator('#outlet-counts [data-outlet="mobile-app"]')).to_contain_text("failing")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= LAPTOP["width"], f"the queue scrolls sideways on a laptop ({width}px)"
        shoot(page, "queue-overview", full_page=False)
        open_story(page, failing_id, failing["headlines"][0]["value"])
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= LAPTOP["width"], f"the story view scrolls sideways on a laptop ({width}px)"
    finally:
        context.close()


def deliveries_of(stack: Stack, story_id: str, until: Callable[[list[dict[str, Any]]], bool]) -> None:
    """Wait (through the editors' API) until the story's deliveries satisfy `until`."""
    token = {"authorization": f"Bearer {EDITOR_TOKEN}"}
    deadline = time.monotonic() + DELIVERED_TIMEOUT_MS / 1000
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{stack.url}/v1/deliveries", params={"story": story_id}, headers=token, timeout=10
        )
        found = answer.json()["deliveries"]
        if until(found):
            return
        time.sleep(0.1)
    raise AssertionError(f"deliveries of {story_id} never got there: {found}")


def test_terminal_view_shows_the_same_queue(stack: Stack) -> None:
    # Its own stories, so the test needs neither Chromium nor the tests that drive it.
    published = stack.post(ninjs("Minister resigns over leaked budget documents", located="London"))
    killed = stack.post(ninjs("Port strike ends after two weeks", located="Rotterdam"))
    for story_id in (published, killed):
        deliveries_of(stack, story_id, lambda found: sum(d["status"] == "delivered" for d in found) == 2)
    token = {"authorization": f"Bearer {EDITOR_TOKEN}"}
    assert httpx.post(f"{stack.url}/v1/stories/{killed}/kill", headers=token, timeout=10).status_code == 200
    deliveries_of(
        stack,
        killed,
        lambda found: (
            sum(d["status"] == "delivered" and d["event_type"] == "story.killed" for d in found) == 2
        ),
    )
    env = {**os.environ, "NEWSROOM_EDITOR_TOKEN": EDITOR_TOKEN, "COLUMNS": "200"}
    shown = subprocess.run(
        [sys.executable, "-m", "services.cli", "queue", "--url", stack.url, "--once", "--limit", "100"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    for text in ("web-desk", "mobile-app", "delivered", "Minister resigns", "killed"):
        assert text in shown.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "services.cli", "queue", "--url", stack.url, "--once"],
        env={**env, "NEWSROOM_EDITOR_TOKEN": "wrong"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2
    assert "refused" in refused.stdout
