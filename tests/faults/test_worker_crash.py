"""SIGKILL an enrich worker, later a publish worker, while 2,000 stories flow.

Every story a partner got a 2xx for reaches every matching outlet (gamma takes only
urgency 1-3; urgencies 1-2 travel on the priority stream); after deduplicating on
`webhook-id` each outlet has each version exactly once; nothing stays pending.
The raw redeliveries (what at-least-once costs the outlets) are reported.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from shared.connections import RedisClient
from shared.settings import Settings
from tests.faults.timings import FAULT_ENV
from tests.helpers.pipeline import (
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

pytestmark = [pytest.mark.faults, pytest.mark.timeout(600)]


async def test_sigkill_workers_while_2000_stories_flow(
    settings: Settings, service_env: dict[str, str], redis: RedisClient, tmp_path: Path
) -> None:
    total = 2000
    env = {**service_env, **FAULT_ENV}
    with Receiver() as alpha, Receiver() as beta, Receiver() as gamma:
        outlets = {"alpha": alpha, "beta": beta, "gamma": gamma}
        write_config(settings.config_path, outlets, filters={"gamma": "max_urgency = 3"})
        with Pipeline(env, tmp_path) as pipeline:
            enrich, publish = pipeline.enrichers[0], pipeline.publishers[0]
            kills: list[str] = []

            async def down_while_posting(stories: int) -> None:
                # The outage lasts while the partner gets this many more stories accepted
                # (about a second unloaded), however loaded the machine is.
                start = len(pipeline.sent.acked)
                await wait_until(lambda: len(pipeline.sent.acked) >= start + stories, 120, 0.01)

            async def crash_and_restart() -> None:
                await wait_until(lambda: len(pipeline.sent.acked) >= total // 5, 120, 0.01)
                enrich.kill()
                kills.append(f"enrich at {len(pipeline.sent.acked)} acked")
                await down_while_posting(200)
                pipeline.restart(enrich, wait=False)
                await wait_until(lambda: len(pipeline.sent.acked) >= 3 * total // 5, 120, 0.01)
                publish.kill()
                kills.append(f"publish at {len(pipeline.sent.acked)} acked")
                await down_while_posting(200)
                pipeline.restart(publish, wait=False)

            started = time.monotonic()
            chaos = asyncio.create_task(crash_and_restart())
            items = [ninjs_item(n, urgency=1 + n % 9) for n in range(total)]
            urgent = {item["uri"] for item in items if item["urgency"] <= 3}
            await pipeline.post_all(items, concurrency=16)
            await chaos
            posted = time.monotonic() - started
            enrich.wait_ready()
            publish.wait_ready()
            acked = set(pipeline.sent.acked)
            assert len(acked) == total, f"partner refused: {pipeline.sent.refused[:10]}"

            expected = {
                name: {(uri, v) for uri, v in acked if name != "gamma" or uri in urgent} for name in outlets
            }

            def complete(name: str) -> bool:
                got = delivered_versions(outlets[name])
                return all(version in got.get(uri, []) for uri, version in expected[name])

            assert await wait_until(lambda: all(complete(name) for name in outlets), 300, 0.5), {
                name: len(expected[name]) - len(delivered_versions(r)) for name, r in outlets.items()
            }
            drained = time.monotonic() - started
            for name, receiver in outlets.items():
                got = delivered_versions(receiver)
                assert set(got) == {uri for uri, _v in expected[name]}, f"{name}: unexpected stories"
                twice = [uri for uri, versions in got.items() if len(versions) != 1]
                assert not twice, f"{name}: versions delivered more than once: {twice[:5]}"
                assert_signed(receiver, SECRETS[name])

            await assert_nothing_pending(redis, settings)
            print(
                f"\n{total} stories ({len(urgent)} of urgency 1-3 for gamma); killed {', '.join(kills)}; "
                f"posted in {posted:.1f} s, "
                f"all delivered after {drained:.1f} s; raw redeliveries: "
                + ", ".join(f"{name} {redeliveries(r)}" for name, r in outlets.items())
            )
