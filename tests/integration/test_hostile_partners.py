"""Partners sending what parsers and Redis scripts choke on, against the real ingest app and Redis.

Each payload below once answered 500 or corrupted the version registry; each must be
a 4xx problem naming the field (or the safe outcome), with nothing left on a stream.
"""

from __future__ import annotations

import json

import httpx
import pytest

from shared.connections import RedisClient
from shared.settings import Settings
from shared.story import MAX_VERSION
from tests.integration.ingest_support import KEY_A1, bearer, ingest_client, ninjs, received

pytestmark = pytest.mark.integration

G2 = "http://iptc.org/std/nar/2006-10-01/"


def _g2(inner: str = "", version: str = "1") -> bytes:
    return f'<newsItem xmlns="{G2}" guid="urn:g2:1" version="{version}">{inner}</newsItem>'.encode()


def _ninjs_text(uri: str, extra: str) -> bytes:
    return f'{{"uri": "{uri}", "version": "1", "headline": "H", {extra}}}'.encode()


DEEP = "<contentSet><inlineXML>" + "<div>" * 5000 + "x" + "</div>" * 5000 + "</inlineXML></contentSet>"

HOSTILE = {
    "xml nested 5,000 deep": ("application/xml", _g2(DEEP), 400, "/newsItem"),
    "xml version in Unicode digits": ("application/xml", _g2(version="²"), 422, "/newsItem/@version"),
    "json integer of 5,000 digits": (
        "application/json",
        _ninjs_text("urn:j:1", '"x": ' + "9" * 5000),
        422,
        "/x",
    ),
    "json version in Unicode digits": (
        "application/json",
        json.dumps(ninjs("urn:j:2", version="²")).encode(),
        422,
        "/version",
    ),
    "lone surrogate": (
        "application/json",
        b'{"uri": "urn:j:3", "version": "1", "headline": "\\ud800"}',
        422,
        "/headline",
    ),
    "urgency 1e400": ("application/json", _ninjs_text("urn:j:4", '"urgency": 1e400'), 422, "/urgency"),
    "urgency NaN": ("application/json", _ninjs_text("urn:j:5", '"urgency": NaN'), 422, "/urgency"),
    "urgency -Infinity": (
        "application/x-ndjson",
        _ninjs_text("urn:j:6", '"urgency": -Infinity'),
        200,
        "/urgency",
    ),
    "embargo beyond UTC's year 9999": (
        "application/json",
        _ninjs_text("urn:j:7", '"embargoed": "9999-12-31T23:00:00-05:00"'),
        422,
        "/embargoed",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_payloads_are_problems_naming_the_field(
    settings: Settings, redis: RedisClient, case: str
) -> None:
    kind, body, status, where = HOSTILE[case]
    async with ingest_client(settings.model_copy(update={"ninjs_schema_dir": None})) as client:
        response = await client.post(
            "/v1/stories", content=body, headers={**bearer(KEY_A1), "content-type": kind}
        )
    assert response.status_code == status, response.text
    problem = response.json()
    if status == 200:  # a batch: the item carries the problem
        (problem,) = [item["problem"] for item in problem["items"]]
    else:
        assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["pointer"] == where
    assert problem["status"] in (400, 422)
    assert await received(redis, settings.keys.received_lane("alpha")) == []


async def test_an_urgency_in_unicode_digits_is_dropped_with_a_warning(
    settings: Settings, redis: RedisClient
) -> None:
    # Urgency is optional: the story is kept without it (issue 15's acceptance policy).
    body = _g2("<contentMeta><headline>H</headline><urgency>²</urgency></contentMeta>")
    async with ingest_client(settings.model_copy(update={"ninjs_schema_dir": None})) as client:
        response = await client.post(
            "/v1/stories", content=body, headers={**bearer(KEY_A1), "content-type": "application/xml"}
        )
    assert response.status_code == 202, response.text
    assert response.json()["warnings"][0]["field"] == "/newsItem/contentMeta/urgency"
    [event] = await received(redis, settings.keys.received_lane("alpha"))
    assert event.story.urgency is None


async def _post(client: httpx.AsyncClient, version: int) -> httpx.Response:
    item = json.dumps(ninjs("urn:big:1", version=version))
    return await client.post(
        "/v1/stories", content=item, headers={**bearer(KEY_A1), "content-type": "application/json"}
    )


async def test_versions_up_to_2_53_are_exact_and_larger_ones_refused(
    settings: Settings, redis: RedisClient
) -> None:
    async with ingest_client(settings) as client:
        largest = await _post(client, MAX_VERSION)
        older = await _post(client, MAX_VERSION - 1)
        again = await _post(client, MAX_VERSION)
        above = await _post(client, 10**30)
    assert largest.status_code == 202, largest.text
    assert older.json()["status"] == "superseded"
    assert older.json()["current_version"] == MAX_VERSION
    assert again.json()["status"] == "duplicate"
    assert above.status_code == 422
    assert above.json()["pointer"] == "/version"
    assert [event.story.version for event in await received(redis, settings.keys.received_lane("alpha"))] == [
        MAX_VERSION
    ]
