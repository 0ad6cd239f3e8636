"""`GET /v1/stories/{id}/related` on the real ingest app: auth, namespaces, ranking, errors."""

from __future__ import annotations

import pytest

from services.enrich.related.linker import configured_linker
from shared.config import NewsroomConfig, Partner, sha256_hex
from shared.connections import RedisClient
from shared.settings import Settings
from shared.story import Story
from tests.integration.ingest_support import (
    EDITOR_TOKEN,
    KEY_A1,
    KEY_B,
    bearer,
    ingest_client,
    ingest_settings,
    partners_config,
)
from tests.integration.test_related import CEASEFIRE, ERUPTS, NOW, PUTIN, UNRELATED

pytestmark = pytest.mark.integration


def as_partner(s: Story, partner: str) -> Story:
    return s.model_copy(update={"partner": partner})


async def index(redis: RedisClient, settings: Settings, stories: list[Story]) -> None:
    linker = configured_linker(redis, settings)
    for s in stories:
        await linker.link_and_index(s, [], received_at=NOW, now=NOW)


async def test_editor_sees_related_across_partners(redis: RedisClient, settings: Settings) -> None:
    ceasefire, erupts, putin = as_partner(CEASEFIRE, "alpha"), as_partner(ERUPTS, "alpha"), PUTIN
    await index(redis, settings, [erupts, putin, ceasefire, *UNRELATED])
    async with ingest_client(ingest_settings(settings)) as client:
        answer = await client.get(f"/v1/stories/{erupts.id}/related", headers=bearer(EDITOR_TOKEN))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["id"] == erupts.id
        ids = [link["story_id"] for link in body["related"]]
        assert set(ids) == {ceasefire.id, putin.id}  # later and earlier stories
        assert all(link["reason"] and link["score"] > 0 for link in body["related"])
        assert body["duplicates"] == []

        one = await client.get(f"/v1/stories/{erupts.id}/related?k=1", headers=bearer(EDITOR_TOKEN))
        assert len(one.json()["related"]) == 1


async def test_partner_sees_only_its_own_stories(redis: RedisClient, settings: Settings) -> None:
    ceasefire, erupts, putin = (
        as_partner(CEASEFIRE, "alpha"),
        as_partner(ERUPTS, "alpha"),
        as_partner(PUTIN, "bravo"),
    )
    await index(redis, settings, [erupts, putin, ceasefire])
    async with ingest_client(ingest_settings(settings)) as client:
        mine = await client.get(f"/v1/stories/{ceasefire.id}/related", headers=bearer(KEY_A1))
        assert mine.status_code == 200, mine.text
        assert [link["story_id"] for link in mine.json()["related"]] == [erupts.id]
        theirs = await client.get(f"/v1/stories/{ceasefire.id}/related", headers=bearer(KEY_B))
        assert theirs.status_code == 404


async def test_related_visibility_comes_from_the_recorded_owner_not_the_id(
    redis: RedisClient, settings: Settings
) -> None:
    """Partner `alpha` never sees `alpha-x`'s stories, although their ids start with `alpha-`."""
    ceasefire, erupts = as_partner(CEASEFIRE, "alpha"), as_partner(ERUPTS, "alpha-x")
    await index(redis, settings, [erupts, ceasefire])
    base = partners_config()
    alpha_x = Partner(id="alpha-x", keys_sha256=[sha256_hex(KEY_B)])
    config = NewsroomConfig.model_construct(
        partners=[base.partners[0], alpha_x], editors=base.editors, outlets=[], exempt_genres=[]
    )
    async with ingest_client(ingest_settings(settings), config) as client:
        mine = await client.get(f"/v1/stories/{ceasefire.id}/related", headers=bearer(KEY_A1))
        theirs = await client.get(f"/v1/stories/{erupts.id}/related", headers=bearer(KEY_A1))
        editor = await client.get(f"/v1/stories/{ceasefire.id}/related", headers=bearer(EDITOR_TOKEN))
    assert erupts.id.startswith("alpha-")
    assert mine.status_code == 200, mine.text
    assert mine.json()["related"] == []
    assert erupts.headline not in mine.text
    assert theirs.status_code == 404
    assert [link["story_id"] for link in editor.json()["related"]] == [erupts.id]


async def test_unauthenticated_unknown_and_bad_k(redis: RedisClient, settings: Settings) -> None:
    async with ingest_client(ingest_settings(settings)) as client:
        anonymous = await client.get("/v1/stories/alpha-x/related")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"].startswith("application/problem+json")
        unknown = await client.get("/v1/stories/alpha-x/related", headers=bearer(EDITOR_TOKEN))
        assert unknown.status_code == 404
        bad = await client.get("/v1/stories/alpha-x/related?k=0", headers=bearer(EDITOR_TOKEN))
        assert bad.status_code == 422
