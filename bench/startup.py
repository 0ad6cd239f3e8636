"""Enrich start-up: how long a replica takes to be ready and how much memory it holds.

    python -m bench startup          # or as part of `make bench`

In one run, on the Redis at REDIS_URL: the floor (a process that imports what the
worker imports and loads the NER model, nothing else), the KB built in a process the
way every replica did before the compiled file, then 1 and 3 enrich replicas started
at once with full tagging. Per replica: seconds from spawn to `/readyz` answering 200,
the CPU seconds it used until then (less sensitive to a loaded machine than the wall
time), and its RSS, peak RSS and PSS after tagging a few Reuters stories (PSS counts
the pages it shares with the other replicas, such as the mapped KB, once in all).
Targets (issue 18): ready ≤ 2 s and RSS ≤ 250 MB per replica.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench._stack import LOGS, REUTERS, ROOT, cleanup, cpu_seconds, pipeline_env, reuters_items
from shared.connections import make_redis
from shared.settings import Settings
from shared.streams import Streams, ensure_groups
from tests.helpers.pipeline import Pipeline, write_config
from tests.helpers.processes import ServiceProcess

READY_TARGET_S = 2.0
RSS_TARGET_MB = 250.0
STORIES = 40  # tagged by the replicas before their memory is read

# The floor: what any enrich replica must do before it can tag (imports and the model).
_FLOOR = """
import sys
import services.cli, services.enrich.worker
from services.enrich.tagging.model import load_nlp, resolve_model
from shared.settings import Settings
load_nlp(resolve_model(Settings().spacy_model))
print("ready", flush=True)
sys.stdin.read()
"""
# What each replica did before the compiled KB: the floor plus building the KB itself.
_IN_PROCESS = _FLOOR.replace("print(", "from services.enrich.tagging.kb import build_kb\nbuild_kb()\nprint(")


@dataclass
class Replica:
    label: str
    ready_s: float
    cpu_s: float
    rss_mb: float
    peak_mb: float
    pss_mb: float


def _memory_mb(pid: int) -> tuple[float, float, float]:
    """(RSS, peak RSS, PSS) in MB."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    pss = next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024, pss / 1024


