"""One outlet answers 503 for a while (two minutes in production, seconds here), then recovers.

All its stories arrive once it is back, each story's versions in increasing order
ending with the newest (the publish queue is last-version-wins, so a version
superseded while the outlet was down may be skipped; the test counts them). The
healthy outlet's latency during the outage is measured and bounded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from shared.connections import RedisClient
from shared.settings import Settings
from tests.faults.outlets import outage
from tests.faults.timings import FAULT_ENV
from tests.helpers.pipeline import (
    Pipeline,
    delivered_versions,
    ninjs_item,
    percentile,
    wait_until,
    write_config,
)
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.faults

OUTAGE_SECONDS = 10.0
RATE = 10.0  # well below the pipeline's capacity, so latency measures the outage, not a queue


async def test_outlet_outage_then_recovery(
    settings: Settings, service_env: dict[str, str], redis: RedisClient, tmp_path: Path
) -> None:
    stories, updated = 60, 10
    down_until = [float("inf")]
    # retries every 1-3 s (Retry-After: 1): fast enough for a test, slow enough not to
    # turn the outage into a retry storm that competes with the healthy outlet
    schedule = json.dumps([1.0, 2.0] + [3.0] * 100)
    env = {**service_env, **FAULT_ENV, "NEWSROOM_RETRY_SCHEDULE_SECONDS": schedule}
    with Receiver(outage(down_until)) as alpha, Receiver() as beta:
        write_config(settings.config_path, {"alpha": alpha, "beta": beta})
        with Pipeline(env, tmp_path) as pipeline:
            outage_started = time.time()
            down_until[0] = outage_started + OUTAGE_SECONDS
            items = [ninjs_item(n) for n in range(stories)]
            # versions 2 and 3 of the first stories, posted while alpha is still down
            items += [ninjs_item(n, 2) for n in range(updated)]
            items += [ninjs_item(n, 3) for n in range(updated)]
            await pipeline.post_all(items, rate=RATE, concurrency=1)
            posted_at = time.time()
            assert posted_at < down_until[0], "the flow must happen during the outage"
            acked = dict(pipeline.sent.acked)
            assert len(acked) == len(items), pipeline.sent.refused[:10]
            newest = {uri: max(v for u, v in acked if u == uri) for uri, _ in acked}

            def alpha_complete() -> bool:
                got = delivered_versions(alpha)
                return all(newest[uri] in got.get(uri, []) for uri in newest)

            assert await wait_until(alpha_complete, OUTAGE_SECONDS + 60, 0.2), "alpha did not catch up"
            recovered_after = time.time() - down_until[0]
            got = delivered_versions(alpha)
            for uri, versions in got.items():
                assert versions == sorted(set(versions)), f"{uri}: out of order or twice: {versions}"
                assert versions[-1] == newest[uri]
            skipped = sum(1 for uri, v in acked if v not in got.get(uri, []))
            assert not [r for r in alpha.received if r.at < down_until[0]], "delivered during the outage"

            # beta was never down: its latency from acknowledgement to arrival stays what it is
            # without an outage (measured below, in the same run, once alpha is back)
            assert await wait_until(lambda: len(delivered_versions(beta)) == stories, 30)
            during = _latencies(beta, acked)
            control = [ninjs_item(n) for n in range(stories, stories + 40)]
            await pipeline.post_all(control, rate=RATE, concurrency=1)
            assert await wait_until(lambda: len(delivered_versions(beta)) == stories + 40, 30)
            after = _latencies(beta, dict(pipeline.sent.acked), only={i["uri"] for i in control})
            attempts = len(alpha.attempts) - len(alpha.received)
            print(
                f"\noutage {OUTAGE_SECONDS:.0f} s: alpha refused {attempts} attempts, caught up "
                f"{recovered_after:.1f} s after recovery, {skipped} superseded versions skipped; "
                f"beta latency p50/p95 during the outage {_ms(during, 50)}/{_ms(during, 95)} ms, "
                f"without outage {_ms(after, 50)}/{_ms(after, 95)} ms"
            )
            # A beta held up by alpha waits out the 10 s outage; the 3 s floor only absorbs a
            # loaded machine's scheduling noise (it failed at 1.6 s with a load average of 15).
            assert percentile(during, 95) <= max(3.0, 2 * percentile(after, 95)), "beta slowed by alpha"


def _latencies(
    receiver: Receiver, acked: dict[tuple[str, int], float], only: set[str] | None = None
) -> list[float]:
    out = []
    for delivery in receiver.received:
        story = delivery.json["data"]["item"]
        at = acked.get((story["uri"], int(story["version"])))
        if at is not None and (only is None or story["uri"] in only):
            out.append(delivery.at - at)
    return out


def _ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.0f}"
