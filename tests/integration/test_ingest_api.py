"""The ingest API over HTTP semantics against a real Redis: auth, limits, errors, versions, status."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from services.ingest import offload
from services.ingest.app import Backlog
from shared import status
from shared.config import NewsroomConfig, Partner, sha256_hex
from shared.connections import RedisClient
from shared.settings import Settings
from shared.story import make_story_id
from shared.streams import Stream, Streams, ensure_groups
from shared.timeline import DeliveryAttempted, Enriched, Route, Routed
from shared.webhooks import signature_headers
from tests.conftest import shared_data
from tests.helpers.ports import free_port
from tests.integration.ingest_support import (
    EDITOR_TOKEN,
    KEY_A1,
    KEY_A2,
    KEY_B,
    KEY_STRICT,
    SIGNING_SECRET,
    bearer,
    ingest_client,
    ingest_settings,
    ninjs,
    partners_config,
    received,
)

pytestmark = pytest.mark.integration
JSON = {"Content-Type": "application/json"}


async def _post(client: httpx.AsyncClient, item: object, key: str = KEY_A1) -> httpx.Response:
    return await client.post("/v1/stories", content=json.dumps(item), headers={**bearer(key), **JSON})


def _is_problem(response: httpx.Response, status_code: int) -> dict[str, object]:
    assert response.status_code == status_code, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status_code
    assert body["title"]
    assert body["detail"]
    assert "Traceback" not in response.text
    return body


async def test_a_story_is_accepted_only_once_it_is_on_the_stream(
    settings: Settings, redis: RedisClient
) -> None:
    async with ingest_client(ingest_settings(settings)) as client:
        response = await _post(client, ninjs("urn:a:1", embargoed="2030-01-01T00:00:00Z"))
    assert response.status_code == 202
    answer = response.json()
    assert answer["id"] == make_story_id("alpha", "urn:a:1")
    assert (answer["version"], answer["status"], answer["received_as"]) == (1, "accepted", "new")
    [event] = await received(redis, settings.keys.received_lane("alpha"))
    assert event.story_id == answer["id"]
    assert event.trace_id == answer["trace_id"]
    assert event.story.headline == "Test headline"
    assert event.story.embargoed == datetime(2030, 1, 1, tzinfo=UTC)
    assert event.original is not None
    assert json.loads(event.original)["uri"] == "urn:a:1"


async def test_every_key_of_a_partner_works_and_unknown_keys_are_refused(
    settings: Settings, redis: RedisClient
) -> None:
    async with ingest_client(ingest_settings(settings)) as client:
        assert (await _post(client, ninjs("urn:k:1"), KEY_A1)).status_code == 202
        assert (await _post(client, ninjs("urn:k:2"), KEY_A2)).status_code == 202
        wrong = await _post(client, ninjs("urn:k:3"), "not-a-key")
        missing = await client.post("/v1/stories", content=json.dumps(ninjs()), headers=JSON)
    _is_problem(wrong, 401)
    _is_problem(missing, 401)
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    assert len(await received(redis, settings.keys.received_lane("alpha"))) == 2


async def test_a_partner_may_sign_requests_with_standard_webhooks(
    settings: Settings, redis: RedisClient
) -> None:
    body = json.dumps(ninjs("urn:signed:1")).encode()
    signed = signature_headers([SIGNING_SECRET], "msg_1", datetime.now(UTC), body)
    tampered = signature_headers([SIGNING_SECRET], "msg_2", datetime.now(UTC), body + b" ")
    async with ingest_client(ingest_settings(settings)) as client:
        good = await client.post("/v1/stories", content=body, headers={**signed, **JSON})
        bad = await client.post("/v1/stories", content=body, headers={**tampered, **JSON})
    assert good.status_code == 202, good.text
    assert good.json()["id"] == make_story_id("bravo", "urn:signed:1")
    _is_problem(bad, 401)


async def test_partners_live_in_separate_namespaces(settings: Settings, redis: RedisClient) -> None:
    async with ingest_client(ingest_settings(settings)) as client:
        mine = (await _post(client, ninjs("urn:shared:1", version="5"), KEY_A1)).json()
        # Partner B sends the same uri: a different item, which cannot supersede or kill A's.
        theirs = await _post(client, ninjs("urn:shared:1", version="1", pubstatus="canceled"), KEY_B)
        assert theirs.status_code == 202
        assert theirs.json()["id"] != mine["id"]
        again = await _post(client, ninjs("urn:shared:1", version="6"), KEY_A1)
        assert again.json()["received_as"] == "update"
        _is_problem(await client.get(f"/v1/stories/{mine['id']}", headers=bearer(KEY_B)), 404)
        own = await client.get(f"/v1/stories/{mine['id']}", headers=bearer(KEY_A2))
        editor = await client.get(f"/v1/stories/{mine['id']}", headers=bearer(EDITOR_TOKEN))
        stranger = await client.get(f"/v1/stories/{mine['id']}", headers=bearer("nobody"))
    assert own.status_code == 200
    assert editor.status_code == 200
    _is_problem(stranger, 401)


def _prefix_partners() -> NewsroomConfig:
    """`alpha` and `alpha-x`, past the config's refusal: visibility must not rest on that refusal."""
    alpha_x = Partner(id="alpha-x", keys_sha256=[sha256_hex(KEY_B)])
    base = partners_config()
    return NewsroomConfig.model_construct(
        partners=[base.partners[0], alpha_x], editors=base.editors, outlets=[], exempt_genres=[]
    )


