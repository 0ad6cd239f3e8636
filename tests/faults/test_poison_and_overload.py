"""Poison goes to the dead letter with its error; past the backlog limit ingest answers
503 with Retry-After and loses nothing it had already accepted."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel
from redis.typing import EncodableT, FieldT

from shared.connections import RedisClient
from shared.settings import Settings
from shared.streams import Streams, encode_event
from tests.faults.timings import FAULT_ENV
from tests.helpers.pipeline import (
    PARTNER_KEY,
    Pipeline,
    delivered_versions,
    ninjs_item,
    wait_until,
    write_config,
)
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.faults


class NotAStory(BaseModel):
    story_id: str
    nonsense: int


async def test_poison_is_dead_lettered_with_its_error_and_workers_keep_running(
    settings: Settings, service_env: dict[str, str], redis: RedisClient, tmp_path: Path
) -> None:
    keys = settings.keys
    streams = Streams.for_keys(keys)
    with Receiver() as outlet:
        write_config(settings.config_path, {"alpha": outlet})
        with Pipeline({**service_env, **FAULT_ENV}, tmp_path) as pipeline:
            poison: list[dict[FieldT, EncodableT]] = [
                {"__data__": b"\x00\x01 not an envelope"},
                {"__data__": await encode_event(NotAStory(story_id="x", nonsense=1))},
                {"unexpected": b"field"},
            ]
            for target in (streams.received.name, streams.enriched.name):
                for bad in poison:
                    await redis.xadd(target, bad)

            async def all_dead_lettered() -> bool:
                return int(await redis.xlen(keys.dead_letter)) >= 2 * len(poison)

            assert await wait_until(all_dead_lettered, 30), await redis.xlen(keys.dead_letter)
            entries = await redis.xrange(keys.dead_letter, "-", "+")
            for _entry_id, fields in entries:
                assert fields[b"error"], fields
                assert fields[b"source"] in (streams.received.name.encode(), streams.enriched.name.encode())
            await pipeline.post_all([ninjs_item(1)])
            assert await wait_until(lambda: len(delivered_versions(outlet)) == 1, 30)
            for proc in pipeline.processes():
                assert proc.proc is not None
                assert proc.proc.poll() is None, proc.log_tail()
            print("\n" + "\n".join(f"dead letter: {f[b'error'][:100]!r}" for _i, f in entries))


async def test_backlog_over_the_limit_sheds_load_and_loses_nothing_accepted(
    settings: Settings, service_env: dict[str, str], redis: RedisClient, tmp_path: Path
) -> None:
    limit = 40
    env = {**service_env, **FAULT_ENV, "NEWSROOM_BACKLOG_LIMIT": str(limit)}
    with Receiver() as outlet:
        write_config(settings.config_path, {"alpha": outlet})
        with Pipeline(env, tmp_path) as pipeline:
            enrich = pipeline.enrichers[0]
            enrich.kill()  # enrich is down: the backlog grows
            accepted: list[str] = []
            shed: list[httpx.Response] = []
            async with httpx.AsyncClient(timeout=10) as client:
                # ingest samples the backlog every half second, so it may accept a little
                # past the limit; keep sending until it has refused a few
                for n in range(2000):
                    if len(shed) >= 20:
                        break
                    response = await client.post(
                        f"{pipeline.ingest.url}/v1/stories",
                        json=ninjs_item(n),
                        headers={
                            "authorization": f"Bearer {PARTNER_KEY}",
                            "content-type": "application/json",
                        },
                    )
                    if response.status_code == 202:
                        accepted.append(f"urn:test:story:{n}")
                    else:
                        assert response.status_code == 503, response.text
                        shed.append(response)
            assert shed, "ingest never shed load"
            assert all(int(r.headers["retry-after"]) > 0 for r in shed)
            assert len(accepted) >= limit
            pipeline.restart(enrich)
            assert await wait_until(lambda: set(delivered_versions(outlet)) == set(accepted), 60), (
                len(delivered_versions(outlet)),
                len(accepted),
            )
            print(f"\nbacklog limit {limit}: {len(accepted)} accepted, all delivered; {len(shed)} shed (503)")
