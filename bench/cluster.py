"""1, 2 and 3 enrich replicas against one Redis and against a three-node Redis Cluster, same run.

    .venv/bin/python -m bench cluster            # BENCH_STORIES=200 for a short run
    BENCH_CLUSTER_TAGGING=false ...              # pass-through: Redis and the framework alone

Reuters stories go through ingest, 1, 2 and 3 enrich replicas (full enrichment by
default) and publish to an outlet, first on the single Redis at REDIS_URL, then on a
local three-node cluster (`redis-server --cluster-enabled yes`, no replicas). For the
cluster the table also shows each node's share of the commands the runs executed
(INFO commandstats before and after): the hash-tag layout should spread the load.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import redis as sync_redis
from redis.crc import key_slot

from bench._stack import (
    LOGS,
    REUTERS,
    CpuMeter,
    Figures,
    cleanup,
    drive,
    pipeline_env,
    post_to_pipeline,
    reuters_items,
    stories_wanted,
)
from shared.keys import Keys
from tests.helpers.cluster import LocalCluster
from tests.helpers.pipeline import Pipeline, write_config
from tests.helpers.receiver import Receiver

REPLICAS = (1, 2, 3)
PREFIX = f"benchcl{os.getpid()}"
CORES = os.cpu_count() or 1


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, every core (/proc/stat)."""
    fields = [float(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


class Spent:
    """What one run cost: services' CPU ms per story, and how busy the machine's cores were."""

    def __init__(self, meter: CpuMeter, stories: int, before: tuple[float, float]) -> None:
        after = machine_busy()
        self.per_story = meter.per_story(stories)
        self.services = sum(self.per_story.values())
        self.busy = (after[0] - before[0]) / max(1e-9, after[1] - before[1])
        # Every core busy with nothing but these services: the most this machine could carry.
        self.ceiling = 1000 * CORES / self.services if self.services else float("nan")

    def enrich(self) -> float:
        return sum(ms for name, ms in self.per_story.items() if name.startswith("enrich"))


def command_calls(port: int) -> dict[str, int]:
    client: Any = sync_redis.Redis(port=port)
    stats: dict[str, Any] = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def owners(cluster: LocalCluster, keys: dict[str, str]) -> dict[int, list[str]]:
    """Which node serves which of the pipeline's hash tags."""
    client: Any = sync_redis.Redis(port=cluster.ports[0])
    ranges = client.execute_command("CLUSTER SLOTS")
    placed: dict[int, list[str]] = {port: [] for port in cluster.ports}
    for label, key in keys.items():
        slot = key_slot(key.encode())
        for start, end, primary, *_replicas in ranges:
            if int(start) <= slot <= int(end):
                placed[int(primary[1])].append(label)
    return placed


async def run(
    name: str, redis_env: dict[str, str], items: list[dict[str, Any]], replicas: int
) -> tuple[Figures, Spent]:
    tagging = os.environ.get("BENCH_CLUSTER_TAGGING", "true")
    with Receiver() as outlet:
        config = LOGS / f"bench-cluster-{replicas}.toml"
        write_config(config, {"alpha": outlet})
        env = pipeline_env(redis_env, config, NEWSROOM_TAGGING=tagging, NEWSROOM_KEY_PREFIX=PREFIX)
        try:
            with Pipeline(env, LOGS, enrich=replicas) as pipeline:
                post = await post_to_pipeline(pipeline)
                pids = {
                    f"{proc.service} {n}": proc.proc.pid
                    for n, proc in enumerate(pipeline.processes())
                    if proc.proc is not None
                }
                before = machine_busy()
                with CpuMeter(pids) as meter:
                    figures = await drive(f"{name}: {replicas} enrich", post, items, outlet)
                return figures, Spent(meter, len(items), before)
        finally:
            await cleanup(redis_env, env["NEWSROOM_KEY_PREFIX"])


def main() -> list[tuple[str, str, str, str, bool]]:
    if not REUTERS.exists():
        print(f"SKIPPED: {REUTERS} is absent (set NEWSROOM_SHARED_DATA to the shared data folder)")
        return []
    if shutil.which("redis-server") is None:
        print("SKIPPED: redis-server is needed to start the local cluster")
        return []
    n = stories_wanted(400)
    pool = reuters_items(2 * len(REPLICAS) * n, "cluster")
    batches = [pool[i * n : (i + 1) * n] for i in range(2 * len(REPLICAS))]
    single_env = {
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "REDIS_CLUSTER_NODES": "",
    }
    single_runs = [
        asyncio.run(run("single Redis", single_env, batches[i], r)) for i, r in enumerate(REPLICAS)
    ]
    with tempfile.TemporaryDirectory() as workdir, LocalCluster(Path(workdir)) as cluster:
        before = {port: command_calls(port) for port in cluster.ports}
        cluster_env = {"REDIS_CLUSTER_NODES": cluster.nodes, "REDIS_URL": ""}
        cluster_runs = [
            asyncio.run(run("3-node cluster", cluster_env, batches[len(REPLICAS) + i], r))
            for i, r in enumerate(REPLICAS)
        ]
        after = {port: command_calls(port) for port in cluster.ports}
        keys = Keys(PREFIX)
        tags = owners(
            cluster,
            {
                "{P:in}": keys.received,
                "{P:enriched}": keys.enriched,
                "{P:index}": keys.index("x"),
                "{P:events}": keys.delivery_events,
                "{P:dlq}": keys.dead_letter,
                "{P:outlet:alpha}": keys.outlet("alpha", "x"),
            },
        )
    singles, clustered = [f for f, _ in single_runs], [f for f, _ in cluster_runs]
    per_command = {
        port: {name: after[port].get(name, 0) - before[port].get(name, 0) for name in after[port]}
        for port in after
    }
    calls = {port: sum(commands.values()) for port, commands in per_command.items()}
    total = sum(calls.values()) or 1
    print()
    print("| run | stories | seconds | stories/s | p50 ms | p95 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in (*singles, *clustered):
        print(
            f"| {row.name} | {row.stories} | {row.seconds:.1f} | {row.rate:.1f} | "
            f"{row.p(50):.0f} | {row.p(95):.0f} | {row.p(99):.0f} |"
        )
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (2 cores shared)")
    for replicas, one, many in zip(REPLICAS, singles, clustered, strict=True):
        print(
            f"{replicas} enrich: single {one.rate / singles[0].rate:.2f} x one replica, "
            f"cluster {many.rate / singles[0].rate:.2f} x (cluster / single {many.rate / one.rate:.2f})"
        )
    print(
        "\nWhat limits it: CPU. Services' CPU ms per story (user + system, every process of the run;"
        " Redis not counted), the machine's cores busy over the run (everything on it), and the"
        f" ceiling {CORES} idle cores would give at that cost"
    )
    print("| run | enrich ms | ingest + publish ms | services ms | cores busy | ceiling stories/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for row, spent in (*single_runs, *cluster_runs):
        print(
            f"| {row.name} | {spent.enrich():.1f} | {spent.services - spent.enrich():.1f} | "
            f"{spent.services:.1f} | {spent.busy:.0%} | {spent.ceiling:.1f} |"
        )
    print("\n| cluster node | commands | share | hash tags it serves | top commands |")
    print("|---|---:|---:|---|---|")
    for port, count in calls.items():
        top = sorted(per_command[port].items(), key=lambda kv: -kv[1])[:4]
        busiest = ", ".join(f"{name} {calls_ / count:.0%}" for name, calls_ in top if calls_) if count else ""
        print(
            f"| 127.0.0.1:{port} | {count} | {count / total:.0%} | {' '.join(tags[port]) or '–'} "
            f"| {busiest} |"
        )
    hottest = max(calls.values()) / total
    print(f"\nhottest node: {hottest:.0%} of commands (an even spread is 33%)")
    print("(latencies here are under a full-speed burst, not at a fixed rate)")
    return [
        (
            f"throughput, {replicas} enrich ({'single' if n_ < len(REPLICAS) else 'cluster'})",
            f"{row.rate:.1f}/s",
            f"1 enrich, single: {singles[0].rate:.1f}/s",
            "reported (scale)",
            True,
        )
        for n_, (replicas, row) in enumerate(zip((*REPLICAS, *REPLICAS), (*singles, *clustered), strict=True))
    ]


if __name__ == "__main__":
    main()