async def test_a_partner_never_reads_a_story_whose_id_merely_starts_with_its_id(
    settings: Settings, redis: RedisClient
) -> None:
    async with ingest_client(ingest_settings(settings), _prefix_partners()) as client:
        theirs = (await _post(client, ninjs("urn:x:1", embargoed="2030-01-01T00:00:00Z"), KEY_B)).json()
        assert theirs["id"].startswith("alpha-x-")
        _is_problem(await client.get(f"/v1/stories/{theirs['id']}", headers=bearer(KEY_A1)), 404)
        own = await client.get(f"/v1/stories/{theirs['id']}", headers=bearer(KEY_B))
        editor = await client.get(f"/v1/stories/{theirs['id']}", headers=bearer(EDITOR_TOKEN))
    assert own.status_code == 200
    assert own.json()["partner"] == "alpha-x"
    assert editor.status_code == 200


async def test_versions_duplicates_superseded_updates_kills_and_withheld(
    settings: Settings, redis: RedisClient
) -> None:
    keys = settings.keys
    async with ingest_client(ingest_settings(settings)) as client:
        first = await _post(client, ninjs("urn:v:1", version="2"))
        duplicate = await _post(client, ninjs("urn:v:1", version="2"))
        older = await _post(client, ninjs("urn:v:1", version="1"))
        newer = await _post(client, ninjs("urn:v:1", version="3", expires="2031-01-01T00:00:00Z"))
        withheld = await _post(client, ninjs("urn:v:1", version="4", pubstatus="withheld"))
        kill = await _post(client, ninjs("urn:v:1", version="4", pubstatus="canceled"))
        kill_again = await _post(client, ninjs("urn:v:1", version="4", pubstatus="canceled"))
        resurrect = await _post(client, ninjs("urn:v:1", version="9"))
    assert first.status_code == 202
    assert first.json()["received_as"] == "new"
    assert duplicate.status_code == 200
    assert duplicate.json()["status"] == "duplicate"
    assert older.status_code == 200
    assert older.json()["status"] == "superseded"
    assert older.json()["current_version"] == 2
    assert newer.status_code == 202
    assert newer.json()["received_as"] == "update"
    assert withheld.status_code == 202
    assert withheld.json()["received_as"] == "withheld"
    assert kill.status_code == 202
    assert kill.json()["received_as"] == "kill"
    assert kill_again.status_code == 200
    assert kill_again.json()["status"] == "duplicate"
    assert _is_problem(resurrect, 409)["pointer"] == "/uri"

    routine = await received(redis, keys.received_lane("alpha"))
    assert [(e.story.version, e.received_as) for e in routine] == [(2, "new"), (3, "update"), (4, "withheld")]
    assert routine[1].story.expires == datetime(2031, 1, 1, tzinfo=UTC)
    [killed] = await received(redis, keys.received_priority)
    assert (killed.received_as, killed.story.pubstatus) == ("kill", "canceled")


async def test_flashes_go_to_the_priority_stream(settings: Settings, redis: RedisClient) -> None:
    async with ingest_client(ingest_settings(settings)) as client:
        assert (await _post(client, ninjs("urn:flash", urgency=1))).status_code == 202
    assert [e.story.uri for e in await received(redis, settings.keys.received_priority)] == ["urn:flash"]
    assert await received(redis, settings.keys.received_lane("alpha")) == []


