"""Fixtures shared by every test layer.

Each test gets its own key prefix, so tests never see each other's data and can
run against one shared Redis (or Redis Cluster).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.connections import RedisClient, discover, make_redis
from shared.settings import Settings
from tests.helpers.redis_target import RedisTarget, single_redis_url

SHARED_DATA = Path(
    os.environ.get("NEWSROOM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def shared_data(relative: str) -> Path:
    """A research/fixture folder under ../shared/data, or a clean skip when absent."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent (set NEWSROOM_SHARED_DATA to the shared data folder)")
    return path


@pytest.fixture(scope="session")
def redis_target() -> Iterator[RedisTarget]:
    if os.environ.get("NEWSROOM_TEST_CLUSTER") == "1":
        from tests.helpers.cluster import LocalCluster

        with LocalCluster(ARTIFACTS / "cluster") as cluster:
            yield RedisTarget(cluster_nodes=cluster.nodes)
        return
    url = single_redis_url()
    if url:
        yield RedisTarget(url=url)
        return
    try:
        from testcontainers.community.redis import RedisContainer

        with RedisContainer("redis:7") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield RedisTarget(url=f"redis://{host}:{port}/0")
    except Exception as exc:
        pytest.fail(
            "No Redis for integration tests: set TEST_REDIS_URL (or REDIS_URL) to a running "
            f"Redis, or run a Docker engine for testcontainers ({exc!r})"
        )


FAST_TIMINGS: dict[str, Any] = {
    "polling_ms": 100,
    "reclaim_idle_ms": 800,
    "max_attempts": 3,
    "retry_after_seconds": 1,
}


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def settings(redis_target: RedisTarget, prefix: str, tmp_path: Path) -> Settings:
    return redis_target.settings(key_prefix=prefix, config_path=tmp_path / "newsroom.toml", **FAST_TIMINGS)


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[RedisClient]:
    client = make_redis(settings)
    await discover(client)
    yield client
    # Test-only cleanup by pattern; the services never scan.
    try:
        async for key in client.scan_iter(match=f"*{settings.key_prefix}*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture
def service_env(redis_target: RedisTarget, settings: Settings) -> dict[str, str]:
    """Environment for service processes: same Redis, same prefix, fast timings."""
    env = {
        **redis_target.env(),
        "NEWSROOM_KEY_PREFIX": settings.key_prefix,
        "NEWSROOM_CONFIG": str(settings.config_path),
        "NEWSROOM_TAGGING": os.environ.get("NEWSROOM_TEST_TAGGING", "true"),
    }
    for name, value in FAST_TIMINGS.items():
        env[f"NEWSROOM_{name.upper()}"] = str(value)
    return env
