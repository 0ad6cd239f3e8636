"""The demo outlet shows each article as its reader sees it (in-process app, signed deliveries)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from services.demo_outlet import create_app
from services.publish.formats import render, webhook_body
from shared.config import Outlet, OutletWording
from shared.events import StoryEnriched
from shared.story import Picture, Story
from shared.webhooks import signature_headers

SECRET = "whsec_ZGVtby1vdXRsZXQtc2lnbmluZy1zZWNyZXQtMzJieXQ="
OUTLET = Outlet(name="demo", format="html", wording=OutletWording(footer="Follow Demo News"))


def _delivery(headline: str, version: int = 1) -> tuple[bytes, dict[str, str]]:
    now = datetime.now(UTC)  # signatures are checked against the clock (5 minutes' tolerance)
    story = Story(
        partner="demo", uri="urn:demo:1", version=version, headline=headline, body_html="<p>Text.</p>",
        firstcreated=datetime(2016, 4, 5, tzinfo=UTC),
        pictures=[Picture(uri="https://media.example/a.jpg", caption="Une position", credit="EPA")],
    )  # fmt: skip
    enriched = StoryEnriched(story_id=story.id, trace_id="t", received_at=now, enriched_at=now, story=story)
    body = webhook_body(
        enriched, render(enriched, OUTLET, "This article is more than 10 years old.", []), now
    )
    return body, signature_headers([SECRET], f"msg_{version}", now, body)


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(SECRET)), base_url="http://outlet")


async def test_each_article_is_shown_as_rendered_and_a_new_version_replaces_it() -> None:
    async with _client() as client:
        for headline, version in (("First headline", 1), ("Updated headline", 2)):
            body, headers = _delivery(headline, version)
            assert (await client.post("/hook", content=body, headers=headers)).status_code == 200
        index = await client.get("/")
        assert index.text.count("<li>") == 1
        assert "Updated headline" in index.text
        assert "This article is more than 10 years old." in index.text
        story_id = json.loads(body)["data"]["story_id"]
        page = await client.get(f"/articles/{story_id}")
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert '<p class="age-banner" role="note">This article is more than 10 years old.</p>' in page.text
        assert "<figcaption>Une position Photo: EPA</figcaption>" in page.text
        assert '<p class="outlet-footer">Follow Demo News</p>' in page.text
        assert [d["headline"] for d in (await client.get("/inbox.json")).json()] == [
            "First headline",
            "Updated headline",
        ]


async def test_a_bad_signature_is_refused_and_nothing_is_shown() -> None:
    async with _client() as client:
        body, headers = _delivery("Forged")
        assert (await client.post("/hook", content=body + b" ", headers=headers)).status_code == 401
        assert "Forged" not in (await client.get("/")).text
        assert (await client.get("/media/..%2F..%2Fetc%2Fpasswd")).status_code == 404
        assert (await client.get("/media/ceasefire-artillery.svg")).status_code == 200