async def test_concurrent_sends_of_one_item_are_accepted_exactly_once(
    settings: Settings, redis: RedisClient
) -> None:
    async with ingest_client(ingest_settings(settings)) as client:
        answers = await asyncio.gather(*(_post(client, ninjs("urn:race", version="7")) for _ in range(20)))
    assert sorted(a.status_code for a in answers) == [200] * 19 + [202]
    assert len(await received(redis, settings.keys.received_lane("alpha"))) == 1


async def test_dedup_state_survives_a_restart_of_ingest(settings: Settings, redis: RedisClient) -> None:
    async with ingest_client(ingest_settings(settings)) as client:
        assert (await _post(client, ninjs("urn:restart", version="3"))).status_code == 202
    async with ingest_client(ingest_settings(settings)) as restarted:
        again = await _post(restarted, ninjs("urn:restart", version="3"))
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"


async def test_size_type_syntax_and_schema_errors_are_precise_problems(
    settings: Settings, redis: RedisClient
) -> None:
    huge = b'{"uri": "x", "body_html": "' + b"a" * (50 * 1024 * 1024) + b'"}'
    async with ingest_client(ingest_settings(settings)) as client:
        too_large = await client.post("/v1/stories", content=huge, headers={**bearer(KEY_A1), **JSON})
        wrong_type = await client.post(
            "/v1/stories", content=b"hello", headers={**bearer(KEY_A1), "Content-Type": "application/pdf"}
        )
        bad_json = await client.post("/v1/stories", content=b'{"uri": ', headers={**bearer(KEY_A1), **JSON})
        bad_utf8 = await client.post(
            "/v1/stories", content=b'{"uri": "caf\xe9"}', headers={**bearer(KEY_A1), **JSON}
        )
        last_tuesday = await _post(client, ninjs("urn:lt", embargoed="Last Tuesday"))
        bomb = await client.post(
            "/v1/stories",
            content=b'<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><newsItem guid="g">&b;</newsItem>',
            headers={**bearer(KEY_A1), "Content-Type": "application/xml"},
        )
    _is_problem(too_large, 413)
    assert "application/pdf" in str(_is_problem(wrong_type, 415)["detail"])
    assert _is_problem(bad_json, 400)["pointer"] == "line 1, column 9"
    assert _is_problem(bad_utf8, 400)["pointer"] == "byte 12"
    problem = _is_problem(last_tuesday, 422)
    assert problem["pointer"] == "/embargoed"
    assert "Last Tuesday" in str(problem["detail"])
    assert _is_problem(bomb, 400)["type"] == "https://newsroom.example/problems/xml-forbidden"
    assert await received(redis, settings.keys.received_lane("alpha")) == []


async def test_schema_violations_are_refused_for_a_strict_partner_and_warned_for_others(
    settings: Settings, redis: RedisClient
) -> None:
    # IPTC's schemas are read from ../shared (never copied into the repository).
    schema_dir = shared_data("iptc/ninjs/specification")
    async with ingest_client(settings.model_copy(update={"ninjs_schema_dir": schema_dir})) as client:
        strict = await _post(client, ninjs("urn:schema", unknown_field=1), key=KEY_STRICT)
        lint = await _post(client, ninjs("urn:schema", unknown_field=1))
    assert _is_problem(strict, 422)["pointer"] == "/unknown_field"
    assert lint.status_code == 202, lint.text
    warning = lint.json()["warnings"][0]
    assert warning["field"] == "/unknown_field"
    assert "IPTC schema" in warning["action"]
    assert "unknown_field" in warning["action"]
    [event] = await received(redis, settings.keys.received_lane("alpha"))
    assert event.story.partner == "alpha"
    assert [w.field for w in event.warnings] == ["/unknown_field"]


async def test_naive_times_are_read_in_the_partners_timezone_and_the_warning_is_on_the_timeline(
    settings: Settings, redis: RedisClient
) -> None:
    async with ingest_client(ingest_settings(settings)) as client:
        sent = await _post(client, ninjs("urn:nz", versioncreated="2016-01-12 12:35:40"), key=KEY_STRICT)
        assert sent.status_code == 202, sent.text
        status = await client.get(f"/v1/stories/{sent.json()['id']}", headers=bearer(KEY_STRICT))
    [event] = await received(redis, settings.keys.received_lane("charlie"))
    assert event.story.versioncreated == datetime(2016, 1, 11, 23, 35, 40, tzinfo=UTC)
    assert sent.json()["warnings"][0]["action"] == "no UTC offset; read as Pacific/Auckland time"
    body = status.json()
    assert body["warnings"][0]["field"] == "/versioncreated"
    assert body["timeline"][0]["warnings"][0]["value"] == "2016-01-12 12:35:40"


