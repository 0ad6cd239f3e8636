"""Publish: latency from ingest's 202 to each outlet, and deliveries per second with many outlets.

    .venv/bin/python -m bench publish
    BENCH_PUBLISH_STORIES=200 .venv/bin/python -m bench publish      # shorter

Real processes (ingest, enrich with tagging off so the figures are publish's, one
publish), real HTTP outlets (uvicorn servers in this process) verifying nothing but
recording arrival times, one Redis (REDIS_URL).

1. latency at a fixed 20 stories/s with three outlets (ninjs, HTML, text formats):
   p50/p95/p99 of (outlet received − ingest answered 202), per outlet and overall;
   target p99 < 250 ms;
2. deliveries per second with ten outlets: stories posted as fast as ingest takes
   them; deliveries / (last arrival − first post) — bounded by the slowest stage;
3. publish alone draining a backlog: the same stories written to the enriched stream
   first, then one publish process started; deliveries / (last arrival − ready).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench._stack import BENCH_ENV, LOGS, cleanup
from shared.config import sha256_hex
from shared.connections import make_redis
from shared.events import StoryEnriched
from shared.settings import Settings
from shared.story import Story
from shared.streams import encode_event
from tests.helpers.pipeline import PARTNER_ID, PARTNER_KEY, SECRETS, Pipeline, ninjs_item, percentile
from tests.helpers.processes import ServiceProcess
from tests.helpers.receiver import Receiver

RATE = 20.0
SECRET = SECRETS["alpha"]


def write_config(path: Path, outlets: list[tuple[str, Receiver, str]]) -> None:
    lines = ["[[partners]]", f'id = "{PARTNER_ID}"', f'keys_sha256 = ["{sha256_hex(PARTNER_KEY)}"]', ""]
    for name, receiver, fmt in outlets:
        lines += ["[[outlets]]", f'name = "{name}"', f'url = "{receiver.url}"', f'secret = "{SECRET}"']
        lines += [f'format = "{fmt}"', ""]
    path.write_text("\n".join(lines))


def arrivals(receiver: Receiver) -> dict[str, float]:
    """story id -> first arrival (webhook ids are msg_<story id>_v…)."""
    first: dict[str, float] = {}
    for item in list(receiver.received):
        story_id = item.webhook_id.removeprefix("msg_").split("_v")[0]
        first.setdefault(story_id, item.at)
    return first


async def post_all(pipeline: Pipeline, items: list[dict[str, Any]], rate: float | None) -> dict[str, float]:
    """POST each item (paced at `rate`/s, or 16 at a time); story id -> when ingest answered 202."""
    acked: dict[str, float] = {}
    started = time.time()
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    async with httpx.AsyncClient(timeout=30) as client:

        async def sender() -> None:
            while (item := await queue.get()) is not None:
                response = await client.post(
                    f"{pipeline.ingest.url}/v1/stories",
                    json=item,
                    headers={"authorization": f"Bearer {PARTNER_KEY}"},
                )
                if response.status_code != 202:
                    raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:200]}")
                acked[response.json()["id"]] = time.time()

        senders = [asyncio.create_task(sender()) for _ in range(4 if rate else 16)]
        for n, item in enumerate(items):
            if rate:
                delay = started + n / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            while queue.qsize() > 32:
                await asyncio.sleep(0.002)
            await queue.put(item)
        for _ in senders:
            await queue.put(None)
        await asyncio.gather(*senders)
    return acked


async def wait_for(receivers: list[Receiver], total: int, timeout: float = 300.0) -> None:
    deadline = time.time() + timeout
    while sum(len(arrivals(r)) for r in receivers) < total:
        if time.time() > deadline:
            got = sum(len(arrivals(r)) for r in receivers)
            raise RuntimeError(f"only {got} of {total} deliveries arrived")
        await asyncio.sleep(0.05)


def env(config: Path) -> dict[str, str]:
    return {
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "REDIS_CLUSTER_NODES": "",
        "NEWSROOM_KEY_PREFIX": f"bench{uuid.uuid4().hex[:8]}",
        "NEWSROOM_CONFIG": str(config),
        "NEWSROOM_TAGGING": "false",
        **BENCH_ENV,
    }


def items(count: int, run: str) -> list[dict[str, Any]]:
    out = []
    for n in range(count):
        item = ninjs_item(n)
        item["uri"] = f"urn:bench:{run}:{n}"
        out.append(item)
    return out


async def latency(count: int, workdir: Path) -> list[tuple[str, list[float]]]:
    formats = [("web", "ninjs"), ("site", "html"), ("print", "text")]
    receivers = [Receiver() for _ in formats]
    for receiver in receivers:
        receiver.__enter__()
    try:
        config = workdir / "publish-latency.toml"
        write_config(config, [(name, r, fmt) for (name, fmt), r in zip(formats, receivers, strict=True)])
        service_env = env(config)
        with Pipeline(service_env, LOGS) as pipeline:
            await post_all(pipeline, items(20, "warmup"), RATE)
            await wait_for(receivers, 60)
            for receiver in receivers:
                receiver.received.clear()
            acked = await post_all(pipeline, items(count, "latency"), RATE)
            await wait_for(receivers, count * len(receivers))
        await cleanup(service_env, service_env["NEWSROOM_KEY_PREFIX"])
    finally:
        for receiver in receivers:
            receiver.__exit__()
    rows = []
    for (name, fmt), receiver in zip(formats, receivers, strict=True):
        got = arrivals(receiver)
        rows.append((f"{name} ({fmt})", [got[s] - acked[s] for s in acked]))
    rows.append(("all three outlets", [x for _, values in rows for x in values]))
    return rows


async def throughput(count: int, outlets: int, workdir: Path) -> tuple[int, float]:
    receivers = [Receiver() for _ in range(outlets)]
    for receiver in receivers:
        receiver.__enter__()
    try:
        config = workdir / "publish-throughput.toml"
        write_config(config, [(f"outlet{n}", r, "ninjs") for n, r in enumerate(receivers)])
        service_env = env(config)
        with Pipeline(service_env, LOGS) as pipeline:
            started = time.time()
            await post_all(pipeline, items(count, "throughput"), None)
            await wait_for(receivers, count * outlets)
            finished = max(max(arrivals(r).values()) for r in receivers)
        await cleanup(service_env, service_env["NEWSROOM_KEY_PREFIX"])
    finally:
        for receiver in receivers:
            receiver.__exit__()
    return count * outlets, finished - started


async def drain(count: int, outlets: int, workdir: Path) -> tuple[int, float]:
    receivers = [Receiver() for _ in range(outlets)]
    for receiver in receivers:
        receiver.__enter__()
    try:
        config = workdir / "publish-drain.toml"
        write_config(config, [(f"outlet{n}", r, "ninjs") for n, r in enumerate(receivers)])
        service_env = env(config)
        settings = Settings(redis_url=service_env["REDIS_URL"], key_prefix=service_env["NEWSROOM_KEY_PREFIX"])
        redis = make_redis(settings)
        now = datetime.now(UTC)
        for item in items(count, "drain"):
            story = Story(partner=PARTNER_ID, uri=item["uri"], headline=item["uri"], body_html="<p>Body.</p>")
            event = StoryEnriched(
                story_id=story.id, trace_id=uuid.uuid4().hex, received_at=now, enriched_at=now, story=story
            )
            await redis.xadd(settings.keys.enriched, {"__data__": await encode_event(event)})
        await redis.aclose()
        publish = ServiceProcess("publish", {**service_env, "NEWSROOM_CONSUMER_NAME": "bench-drain"}, LOGS)
        publish.start(wait=False)
        try:
            publish.wait_ready()
            ready = time.time()
            await wait_for(receivers, count * outlets)
            finished = max(max(arrivals(r).values()) for r in receivers)
        finally:
            publish.stop()
        await cleanup(service_env, service_env["NEWSROOM_KEY_PREFIX"])
    finally:
        for receiver in receivers:
            receiver.__exit__()
    return count * outlets, finished - ready


def main() -> None:
    count = int(os.environ.get("BENCH_PUBLISH_STORIES", "400"))
    workdir = LOGS.parent
    LOGS.mkdir(parents=True, exist_ok=True)
    rows = asyncio.run(latency(count, workdir))
    print(f"\nLatency ingest 202 → outlet received, {count} stories at {RATE:.0f}/s, three outlets")
    print(f"{'outlet':<22}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for name, values in rows:
        p50, p95, p99 = (percentile(values, q) * 1000 for q in (50, 95, 99))
        print(f"{name:<22}{len(values):>6}{p50:>10.1f}{p95:>10.1f}{p99:>10.1f}{max(values) * 1000:>10.1f}")
    p99_all = percentile(rows[-1][1], 99) * 1000
    print(f"target p99 < 250 ms: {'met' if p99_all < 250 else 'NOT met'} ({p99_all:.1f} ms)")
    deliveries, seconds = asyncio.run(throughput(count, 10, workdir))
    print(f"\nThroughput, ten outlets, {count} stories posted as fast as ingest takes them")
    print(f"{deliveries} deliveries in {seconds:.2f} s = {deliveries / seconds:.0f} deliveries/s")
    deliveries, seconds = asyncio.run(drain(count, 10, workdir))
    print(f"\nPublish alone draining {count} enriched stories to ten outlets")
    print(f"{deliveries} deliveries in {seconds:.2f} s = {deliveries / seconds:.0f} deliveries/s")


if __name__ == "__main__":
    main()
