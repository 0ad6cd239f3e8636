"""The editors' API on a real Redis: token auth, listing and counts, actions, kill, story view,
backfill from the enriched stream, Atom feeds — every error as problem+json."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from fastapi import FastAPI

from services.publish.api import editors_router
from services.publish.atom import AtomStore
from services.publish.publisher import Publisher, delivery_id
from shared.config import Editor, NewsroomConfig, Outlet, OutletFilters, sha256_hex
from shared.connections import RedisClient
from shared.problems import install_problem_handlers
from shared.settings import Settings
from shared.streams import encode_event
from tests.helpers.receiver import Receiver
from tests.integration.ingest_support import ingest_client, ingest_settings
from tests.integration.test_publish_delivery import SECRET, fast, publishing, story_event, until

pytestmark = pytest.mark.integration
TOKEN = "editor-token-for-tests"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def config(receiver_url: str = "http://127.0.0.1:9/hook") -> NewsroomConfig:
    return NewsroomConfig(
        outlets=[
            Outlet(name="web", url=receiver_url, secret=SECRET),
            Outlet(name="print", url=receiver_url, secret=SECRET, format="text"),
            Outlet(name="feed", transport="atom", format="html", filters=OutletFilters(languages=["en"])),
        ],
        editors=[Editor(id="desk", token_sha256=sha256_hex(TOKEN))],
    )


def api_app(publisher: Publisher, settings: Settings, redis: RedisClient) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(editors_router(publisher, AtomStore(redis, settings.keys, 10)))
    return app


@pytest.fixture
async def api(settings: Settings, redis: RedisClient) -> AsyncIterator[tuple[httpx.AsyncClient, Publisher]]:
    publisher = Publisher(fast(settings), config(), redis)
    transport = httpx.ASGITransport(app=api_app(publisher, settings, redis))
    async with httpx.AsyncClient(transport=transport, base_url="http://publish") as client:
        yield client, publisher


async def test_every_editor_route_refuses_without_a_valid_token(
    api: tuple[httpx.AsyncClient, Publisher],
) -> None:
    client, _ = api
    routes = [
        ("GET", "/v1/deliveries"),
        ("POST", "/v1/deliveries/msg_x_web/retry"),
        ("POST", "/v1/stories/x/kill"),
        ("POST", "/v1/outlets/web/backfill"),
        ("GET", "/v1/stories/x"),
        ("GET", "/v1/events"),
    ]
    for method, path in routes:
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
            response = await client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["title"] == "Not authenticated"
            assert response.json()["type"].endswith("/unauthenticated")  # as ingest's 401
            assert response.headers["www-authenticate"].startswith("Bearer")
    # Only the live feed (/v1/events, exercised by the browser tests through EventSource)
    # takes the token in the query; elsewhere it would leak into access logs.
    in_query = await client.get("/v1/deliveries", params={"token": TOKEN})
    assert in_query.status_code == 401


async def test_a_garbage_event_id_is_a_problem_not_a_broken_stream(
    api: tuple[httpx.AsyncClient, Publisher],
) -> None:
    client, _ = api
    for params, headers in (({"since": "garbage"}, AUTH), ({}, {**AUTH, "last-event-id": "1-x"})):
        answer = await client.get("/v1/events", params=params, headers=headers)
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["pointer"] == "since"


async def test_list_filters_and_counts(api: tuple[httpx.AsyncClient, Publisher]) -> None:
    client, publisher = api
    await publisher.accept(story_event("urn:wire:quake", headline="Earthquake strikes", urgency=1))
    await publisher.accept(story_event("urn:wire:markets", headline="Markets rally", language="fr"))
    body = (await client.get("/v1/deliveries", headers=AUTH)).json()
    assert len(body["deliveries"]) == 5  # the French story skips the English-only feed
    assert body["counts"]["by_status"]["queued"] == 5
    assert body["counts"]["by_outlet"]["feed"]["queued"] == 1
    item = next(
        d for d in body["deliveries"] if d["outlet"] == "web" and d["headline"] == "Earthquake strikes"
    )
    assert set(item) == {
        "id", "story_id", "outlet", "partner", "headline", "version", "status", "attempts", "last_error",
        "status_code", "queued_at", "sent_at", "updated_at", "next_attempt_at", "hold_reason", "age_label",
        "flags", "event_type", "actions", "waiting",
    }  # fmt: skip
    assert item["actions"] == ["hold", "cancel"]
    assert item["waiting"] is None
    assert item["flags"] == ["FLASH"]
    assert item["event_type"] == "story.published"
    assert item["partner"] == "wire"

    async def ids(**params: Any) -> list[str]:
        response = await client.get("/v1/deliveries", headers=AUTH, params=params)
        return sorted(d["outlet"] + ":" + d["headline"] for d in response.json()["deliveries"])

    assert await ids(outlet="print") == ["print:Earthquake strikes", "print:Markets rally"]
    assert await ids(q="MARKETS", outlet="web") == ["web:Markets rally"]
    assert await ids(flag="flash") == [
        "feed:Earthquake strikes",
        "print:Earthquake strikes",
        "web:Earthquake strikes",
    ]
    assert await ids(status="delivered") == []
    assert await ids(partner="nobody") == []
    assert len(await ids(story=item["story_id"], limit=2)) == 2


async def test_hold_release_cancel_retry_and_conflicts(api: tuple[httpx.AsyncClient, Publisher]) -> None:
    client, publisher = api
    event = story_event()
    await publisher.accept(event)
    did = delivery_id("web", event)

    held = await client.post(f"/v1/deliveries/{did}/hold", headers=AUTH)
    assert held.status_code == 200
    assert held.json()["delivery"]["status"] == "held"
    assert held.json()["delivery"]["hold_reason"] == "editor"
    again = await client.post(f"/v1/deliveries/{did}/release", headers=AUTH)
    assert again.json()["delivery"]["status"] == "queued"
    canceled = await client.post(f"/v1/deliveries/{did}/cancel", headers=AUTH)
    assert canceled.json()["delivery"]["status"] == "canceled"
    conflict = await client.post(f"/v1/deliveries/{did}/release", headers=AUTH)
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert "only a held delivery can be released" in conflict.json()["detail"]
    retried = await client.post(f"/v1/deliveries/{did}/retry", headers=AUTH)
    assert retried.json()["delivery"]["status"] == "queued"
    missing = await client.post("/v1/deliveries/msg_nothing_web/retry", headers=AUTH)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    bad = await client.post(f"/v1/deliveries/{did}/explode", headers=AUTH)
    assert bad.status_code == 422
    timeline = (await client.get(f"/v1/stories/{event.story_id}", headers=AUTH)).json()["timeline"]
    assert [t["event"] for t in timeline if t["event"].startswith("editor:")] == [
        "editor:hold",
        "editor:release",
        "editor:cancel",
        "editor:retry",
    ]


async def test_embargoed_delivery_released_by_an_editor_stays_under_embargo(
    api: tuple[httpx.AsyncClient, Publisher],
) -> None:
    client, publisher = api
    event = story_event(embargoed=datetime.now(UTC) + timedelta(hours=1))
    await publisher.accept(event)
    did = delivery_id("web", event)
    await client.post(f"/v1/deliveries/{did}/hold", headers=AUTH)
    released = (await client.post(f"/v1/deliveries/{did}/release", headers=AUTH)).json()["delivery"]
    assert released["status"] == "held"
    assert released["hold_reason"] == "embargo"
    assert released["next_attempt_at"] is not None
    assert released["flags"][0].startswith("EMBARGOED until")


async def test_story_view_kill_and_atom_feed(settings: Settings, redis: RedisClient) -> None:
    with Receiver() as outlet:
        cfg = config(outlet.url)
        async with publishing(fast(settings), redis, cfg.outlets) as running:
            publisher = Publisher(fast(settings), cfg, redis, wake=running.wake)
            transport = httpx.ASGITransport(app=api_app(publisher, settings, redis))
            async with httpx.AsyncClient(transport=transport, base_url="http://publish") as client:
                event = story_event(description="A standfirst.")
                await publisher.accept(event)
                await until(lambda: len(outlet.received) == 2)
                await until(lambda: _delivered(publisher, event, "feed"))

                view = (await client.get(f"/v1/stories/{event.story_id}", headers=AUTH)).json()
                assert view["story"]["uri"] == "urn:wire:1"
                assert {d["outlet"]: d["status"] for d in view["deliveries"]} == {
                    "web": "delivered",
                    "print": "delivered",
                    "feed": "delivered",
                }
                assert view["renditions"]["print"]["format"] == "text"
                assert "<h1>Headline of urn:wire:1 v1</h1>" in view["renditions"]["print"]["html"]
                sent = {r.json["data"]["format"]: r.body.decode() for r in outlet.received}
                assert view["renditions"]["print"]["payload"] == sent["text"]
                events = [t["event"] for t in view["timeline"]]
                assert events[0] == "routed"
                assert "delivery:web" in events

                feed = await client.get("/feeds/feed.atom")
                assert feed.headers["content-type"].startswith("application/atom+xml")
                assert "<title>Headline of urn:wire:1 v1</title>" in feed.text
                assert (await client.get("/feeds/web.atom")).status_code == 404

                killed = await client.post(f"/v1/stories/{event.story_id}/kill", headers=AUTH)
                assert killed.json()["outlets"] == {"web": "created", "print": "created", "feed": "created"}
                await until(lambda: len(outlet.received) == 4)

                async def feed_shows_kill() -> bool:
                    return "KILL: " in (await client.get("/feeds/feed.atom")).text

                await until(feed_shows_kill)
                # The kill is recorded upstream too, by ingest (KillRequested): the partner
                # cannot resurrect the item, and enrich gets the kill (to drop the story from
                # the related index).
                story = event.story
                field = f"{story.partner}\x1f{story.uri}"
                async with ingest_client(ingest_settings(settings)):

                    async def recorded_upstream() -> bool:
                        return await redis.hget(settings.keys.item_versions, field) is not None

                    await until(recorded_upstream)
                marker = await redis.hget(settings.keys.item_versions, field)
                assert marker == f"{story.version}:killed".encode()
                upstream = await redis.xrange(settings.keys.received_priority)
                assert len(upstream) == 1
                unknown = await client.post("/v1/stories/nope/kill", headers=AUTH)
                assert unknown.status_code == 404
        assert sorted(r.json["type"] for r in outlet.received[2:]) == ["story.killed", "story.killed"]


async def _delivered(publisher: Publisher, event: Any, outlet: str) -> bool:
    found = await publisher.queues[outlet].get(delivery_id(outlet, event))
    return found is not None and found.status == "delivered"


async def test_backfill_queues_a_time_range_of_the_enriched_stream_for_one_outlet(
    api: tuple[httpx.AsyncClient, Publisher], settings: Settings, redis: RedisClient
) -> None:
    client, publisher = api
    start = datetime.now(UTC) - timedelta(seconds=1)
    for n in range(3):
        event = story_event(f"urn:wire:back{n}")
        await redis.xadd(settings.keys.enriched, {"__data__": await encode_event(event)})
    await redis.xadd(settings.keys.enriched, {"__data__": b"not an event"})
    body = {"since": start.isoformat(), "until": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()}
    response = await client.post("/v1/outlets/print/backfill", headers=AUTH, json=body)
    assert response.status_code == 200
    assert response.json()["scanned"] == 4
    assert response.json()["created"] == 3
    again = (await client.post("/v1/outlets/print/backfill", headers=AUTH, json=body)).json()
    assert (again["created"], again["exists"]) == (0, 3)
    listed = (await client.get("/v1/deliveries", headers=AUTH)).json()["deliveries"]
    assert {d["outlet"] for d in listed} == {"print"}
    assert (await client.post("/v1/outlets/nope/backfill", headers=AUTH, json=body)).status_code == 404
    invalid = await client.post("/v1/outlets/print/backfill", headers=AUTH, json={"since": "yesterday"})
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert publisher.config.outlet("print") is not None


async def test_outlets_enable_and_one_delivery_with_its_payload(
    api: tuple[httpx.AsyncClient, Publisher], redis: RedisClient
) -> None:
    client, publisher = api
    event = story_event()
    await publisher.accept(event)
    await redis.set(publisher.queues["web"].key("disabled"), "HTTP 410: outlet disabled")
    outlets = (await client.get("/v1/outlets", headers=AUTH)).json()["outlets"]
    web = next(o for o in outlets if o["name"] == "web")
    assert web["disabled"] == "HTTP 410: outlet disabled"
    assert web["counts"]["queued"] == 1
    enabled = (await client.post("/v1/outlets/web/enable", headers=AUTH)).json()
    assert (enabled["enabled"], enabled["was_disabled"]) == (True, True)
    assert await publisher.queues["web"].disabled() is None
    one = await client.get(f"/v1/deliveries/{delivery_id('web', event)}", headers=AUTH)
    assert one.json()["status"] == "queued"
    assert one.json()["payload"] == ""  # nothing sent yet
    assert (await client.post("/v1/outlets/nope/enable", headers=AUTH)).status_code == 404


async def test_the_atom_feed_reflects_nothing_of_the_query_string(
    api: tuple[httpx.AsyncClient, Publisher],
) -> None:
    client, _ = api
    answer = await client.get('/feeds/feed.atom?x="/><script>alert(1)</script><x y="')
    assert answer.status_code == 200
    root = ElementTree.fromstring(answer.content)
    (self_link,) = [e for e in root.iter("{http://www.w3.org/2005/Atom}link") if e.get("rel") == "self"]
    assert self_link.get("href") == "http://publish/feeds/feed.atom"
    assert "script" not in answer.text