async def test_batches_get_one_result_per_item(settings: Settings, redis: RedisClient) -> None:
    lines = "\n".join(
        json.dumps(item)
        for item in [ninjs("urn:b:1"), ninjs("urn:b:2", embargoed="Last Tuesday"), ninjs("urn:b:1")]
    )
    message = (
        '<newsMessage xmlns="http://iptc.org/std/nar/2006-10-01/"><itemSet>'
        '<conceptItem guid="c"/>'
        '<packageItem guid="urn:p:1" version="1"><groupSet root="G1"><group id="G1">'
        '<itemRef residref="urn:m:1"><itemClass qcode="ninat:text"/><title>One</title></itemRef>'
        "</group></groupSet></packageItem>"
        '<newsItem guid="urn:m:1" version="1"><contentMeta><headline>One</headline></contentMeta></newsItem>'
        '<newsItem guid="urn:m:2" version="1"><itemMeta><pubStatus qcode="stat:canceled"/></itemMeta>'
        "</newsItem></itemSet></newsMessage>"
    )
    async with ingest_client(ingest_settings(settings)) as client:
        ndjson = await client.post(
            "/v1/stories",
            content=lines.encode(),
            headers={**bearer(KEY_A1), "Content-Type": "application/x-ndjson"},
        )
        newsml = await client.post(
            "/v1/stories",
            content=message.encode(),
            headers={**bearer(KEY_A1), "Content-Type": "application/vnd.iptc.g2.newsmessage+xml"},
        )
    assert ndjson.status_code == 200
    items = ndjson.json()["items"]
    assert [(i["index"], i["status"], i["code"]) for i in items] == [
        (0, "accepted", 202),
        (1, "invalid", 422),
        (2, "duplicate", 200),
    ]
    assert items[1]["problem"]["pointer"] == "/embargoed"
    assert ndjson.json()["counts"] == {"accepted": 1, "invalid": 1, "duplicate": 1}
    results = newsml.json()["items"]
    assert [(r["status"], r.get("received_as")) for r in results] == [
        ("skipped", None),
        ("accepted", "new"),
        ("accepted", "new"),
        ("accepted", "kill"),
    ]
    stories = [e.story for e in await received(redis, settings.keys.received_lane("alpha"))]
    assert [s.uri for s in stories] == ["urn:b:1", "urn:p:1", "urn:m:1"]
    assert stories[1].type == "composite"
    assert [(a.uri, a.type, a.headline) for a in stories[1].associations] == [("urn:m:1", "text", "One")]


@pytest.mark.parametrize("processes", [2, 0], ids=["parse-processes", "parse-thread"])
async def test_large_bodies_are_read_alike_wherever_they_are_parsed(
    settings: Settings, redis: RedisClient, processes: int
) -> None:
    long_body = {"bodies": [{"role": "main", "contenttype": "text/html", "value": "<p>Words.</p>" * 100}]}
    items = [ninjs(f"urn:big:{n}", **long_body) for n in range(20)]
    items[3] = ninjs("urn:big:3", embargoed="Last Tuesday", **long_body)
    items[5] = ninjs("urn:big:0", **long_body)  # the same item again: a duplicate
    items[7] = ninjs("urn:big:old", version="2", **long_body)  # an update of a stored item
    items[9] = ninjs("urn:big:9", pubstatus="canceled", **long_body)
    ndjson = "\n".join(json.dumps(item) for item in items).encode()
    assert len(ndjson) > offload.INLINE_BYTES
    headers = {**bearer(KEY_A1), "Content-Type": "application/x-ndjson"}
    async with ingest_client(
        ingest_settings(settings).model_copy(update={"parse_processes": processes})
    ) as client:
        assert (await _post(client, ninjs("urn:big:old"))).status_code == 202
        batch = await client.post("/v1/stories", content=ndjson, headers=headers)
        broken = await client.post("/v1/stories", content=ndjson + b"\n{oops", headers=headers)
        one = ninjs("urn:big:one", urgency="²", **long_body) | {"uri": 7}
        invalid = await client.post(
            "/v1/stories", content=json.dumps(one), headers={**bearer(KEY_A1), **JSON}
        )
    assert batch.status_code == 200, batch.text
    results = batch.json()["items"]
    assert [r["index"] for r in results] == list(range(20))
    assert (results[3]["status"], results[3]["problem"]["pointer"]) == ("invalid", "/embargoed")
    assert results[5]["status"] == "duplicate"
    assert [results[n].get("received_as") for n in (0, 7, 9)] == ["new", "update", "kill"]
    assert batch.json()["counts"] == {"accepted": 18, "invalid": 1, "duplicate": 1}
    lane = {e.story.uri: e for e in await received(redis, settings.keys.received_lane("alpha"))}
    priority = {e.story.uri: e for e in await received(redis, settings.keys.received_priority)}
    assert lane["urn:big:old"].received_as == "update"  # encoded again: it was parsed as new
    assert lane["urn:big:1"].received_as == "new"
    assert priority["urn:big:9"].received_as == "kill"
    assert lane["urn:big:1"].story.body_html is not None
    problem = _is_problem(broken, 400)
    assert problem["pointer"] == "line 21, column 2"
    assert _is_problem(invalid, 422)["pointer"] == "/uri"


