"""The foundation end to end: real ingest, enrich and publish processes, a real outlet.

A story POSTed to ingest arrives at the outlet signed per Standard Webhooks; killing
enrich or publish with SIGKILL mid-flow and restarting it loses nothing and, after
deduplicating on `webhook-id`, delivers nothing twice.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from shared.connections import RedisClient
from shared.settings import Settings
from tests.helpers.pipeline import (
    PARTNER_KEY,
    SECRETS,
    Pipeline,
    assert_nothing_pending,
    assert_signed,
    delivered_versions,
    ninjs_item,
    redeliveries,
    wait_until,
    write_config,
)
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.e2e


async def test_a_posted_story_reaches_the_outlet_signed(
    settings: Settings, service_env: dict[str, str], redis: RedisClient, tmp_path: Path
) -> None:
    with Receiver() as outlet:
        write_config(settings.config_path, {"alpha": outlet})
        with Pipeline(service_env, tmp_path) as pipeline:
            async with httpx.AsyncClient(timeout=30) as client:
                response = await client.post(
                    f"{pipeline.ingest.url}/v1/stories",
                    json=ninjs_item(1),
                    headers={"authorization": f"Bearer {PARTNER_KEY}"},
                )
                assert response.status_code == 202, response.text
                answer = response.json()
                assert {"id", "version", "status"} <= answer.keys()
                assert await wait_until(lambda: len(outlet.received) >= 1, 60), "story never arrived"
                delivery = outlet.received[0]
                assert_signed(outlet, SECRETS["alpha"])
                assert delivery.webhook_id
                assert "." not in delivery.webhook_id
                body = delivery.json
                assert {"type", "timestamp", "data"} <= body.keys()
                assert body["data"]["item"]["uri"] == "urn:test:story:1"
                assert str(body["data"]["item"]["version"]) == "1"
                status = await client.get(
                    f"{pipeline.ingest.url}/v1/stories/{answer['id']}",
                    headers={"authorization": f"Bearer {PARTNER_KEY}"},
                )
                assert status.status_code == 200


async def test_sigkill_enrich_then_publish_mid_flow_loses_nothing_and_delivers_once(
    settings: Settings, service_env: dict[str, str], redis: RedisClient, tmp_path: Path
) -> None:
    total = 300
    env = {**service_env, "NEWSROOM_TAGGING": "false"}
    with Receiver() as outlet:
        write_config(settings.config_path, {"alpha": outlet})
        with Pipeline(env, tmp_path) as pipeline:
            enrich, publish = pipeline.enrichers[0], pipeline.publishers[0]

            async def down_while_posting(stories: int) -> None:
                # The outage lasts while the partner gets this many more stories accepted
                # (about half a second at the posting rate), however loaded the machine is.
                start = len(pipeline.sent.acked)
                await wait_until(lambda: len(pipeline.sent.acked) >= start + stories, 60, 0.01)

            async def crash_and_restart() -> None:
                await wait_until(lambda: len(pipeline.sent.acked) >= total // 3, 60, 0.01)
                enrich.kill()
                await down_while_posting(75)
                pipeline.restart(enrich, wait=False)
                await wait_until(lambda: len(pipeline.sent.acked) >= 2 * total // 3, 60, 0.01)
                publish.kill()
                await down_while_posting(75)
                pipeline.restart(publish, wait=False)

            chaos = asyncio.create_task(crash_and_restart())
            await pipeline.post_all((ninjs_item(n) for n in range(total)), rate=150)
            await chaos
            enrich.wait_ready()
            publish.wait_ready()
            expected = set(pipeline.sent.acked)
            assert len(expected) == total

            def all_arrived() -> bool:
                got = delivered_versions(outlet)
                return all(version in got.get(uri, []) for uri, version in expected)

            assert await wait_until(all_arrived, 90), "acknowledged stories missing at the outlet"
            got = delivered_versions(outlet)
            assert all(len(versions) == 1 for versions in got.values()), "a version delivered twice"
            assert_signed(outlet, SECRETS["alpha"])

            await assert_nothing_pending(redis, settings)
            print(f"\n{total} stories, raw redeliveries at the outlet: {redeliveries(outlet)}")


def _metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one Prometheus sample, or None when it is not exposed."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        base, _, rest = series.partition("{")
        if base == name and all(part in rest for part in wanted.split(",") if part):
            return float(value)
    return None


async def test_operators_metrics_health_and_readiness(
    settings: Settings, service_env: dict[str, str], redis: RedisClient, tmp_path: Path
) -> None:
    env = {**service_env, "NEWSROOM_TAGGING": "false"}
    with Receiver() as outlet:
        write_config(settings.config_path, {"alpha": outlet})
        with Pipeline(env, tmp_path) as pipeline:
            await pipeline.post_all([ninjs_item(n) for n in range(5)])
            assert await wait_until(lambda: len(delivered_versions(outlet)) == 5, 60)
            enrich, publish = pipeline.enrichers[0], pipeline.publishers[0]
            async with httpx.AsyncClient(timeout=10) as client:

                async def scrape(url: str) -> str:
                    return (await client.get(f"{url}/metrics/")).text

                ingest_text = await scrape(pipeline.ingest.url)
                assert _metric(ingest_text, "newsroom_stories_received_total", partner="wire") == 5
                enrich_text = await scrape(enrich.url)
                assert (_metric(enrich_text, "newsroom_enrich_seconds_count") or 0) >= 5

                async def housekept() -> bool:
                    text = await scrape(enrich.url)
                    return _metric(text, "newsroom_stream_pending", group="enrich") is not None

                assert await wait_until(housekept, 15), "lag/pending gauges never published"
                enrich_text = await scrape(enrich.url)
                for name in ("newsroom_stream_lag", "newsroom_stream_oldest_pending_seconds"):
                    assert _metric(enrich_text, name, group="enrich") is not None, name
                assert _metric(enrich_text, "newsroom_dead_letter_entries") == 0
                publish_text = await scrape(publish.url)
                assert (
                    _metric(publish_text, "newsroom_deliveries_total", outlet="alpha", status_code="200") == 5
                )
                assert (_metric(publish_text, "newsroom_end_to_end_seconds_count") or 0) >= 5

                for proc in pipeline.processes():
                    assert (await client.get(f"{proc.url}/healthz")).status_code == 200
                    assert (await client.get(f"{proc.url}/readyz")).status_code == 200
                # ready means the consumer groups exist too, not only that Redis answers
                enriched = settings.keys.enriched
                await redis.xgroup_destroy(enriched, "publish")
                answer = await client.get(f"{pipeline.ingest.url}/readyz")
                assert answer.status_code == 503
                assert "group" in answer.text
