"""A primary of a three-node Redis Cluster (no replicas) stops while stories flow, then restarts.

Without replicas its slots are unavailable until it is back, so the promise is: a
clear, bounded outage (ingest answers 503 and the partner retries; workers retry),
no acknowledged story lost, and no duplicate delivery after deduplicating on
`webhook-id`. The node stopped is the one holding the received stream.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis
from redis.crc import key_slot

from shared.connections import make_redis
from shared.settings import Settings
from tests.faults.timings import own_redis_env
from tests.helpers.cluster import LocalCluster
from tests.helpers.pipeline import (
    Pipeline,
    assert_nothing_pending,
    delivered_versions,
    ninjs_item,
    redeliveries,
    wait_until,
    write_config,
)
from tests.helpers.receiver import Receiver

pytestmark = [pytest.mark.cluster, pytest.mark.faults]


def owner_of(cluster: LocalCluster, key: str) -> int:
    """The port of the primary that serves `key`'s slot."""
    slot = key_slot(key.encode())
    client: Any = sync_redis.Redis(port=cluster.ports[0])
    ranges = client.execute_command("CLUSTER SLOTS")
    for start, end, primary, *_replicas in ranges:
        if int(start) <= slot <= int(end):
            return int(primary[1])
    raise AssertionError(f"no node serves slot {slot}")


def cluster_ok(port: int) -> bool:
    info: Any = sync_redis.Redis(port=port, decode_responses=True).cluster("INFO")
    return str(info.get("cluster_state")) == "ok"


async def test_primary_holding_live_keys_stops_and_restarts(tmp_path: Path) -> None:
    total, rate = 600, 60.0
    with LocalCluster(tmp_path / "cluster") as cluster, Receiver() as outlet:
        settings = Settings(redis_cluster_nodes=cluster.nodes, key_prefix="cf")
        config = tmp_path / "newsroom.toml"
        write_config(config, {"alpha": outlet})
        env = own_redis_env(config, "cf", cluster_nodes=cluster.nodes)
        victim = owner_of(cluster, settings.keys.received)
        redis = make_redis(settings)
        try:
            with Pipeline(env, tmp_path) as pipeline:
                outage: dict[str, float] = {}

                async def stop_and_restart() -> None:
                    await wait_until(lambda: len(pipeline.sent.acked) >= total // 3, 60, 0.01)
                    outage["stopped"] = time.time()
                    cluster.stop_node(victim)
                    await asyncio.sleep(3.0)
                    cluster.start_node(victim)
                    await wait_until(lambda: all(cluster_ok(p) for p in cluster.ports), 30)
                    outage["restarted"] = time.time()

                chaos = asyncio.create_task(stop_and_restart())
                await pipeline.post_all((ninjs_item(n) for n in range(total)), rate=rate)
                await chaos
                for proc in pipeline.processes():
                    assert proc.proc is not None
                    assert proc.proc.poll() is None, f"{proc.service} exited:\n{proc.log_tail()}"
                acked = dict(pipeline.sent.acked)
                assert len(acked) == total, pipeline.sent.refused[:10]

                def complete() -> bool:
                    got = delivered_versions(outlet)
                    return all(v in got.get(uri, []) for uri, v in acked)

                assert await wait_until(complete, 120, 0.2), "acknowledged stories missing"
                got = delivered_versions(outlet)
                assert all(len(v) == 1 for v in got.values()), "a version delivered twice"

                # the partner-visible outage: the longest gap between two acknowledgements
                times = sorted(acked.values())
                gap = max(b - a for a, b in itertools.pairwise(times))
                assert gap < 20.0, f"ingest outage {gap:.1f} s"

                await assert_nothing_pending(redis, settings)
                print(
                    f"\ncluster: stopped primary :{victim} for "
                    f"{outage['restarted'] - outage['stopped']:.1f} s (until cluster_state ok); "
                    f"longest gap between acknowledgements {gap:.1f} s; partner retries "
                    f"{pipeline.sent.retries_503} after 503, {len(pipeline.sent.server_errors)} "
                    f"after other 5xx; {total} acknowledged, all delivered once; "
                    f"raw redeliveries {redeliveries(outlet)}"
                )
        finally:
            await redis.aclose()
