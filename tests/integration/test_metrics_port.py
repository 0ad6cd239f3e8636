"""metrics_port: /metrics leaves the service's port for a listener of its own (real uvicorn)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from shared.config import sha256_hex
from shared.connections import RedisClient
from shared.settings import Settings
from shared.streams import Streams, ensure_groups
from tests.helpers.ports import free_port
from tests.helpers.processes import ServiceProcess
from tests.integration.ingest_support import KEY_A1, bearer, ninjs

pytestmark = pytest.mark.integration


async def test_metrics_move_to_their_own_port_and_leave_the_api_port(
    settings: Settings, redis: RedisClient, service_env: dict[str, str], tmp_path: Path
) -> None:
    settings.config_path.write_text(f'[[partners]]\nid = "alpha"\nkeys_sha256 = ["{sha256_hex(KEY_A1)}"]\n')
    await ensure_groups(redis, Streams.for_keys(settings.keys).all())
    metrics_port = free_port()
    env = {**service_env, "NEWSROOM_METRICS_PORT": str(metrics_port), "NEWSROOM_METRICS_HOST": "127.0.0.1"}
    service = ServiceProcess("ingest", env, tmp_path).start()
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=10) as client:
            sent = await client.post("/v1/stories", json=ninjs("urn:metrics:1"), headers=bearer(KEY_A1))
            assert sent.status_code == 202, sent.text
            assert (await client.get("/metrics")).status_code == 404
            scraped = await client.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert scraped.status_code == 200
        assert 'newsroom_stories_received_total{partner="alpha",result="accepted"} 1.0' in scraped.text
    finally:
        service.stop()