async def test_rate_limit_answers_429_with_retry_after(settings: Settings, redis: RedisClient) -> None:
    config = partners_config(rate_per_second=0.5, rate_burst=2)
    async with ingest_client(ingest_settings(settings), config) as client:
        answers = [await _post(client, ninjs(f"urn:r:{n}")) for n in range(3)]
        other_partner = await _post(client, ninjs("urn:r:other"), KEY_B)
    assert [a.status_code for a in answers[:2]] == [202, 202]
    _is_problem(answers[2], 429)
    assert 1 <= int(answers[2].headers["retry-after"]) <= 2
    assert other_partner.status_code == 202
    assert await redis.exists(settings.keys.ingest_bucket("alpha")) == 1
    stored = [e.story.uri for e in await received(redis, settings.keys.received_lane("alpha"))]
    assert stored == ["urn:r:0", "urn:r:1"]  # the limited request left nothing
    assert [e.story.uri for e in await received(redis, settings.keys.received_lane("bravo"))] == [
        "urn:r:other"
    ]


async def test_every_item_of_a_batch_costs_a_token(settings: Settings, redis: RedisClient) -> None:
    config = partners_config(rate_per_second=1, rate_burst=10)
    async with ingest_client(ingest_settings(settings), config) as client:
        big = [ninjs(f"urn:batch:{n}") for n in range(25)]
        first = await client.post("/v1/stories", content=json.dumps(big), headers={**bearer(KEY_A1), **JSON})
        second = await client.post(
            "/v1/stories", content=json.dumps(big[:1]), headers={**bearer(KEY_A1), **JSON}
        )
    assert first.status_code == 200  # a batch larger than the burst passes a full bucket...
    _is_problem(second, 429)  # ...and leaves it 15 tokens in debt: 16 s before the next item
    assert 15 <= int(second.headers["retry-after"]) <= 16


async def test_backlog_past_the_limit_sheds_load_with_503(settings: Settings, redis: RedisClient) -> None:
    """Each of the two partners has half of the backlog; one partner's full share sheds only it."""
    await ensure_groups(redis, Streams.for_keys(settings.keys, ["alpha", "bravo"]).all())
    async with ingest_client(ingest_settings(settings, backlog_limit=4)) as client:
        assert (await _post(client, ninjs("urn:q:1"))).status_code == 202
        assert (await _post(client, ninjs("urn:q:2"))).status_code == 202
    # Another ingest replica samples the backlog at its first POST (this one's sample is
    # up to Backlog.SAMPLE_SECONDS old; the test below covers that refresh on its own clock).
    async with ingest_client(ingest_settings(settings, backlog_limit=4)) as client:
        shed = await _post(client, ninjs("urn:q:3"))
        other = await _post(client, ninjs("urn:q:other"), KEY_B)
    assert other.status_code == 202
    _is_problem(shed, 503)
    assert shed.headers["retry-after"] == str(settings.retry_after_seconds)
    assert len(await received(redis, settings.keys.received_lane("alpha"))) == 2


