"""Publish as a real process behind real ingest and enrich: a SIGKILL mid-delivery neither
loses nor re-sends a delivered story, and editors see every state change live (SSE)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from services.publish.deliveries import FINISHED, STATUSES
from shared.config import sha256_hex
from shared.connections import RedisClient
from shared.settings import Settings
from shared.story import make_story_id
from tests.helpers.pipeline import (
    PARTNER_ID,
    PARTNER_KEY,
    SECRETS,
    Pipeline,
    ninjs_item,
    pending_counts,
    wait_until,
)
from tests.helpers.receiver import Answer, Receiver

pytestmark = pytest.mark.e2e
EDITOR_TOKEN = "e2e-editor-token"


def write_config(path: Path, receiver: Receiver) -> None:
    path.write_text(
        "\n".join(
            [
                "[[partners]]",
                f'id = "{PARTNER_ID}"',
                f'keys_sha256 = ["{sha256_hex(PARTNER_KEY)}"]',
                "",
                "[[outlets]]",
                'name = "alpha"',
                f'url = "{receiver.url}"',
                f'secret = "{SECRETS["alpha"]}"',
                "timeout_seconds = 3.0",
                "",
                "[[editors]]",
                'id = "desk"',
                f'token_sha256 = "{sha256_hex(EDITOR_TOKEN)}"',
            ]
        )
    )


def fast_env(service_env: dict[str, str]) -> dict[str, str]:
    return {
        **service_env,
        "NEWSROOM_TAGGING": "false",
        "NEWSROOM_DELIVERY_LEASE_SECONDS": "1",
        "NEWSROOM_PUBLISH_POLL_MS": "50",
        "NEWSROOM_RETRY_SCHEDULE_SECONDS": "[0.2, 0.5, 1.0]",
    }


async def _post(client: httpx.AsyncClient, pipeline: Pipeline, item: dict[str, Any]) -> str:
    response = await client.post(
        f"{pipeline.ingest.url}/v1/stories", json=item, headers={"authorization": f"Bearer {PARTNER_KEY}"}
    )
    assert response.status_code == 202, response.text
    story_id: str = response.json()["id"]
    return story_id


async def test_sigkill_mid_delivery_neither_loses_nor_resends_a_delivered_story(
    settings: Settings, service_env: dict[str, str], redis: RedisClient, tmp_path: Path
) -> None:
    hung_id = make_story_id(PARTNER_ID, "urn:test:story:6")

    def answer(receiver: Receiver, request: Request) -> Answer:
        first_try = not any(hung_id in a.webhook_id for a in receiver.attempts)
        if hung_id in request.headers.get("webhook-id", "") and first_try:
            return Answer(200, delay=8.0)  # hangs past the timeout; publish dies before it answers
        return Answer(200)

    with Receiver(answer) as outlet:
        write_config(settings.config_path, outlet)
        with Pipeline(fast_env(service_env), tmp_path) as pipeline:
            publish = pipeline.publishers[0]
            async with httpx.AsyncClient(timeout=30) as client:
                for n in range(1, 6):
                    await _post(client, pipeline, ninjs_item(n))
                assert await wait_until(lambda: len(outlet.received) == 5, 60)
                assert await _post(client, pipeline, ninjs_item(6)) == hung_id
                assert await wait_until(lambda: len(outlet.attempts) == 6, 30)
                publish.kill()  # mid-delivery: story 6 is "sending" and its outlet has not answered
                row_key = settings.keys.outlet("alpha", f"d:msg_{hung_id}_v1_published_alpha")
                assert (await redis.hget(row_key, "status")) == b"sending"
                pipeline.restart(publish)
                assert await wait_until(lambda: len(outlet.attempts) >= 7, 30), publish.log_tail()

                async def settled() -> bool:
                    # Nothing left that could be sent: every stream entry acknowledged and every
                    # delivery finished. Anything wrongly re-sent has been sent by then.
                    if sum((await pending_counts(redis, settings)).values()):
                        return False
                    unfinished = [s for s in STATUSES if s not in FINISHED]
                    return all(
                        [await redis.zcard(settings.keys.outlet("alpha", f"st:{s}")) == 0 for s in unfinished]
                    )

                assert await wait_until(settled, 30), await pending_counts(redis, settings)
        delivered = [r for r in outlet.received if hung_id not in r.webhook_id]
        assert sorted(r.json["data"]["uri"] for r in delivered) == [
            f"urn:test:story:{n}" for n in range(1, 6)
        ]
        assert len({r.webhook_id for r in outlet.attempts}) == 6  # story 6 kept its webhook-id
        sixth = [a for a in outlet.attempts if hung_id in a.webhook_id]
        assert len(sixth) == 2
        assert sixth[0].webhook_id == sixth[1].webhook_id
        statuses = await redis.zrange(settings.keys.outlet("alpha", "st:delivered"), 0, -1)
        assert len(statuses) == 6
        assert await redis.zcard(settings.keys.outlet("alpha", "st:sending")) == 0
        assert (await redis.hget(row_key, "attempts")) == b"2"


async def test_editors_see_each_state_change_live_and_act_over_http(
    settings: Settings, service_env: dict[str, str], redis: RedisClient, tmp_path: Path
) -> None:
    failing = {"on": True}
    with Receiver(lambda _r, _q: Answer(503 if failing["on"] else 200)) as outlet:
        write_config(settings.config_path, outlet)
        env = {**fast_env(service_env), "NEWSROOM_RETRY_SCHEDULE_SECONDS": "[0.3]"}
        with Pipeline(env, tmp_path) as pipeline:
            base = pipeline.publishers[0].url
            events: list[dict[str, Any]] = []
            connected = asyncio.Event()
            async with httpx.AsyncClient(timeout=30) as client:
                refused = await client.get(f"{base}/v1/deliveries")
                assert refused.status_code == 401
                assert refused.headers["content-type"] == "application/problem+json"

                async def listen() -> None:
                    last_id = ""
                    while True:  # the server ends each stream after a while; resume like EventSource
                        headers = {"last-event-id": last_id} if last_id else {}
                        url = f"{base}/v1/events?token={EDITOR_TOKEN}"
                        async with client.stream("GET", url, headers=headers) as stream:
                            assert stream.headers["content-type"].startswith("text/event-stream")
                            kind = ""
                            async for line in stream.aiter_lines():
                                if line == ": connected":  # sent once the stream's cursor is set
                                    connected.set()
                                elif line.startswith("id: "):
                                    last_id = line[4:]
                                elif line.startswith("event: "):
                                    kind = line[7:]
                                elif line.startswith("data: ") and kind == "delivery":
                                    events.append(json.loads(line[6:]))

                listener = asyncio.create_task(listen())
                assert await wait_until(connected.is_set, 10), "the event stream never connected"
                posted = time.monotonic()
                story_id = await _post(client, pipeline, ninjs_item(1))
                assert await wait_until(lambda: any(e["status"] == "failed" for e in events), 30)
                first_seen = min(events, key=lambda e: str(e["updated_at"]))
                assert first_seen["story_id"] == story_id
                assert first_seen["status"] == "queued"
                assert time.monotonic() - posted < 5
                # A peer's poll can claim a delivery between its creation and the "queued"
                # announcement, so watchers order by updated_at, as the page does.
                ordered = sorted(events, key=lambda e: str(e["updated_at"]))
                statuses = [e["status"] for e in ordered]
                assert statuses == ["queued", "sending", "retrying", "sending", "failed"]
                assert ordered[-1]["status_code"] == 503

                failing["on"] = False
                auth = {"authorization": f"Bearer {EDITOR_TOKEN}"}
                retried = await client.post(f"{base}/v1/deliveries/{first_seen['id']}/retry", headers=auth)
                assert retried.status_code == 200
                assert await wait_until(lambda: events[-1]["status"] == "delivered", 30)
                listed = (await client.get(f"{base}/v1/deliveries", headers=auth)).json()
                assert listed["counts"]["by_outlet"]["alpha"]["delivered"] == 1
                view = (await client.get(f"{base}/v1/stories/{story_id}", headers=auth)).json()
                services = {t["service"] for t in view["timeline"]}
                assert {"ingest", "enrich", "publish"} <= services
                listener.cancel()
                await asyncio.gather(listener, return_exceptions=True)