def _script(label: str, code: str) -> Replica:
    """A process that prints `ready` when done loading and waits for its stdin to close."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=os.environ.copy()
    )
    assert proc.stdout is not None
    assert proc.stdin is not None
    line = proc.stdout.readline()
    ready = time.monotonic() - started
    if not line.startswith(b"ready"):
        raise RuntimeError(f"{label}: exited before it was ready")
    cpu = cpu_seconds(proc.pid)
    rss, peak, pss = _memory_mb(proc.pid)
    proc.stdin.close()
    proc.wait(30)
    return Replica(label, ready, cpu, rss, peak, pss)


async def _replicas(count: int, pipeline: Pipeline, redis_url: str) -> list[Replica]:
    """Start `count` enrich replicas at once; time each to ready; tag stories; read memory."""
    replicas = [pipeline.worker("enrich", i) for i in range(count)]
    started = time.monotonic()
    for replica in replicas:
        replica.start(wait=False)
    ready: dict[int, tuple[float, float]] = {}
    async with httpx.AsyncClient(timeout=1) as client:
        while len(ready) < count:
            if time.monotonic() - started > 180:
                raise TimeoutError(f"{count - len(ready)} enrich replicas not ready after 180 s")
            for n, replica in enumerate(replicas):
                if n in ready or replica.proc is None:
                    continue
                if replica.proc.poll() is not None:
                    raise RuntimeError(f"enrich exited:\n{replica.log_tail()}")
                try:
                    answer = await client.get(f"{replica.url}/readyz")
                except httpx.HTTPError:
                    continue
                if answer.status_code == 200:
                    ready[n] = (time.monotonic() - started, cpu_seconds(replica.proc.pid))
            await asyncio.sleep(0.02)
    settings = Settings(redis_url=redis_url, key_prefix=pipeline.env["NEWSROOM_KEY_PREFIX"])
    redis = make_redis(settings)
    try:
        before = int(await redis.xlen(settings.keys.enriched))
        await pipeline.post_all(reuters_items(STORIES, f"startup{count}-{uuid.uuid4().hex[:6]}"))
        deadline = time.monotonic() + 300
        while int(await redis.xlen(settings.keys.enriched)) - before < STORIES:
            if time.monotonic() > deadline:
                raise TimeoutError("the replicas did not enrich the stories within 300 s")
            await asyncio.sleep(0.1)
    finally:
        await redis.aclose()
    figures = []
    for n, replica in enumerate(replicas):
        assert replica.proc is not None
        rss, peak, pss = _memory_mb(replica.proc.pid)
        figures.append(Replica(f"{count} replica(s): #{n + 1}", *ready[n], rss, peak, pss))
    for replica in replicas:
        replica.stop()
    return figures


async def _run() -> list[Replica]:
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    redis_env = {"REDIS_URL": redis_url, "REDIS_CLUSTER_NODES": ""}
    config = LOGS / "bench-startup.toml"
    LOGS.mkdir(parents=True, exist_ok=True)
    write_config(config, {})
    env = pipeline_env(redis_env, config, NEWSROOM_TAGGING="true")
    pipeline = Pipeline(env, LOGS, enrich=0, publish=0)
    settings = Settings(redis_url=redis_url, key_prefix=env["NEWSROOM_KEY_PREFIX"])
    redis = make_redis(settings)
    try:  # no publish runs here: its group is what ingest's readiness waits for too
        await ensure_groups(redis, Streams.for_keys(settings.keys).all())
    finally:
        await redis.aclose()
    ingest: ServiceProcess = pipeline.ingest
    ingest.start()
    try:
        return [*await _replicas(1, pipeline, redis_url), *await _replicas(3, pipeline, redis_url)]
    finally:
        ingest.stop()
        await cleanup(redis_env, env["NEWSROOM_KEY_PREFIX"])


def main() -> list[tuple[str, str, str, str, bool]]:
    if not REUTERS.exists():
        print(f"SKIPPED: {REUTERS} is absent (set NEWSROOM_SHARED_DATA to the shared data folder)")
        return []
    subprocess.run([sys.executable, "-m", "services.enrich.tagging.kbfile"], check=True, cwd=ROOT)
    rows = [
        _script("floor: imports + NER model", _FLOOR),
        _script("before: KB built in the process", _IN_PROCESS),
        *asyncio.run(_run()),
    ]
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores shared)")
    print("| process | ready s | CPU s until ready | RSS MB | peak RSS MB | PSS MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.label} | {row.ready_s:.2f} | {row.cpu_s:.2f} | {row.rss_mb:.0f} | {row.peak_mb:.0f}"
            f" | {row.pss_mb:.0f} |"
        )
    replicas = rows[2:]
    slowest = max(row.ready_s for row in replicas)
    alone = replicas[0]
    heaviest = max(row.peak_mb for row in replicas)
    floor, before = rows[0], rows[1]
    targets = [
        (
            "enrich replica ready, alone (wall; CPU until ready)",
            f"{alone.ready_s:.2f} s; {alone.cpu_s:.2f} CPU s",
            f"floor {floor.ready_s:.2f} s; {floor.cpu_s:.2f} CPU s; before {before.ready_s:.1f} s",
            f"≤ {READY_TARGET_S:.0f} s",
            alone.ready_s <= READY_TARGET_S,
        ),
        (
            "enrich replicas ready, 3 started at once (slowest)",
            f"{slowest:.2f} s",
            f"floor {floor.ready_s:.2f} s",
            f"≤ {READY_TARGET_S:.0f} s",
            slowest <= READY_TARGET_S,
        ),
        (
            "enrich replica peak RSS (1 and 3 replicas)",
            f"{heaviest:.0f} MB (PSS ≤ {max(r.pss_mb for r in replicas):.0f})",
            f"floor {floor.peak_mb:.0f} MB; before {before.peak_mb:.0f} MB",
            f"≤ {RSS_TARGET_MB:.0f} MB",
            heaviest <= RSS_TARGET_MB,
        ),
    ]
    print()
    print("| target | figure | baseline (same run) | threshold | |")
    print("|---|---:|---:|---|---|")
    for name, figure, baseline, threshold, met in targets:
        print(f"| {name} | {figure} | {baseline} | {threshold} | {'met' if met else 'MISSED'} |")
    return targets


if __name__ == "__main__":
    main()
