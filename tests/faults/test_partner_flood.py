"""One partner floods ingest as fast as it can (batches and single items) while another
sends one story a second: the second partner's stories overtake the flood's backlog
instead of queueing behind it. Real processes, real Redis, tagging on (NER is the slow
stage a flood piles up in front of).

What is asserted is the order, not a time (timed assertions belong in bench/): each
steady story reaches the outlet while hundreds of flood items accepted before it are
still waiting. The latencies and /healthz times are printed (`pytest -s`), with
publish's /healthz in the same run as the baseline of a process the flood does not touch.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest

from shared.config import sha256_hex
from shared.settings import Settings
from tests.helpers.pipeline import SECRETS, Pipeline, ninjs_item, percentile, wait_until
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.faults

FLOOD_KEY, STEADY_KEY = "flood-partner-key", "steady-partner-key"
FLOOD_SECONDS = 20.0


def _config(path: Path, outlet: Receiver) -> None:
    path.write_text(
        f"""
[[partners]]
id = "flood"
keys_sha256 = ["{sha256_hex(FLOOD_KEY)}"]
rate_per_second = 100000
rate_burst = 100000

[[partners]]
id = "steady"
keys_sha256 = ["{sha256_hex(STEADY_KEY)}"]

[[outlets]]
name = "alpha"
url = "{outlet.url}"
secret = "{SECRETS["alpha"]}"
"""
    )


async def _flood(client: httpx.AsyncClient, url: str, until: float, lane: int) -> dict[str, float]:
    """Batches of 200 and single items, back to back; returns uri -> when ingest acknowledged it."""
    acked: dict[str, float] = {}
    n = 0
    headers = {"authorization": f"Bearer {FLOOD_KEY}"}
    ndjson = {**headers, "content-type": "application/x-ndjson"}
    while time.monotonic() < until:
        n += 1
        items = [ninjs_item(lane * 1_000_000 + n * 1000 + k) for k in range(200 if n % 2 else 1)]
        if n % 2:
            body = "\n".join(json.dumps(item) for item in items)
            answer = await client.post(url, content=body, headers=ndjson)
        else:
            answer = await client.post(url, json=items[0], headers=headers)
        if answer.status_code < 300:
            acked.update((item["uri"], time.time()) for item in items)
        else:
            await asyncio.sleep(0.05)
    return acked


async def _steady(client: httpx.AsyncClient, url: str, count: int) -> dict[str, float]:
    """One story a second; returns uri -> the time ingest acknowledged it."""
    acked: dict[str, float] = {}
    started = time.monotonic()
    for n in range(count):
        await asyncio.sleep(max(0.0, started + n - time.monotonic()))
        item = ninjs_item(9_000_000 + n) | {"uri": f"urn:steady:{n}"}
        answer = await client.post(url, json=item, headers={"authorization": f"Bearer {STEADY_KEY}"})
        assert answer.status_code == 202, answer.text
        acked[item["uri"]] = time.time()
    return acked


async def _healthz(client: httpx.AsyncClient, url: str, until: float) -> list[float]:
    took = []
    while time.monotonic() < until:
        started = time.perf_counter()
        answer = await client.get(url)
        took.append(time.perf_counter() - started)
        assert answer.status_code == 200
        await asyncio.sleep(0.1)
    return took


async def test_a_flooding_partner_does_not_delay_another(
    settings: Settings, service_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**service_env, "NEWSROOM_TAGGING": "true", "NEWSROOM_RECLAIM_IDLE_MS": "30000"}
    with Receiver() as outlet:
        _config(settings.config_path, outlet)
        with Pipeline(env, tmp_path) as pipeline:
            stories = f"{pipeline.ingest.url}/v1/stories"
            until = time.monotonic() + FLOOD_SECONDS
            limits = httpx.Limits(max_connections=10)
            async with (
                httpx.AsyncClient(timeout=60, limits=limits) as flood,
                httpx.AsyncClient(timeout=10) as steady,
                httpx.AsyncClient(timeout=10) as probe,
            ):
                floods, acked, health, baseline = await asyncio.gather(
                    asyncio.gather(*(_flood(flood, stories, until, lane) for lane in range(1, 3))),
                    _steady(steady, stories, int(FLOOD_SECONDS)),
                    _healthz(probe, f"{pipeline.ingest.url}/healthz", until),
                    _healthz(probe, f"{pipeline.publishers[0].url}/healthz", until),
                )

            def arrived() -> dict[str, float]:
                found: dict[str, float] = {}
                for item in list(outlet.received):
                    found.setdefault(item.json["data"]["item"]["uri"], item.at)
                return found

            assert await wait_until(lambda: set(acked) <= set(arrived()), 60), "steady stories lost"
            delivered = arrived()
    flooded = {uri: at for lane in floods for uri, at in lane.items()}
    latencies = [delivered[uri] - at for uri, at in acked.items()]
    # Flood items acknowledged before a steady story and still not delivered when it was.
    overtaken: list[float] = [
        sum(
            1
            for uri, at in flooded.items()
            if at < acked_at and delivered.get(uri, float("inf")) > delivered[steady]
        )
        for steady, acked_at in acked.items()
    ]
    report = (
        f"flood accepted {len(flooded)} items, {len(flooded) - sum(u in delivered for u in flooded)} not yet "
        f"delivered at the end; steady stories overtook a median of {percentile(overtaken, 50):.0f} earlier "
        f"flood items; steady latency p50 {percentile(latencies, 50):.2f} s, "
        f"p99 {percentile(latencies, 99):.2f} s, "
        f"max {max(latencies):.2f} s; ingest /healthz p50 {percentile(health, 50) * 1000:.0f} ms, "
        f"p99 {percentile(health, 99) * 1000:.0f} ms ({len(health)} probes); publish /healthz (baseline, "
        f"untouched by the flood) p50 {percentile(baseline, 50) * 1000:.0f} ms, "
        f"p99 {percentile(baseline, 99) * 1000:.0f} ms"
    )
    print(report)
    # A queue in arrival order lets a story overtake at most the batch it was read with (50).
    assert percentile(overtaken, 20) > 100, report
