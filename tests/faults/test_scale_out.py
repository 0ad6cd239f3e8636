"""Two, then three enrich workers in one group share the load; nothing is processed twice
downstream; a removed worker's pending entries are taken over by the others."""

from __future__ import annotations

import json
import re
import signal
from functools import partial
from pathlib import Path

import httpx
import pytest

from shared.connections import RedisClient
from shared.settings import Settings
from shared.streams import Streams, decode_entry
from tests.faults.timings import FAULT_ENV
from tests.helpers.pipeline import (
    PARTNER_ID,
    Pipeline,
    delivered_versions,
    ninjs_item,
    wait_until,
    write_config,
)
from tests.helpers.processes import ServiceProcess
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.faults


def enriched_count(worker: ServiceProcess) -> float:
    """Stories this worker enriched, from its own /metrics (the enrich time histogram's count)."""
    text = httpx.get(f"{worker.url}/metrics/", timeout=5).text
    match = re.search(r"^newsroom_enrich_seconds_count(?:\{[^}]*\})? (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _has(outlet: Receiver, count: int) -> bool:
    return len(delivered_versions(outlet)) == count


async def test_enrich_workers_share_the_load_and_take_over_a_removed_one(
    settings: Settings, service_env: dict[str, str], redis: RedisClient, tmp_path: Path
) -> None:
    env = {**service_env, **FAULT_ENV}
    streams = Streams.for_keys(settings.keys, [PARTNER_ID])
    lane = streams.lanes[0]  # the partner's routine stories
    with Receiver() as outlet:
        write_config(settings.config_path, {"alpha": outlet})
        with Pipeline(env, tmp_path, enrich=2) as pipeline:
            shares: dict[int, list[float]] = {}
            n = 0
            for workers in (2, 3):
                if workers == 3:
                    third = pipeline.worker("enrich", 2)
                    pipeline.enrichers.append(third)
                    third.start()
                before = [enriched_count(w) for w in pipeline.enrichers]
                await pipeline.post_all((ninjs_item(i) for i in range(n, n + 300)), rate=150)
                n += 300
                assert await wait_until(partial(_has, outlet, n), 60)
                after = [enriched_count(w) for w in pipeline.enrichers]
                shares[workers] = [a - b for a, b in zip(after, before, strict=True)]
                assert sum(shares[workers]) >= 300, shares
                assert all(share > 0 for share in shares[workers]), f"an idle worker: {shares}"

            # remove the third worker while it holds entries: freeze the others so
            # nobody else reads, let its consumer read a batch, then SIGKILL it.
            removed = pipeline.enrichers[2]
            name = removed.env["NEWSROOM_CONSUMER_NAME"]
            removed.kill()
            survivors = pipeline.enrichers[:2]
            for worker in survivors:
                assert worker.proc is not None
                worker.proc.send_signal(signal.SIGSTOP)
            try:
                # A frozen survivor may still have a blocking XREADGROUP at Redis, which would take
                # the new entries: wait until Redis says each began longer than a block ago.
                frozen = {w.env["NEWSROOM_CONSUMER_NAME"].encode() for w in survivors}

                async def no_survivor_blocked() -> bool:
                    consumers = await redis.xinfo_consumers(lane.name, lane.group)
                    return all(
                        c["idle"] > settings.polling_ms + 100 for c in consumers if c["name"] in frozen
                    )

                assert await wait_until(no_survivor_blocked, 30, 0.05)
                await pipeline.post_all(ninjs_item(i) for i in range(n, n + 40))
                claimed = await redis.xreadgroup(lane.group, name, {lane.name: ">"}, count=100)
            finally:
                for worker in survivors:
                    assert worker.proc is not None
                    worker.proc.send_signal(signal.SIGCONT)
            held = sum(len(entries) for _stream, entries in claimed)
            n += 40
            assert held > 0, "the removed worker's consumer held nothing"

            async def taken_over() -> bool:
                rows = await redis.xpending_range(lane.name, lane.group, "-", "+", 1000, consumername=name)
                return not rows

            assert await wait_until(partial(_has, outlet, n), 60)
            assert await wait_until(taken_over, 30), "the removed worker's entries are still pending"

            got = delivered_versions(outlet)
            assert all(len(v) == 1 for v in got.values()), "a story delivered twice"
            produced: dict[str, int] = {}
            for _entry_id, fields in await redis.xrange(streams.enriched.name, "-", "+"):
                body = json.loads(decode_entry(fields))
                key = f"{body['story_id']}:{body['story']['version']}"
                produced[key] = produced.get(key, 0) + 1
            assert len(produced) == n
            assert max(produced.values()) == 1, "a story enriched onto the stream twice"
            print(
                f"\nenriched per worker: 2 workers {shares[2]}, 3 workers {shares[3]}; "
                f"{held} entries held by the removed worker were taken over"
            )
