"""Three enrich workers against one Redis and against a three-node Redis Cluster, same run.

    .venv/bin/python -m bench cluster            # BENCH_STORIES=300 for a short run

The same Reuters stories go through ingest, three enrich workers (pass-through
enrichment, so Redis and the framework are what is measured) and publish to an
outlet, first on the single Redis at REDIS_URL, then on a local three-node cluster
(`redis-server --cluster-enabled yes`, no replicas). For the cluster the table also
shows each node's share of the commands the run executed (INFO commandstats
before and after): the hash-tag layout should spread the load, with no hot node.
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

WORKERS = 3
PREFIX = f"benchcl{os.getpid()}"


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


async def run(name: str, redis_env: dict[str, str], items: list[dict[str, Any]]) -> Figures:
    with Receiver() as outlet:
        config = LOGS / f"bench-cluster-{name}.toml"
        write_config(config, {"alpha": outlet})
        env = pipeline_env(redis_env, config, NEWSROOM_TAGGING="false", NEWSROOM_KEY_PREFIX=PREFIX)
        try:
            with Pipeline(env, LOGS, enrich=WORKERS) as pipeline:
                post = await post_to_pipeline(pipeline)
                return await drive(f"{name}: {WORKERS} enrich workers", post, items, outlet)
        finally:
            await cleanup(redis_env, env["NEWSROOM_KEY_PREFIX"])


def main() -> None:
    if not REUTERS.exists():
        print(f"SKIPPED: {REUTERS} is absent (set NEWSROOM_SHARED_DATA to the shared data folder)")
        return
    if shutil.which("redis-server") is None:
        print("SKIPPED: redis-server is needed to start the local cluster")
        return
    n = stories_wanted(1000)
    items = reuters_items(2 * n, "cluster")
    single_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    single = asyncio.run(run("single Redis", {"REDIS_URL": single_url, "REDIS_CLUSTER_NODES": ""}, items[:n]))
    with tempfile.TemporaryDirectory() as workdir, LocalCluster(Path(workdir)) as cluster:
        before = {port: command_calls(port) for port in cluster.ports}
        clustered = asyncio.run(
            run("3-node cluster", {"REDIS_CLUSTER_NODES": cluster.nodes, "REDIS_URL": ""}, items[n:])
        )
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
    per_command = {
        port: {name: after[port].get(name, 0) - before[port].get(name, 0) for name in after[port]}
        for port in after
    }
    calls = {port: sum(commands.values()) for port, commands in per_command.items()}
    total = sum(calls.values()) or 1
    print()
    print("| run | stories | seconds | stories/s | p50 ms | p95 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in (single, clustered):
        print(
            f"| {row.name} | {row.stories} | {row.seconds:.1f} | {row.rate:.1f} | "
            f"{row.p(50):.0f} | {row.p(95):.0f} | {row.p(99):.0f} |"
        )
    print(f"\ncluster / single Redis throughput: {clustered.rate / single.rate:.2f}")
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


if __name__ == "__main__":
    main()