async def test_the_backlog_sample_is_refreshed_once_it_is_older_than_its_period(
    settings: Settings, redis: RedisClient
) -> None:
    lane = Stream(settings.keys.received_lane("alpha"), "enrich")
    await ensure_groups(redis, [lane])
    now = [100.0]
    shedder = Backlog(redis, settings.keys, limit=2, partners=1, clock=lambda: now[0])
    assert not await shedder.too_long("alpha")  # sampled: empty
    for n in range(2):
        await redis.xadd(lane.name, {"n": n})
    now[0] += Backlog.SAMPLE_SECONDS
    assert not await shedder.too_long("alpha")  # the sample is not older than its period yet
    now[0] += 0.001
    assert await shedder.too_long("alpha")  # sampled again: its share is full


async def test_redis_down_is_503_with_retry_after(settings: Settings) -> None:
    down = ingest_settings(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_cluster_nodes="")
    async with ingest_client(down) as client:
        answer = await _post(client, ninjs("urn:down"))
        status_answer = await client.get("/v1/stories/alpha-x", headers=bearer(KEY_A1))
    _is_problem(answer, 503)
    assert answer.headers["retry-after"] == str(settings.retry_after_seconds)
    _is_problem(status_answer, 503)


async def test_status_shows_each_stage_with_timestamps(settings: Settings, redis: RedisClient) -> None:
    async with ingest_client(ingest_settings(settings)) as client:
        story_id = (await _post(client, ninjs("urn:s:1"))).json()["id"]
        before = time.time()
        await status.record(redis, settings.keys, story_id, Enriched(), service="enrich")
        routing = [
            Route(outlet="site", decision="deliver", reason="matches"),
            Route(outlet="app", decision="deliver", reason="matches"),
            Route(outlet="print", decision="skip", reason="language"),
        ]
        await status.record(redis, settings.keys, story_id, Routed(routing=routing), service="publish")
        delivered = DeliveryAttempted(outlet="site", result="delivered", status_code=200)
        await status.record(redis, settings.keys, story_id, delivered, service="publish")
        answer = await client.get(f"/v1/stories/{story_id}", headers=bearer(KEY_A1))
    assert answer.status_code == 200
    body = answer.json()
    # Every typed entry sets the stage, as the real services' entries always did: the last one wins.
    assert (body["id"], body["uri"], body["version"]) == (story_id, "urn:s:1", 1)
    assert body["stage"] == "delivery delivered"
    assert datetime.fromisoformat(body["received_at"]) <= datetime.fromisoformat(body["enriched_at"])
    assert datetime.fromisoformat(body["enriched_at"]).timestamp() >= before - 1
    states = {name: outlet["state"] for name, outlet in body["outlets"].items()}
    assert states == {"site": "delivered", "app": "queued", "print": "skipped"}
    assert body["outlets"]["site"]["detail"]["status_code"] == 200
    assert [e["event"] for e in body["timeline"]] == ["received", "enriched", "routed", "delivery:site"]


async def test_an_update_rewrites_only_the_events_own_received_as(
    settings: Settings, redis: RedisClient
) -> None:
    tricky = '"received_as":"new" in a headline'
    async with ingest_client(ingest_settings(settings)) as client:
        await _post(client, ninjs("urn:t:1", version="1"))
        update = ninjs("urn:t:1", version="2", headlines=[{"value": tricky}])
        assert (await _post(client, update)).json()["received_as"] == "update"
    events = await received(redis, settings.keys.received_lane("alpha"))
    assert [(e.received_as, e.story.headline) for e in events] == [
        ("new", "Test headline"),
        ("update", tricky),
    ]
    assert events[1].original is not None
    assert tricky.replace('"', '\\"') in events[1].original


async def test_a_callers_trace_id_follows_the_story_when_it_is_a_sane_token(
    settings: Settings, redis: RedisClient
) -> None:
    async with ingest_client(ingest_settings(settings)) as client:
        for uri, trace in [("urn:tr:1", "4bf92f3577b34da6"), ("urn:tr:2", "bad id;" + "x" * 300)]:
            await client.post(
                "/v1/stories",
                content=json.dumps(ninjs(uri)),
                headers={**bearer(KEY_A1), **JSON, "X-Trace-Id": trace},
            )
    first, second = await received(redis, settings.keys.received_lane("alpha"))
    assert first.trace_id == "4bf92f3577b34da6"
    assert len(second.trace_id) == 32
    assert second.trace_id.isalnum()
