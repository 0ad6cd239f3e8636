"""docker-compose.yml and deploy/Dockerfile, checked by structure (no Docker engine here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
APP_SERVICES = ("ingest", "enrich", "publish")
SCALABLE = ("enrich", "publish")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (ROOT / "deploy" / "Dockerfile").read_text()


def test_every_service_is_there_and_none_has_a_container_name(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) >= {"redis", *APP_SERVICES}
    for name, service in services.items():
        assert "container_name" not in service, f"{name}: container_name blocks --scale"


def test_redis_is_7_with_aof_a_volume_and_a_healthcheck(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert re.match(r"redis:7(\.|-|$)", redis["image"]), redis["image"]
    command = " ".join(str(part) for part in redis["command"])
    assert "--appendonly yes" in command
    assert re.search(r"--appendfsync (always|everysec)", command)
    assert "--maxmemory-policy noeviction" in command, "evicting stream keys would lose stories"
    volume = redis["volumes"][0]
    source, target = volume.split(":")[:2]
    assert target == "/data"
    assert source in compose["volumes"], "Redis data must live on a named volume"
    assert "redis-cli" in " ".join(redis["healthcheck"]["test"])
    assert redis["restart"] in ("always", "unless-stopped")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_share_one_image_and_are_supervised(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert service["image"] == compose["services"]["ingest"]["image"]
    assert service["command"][0] == name
    # a clean exit (code 0) must be restarted too: `on-failure` would not
    assert service["restart"] in ("always", "unless-stopped")
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    health = " ".join(service["healthcheck"]["test"])
    port = service["command"][service["command"].index("--port") + 1]
    assert f":{port}/readyz" in health
    assert service["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert "NEWSROOM_CONFIG" in service["environment"]
    assert "0.0.0.0" in service["command"], "bind all interfaces inside the container"


@pytest.mark.parametrize("name", SCALABLE)
def test_workers_can_be_scaled(compose: dict[str, Any], name: str) -> None:
    service = compose["services"][name]
    assert "NEWSROOM_CONSUMER_NAME" not in service["environment"], "one name shared by all replicas"
    for mapping in service.get("ports", []):
        host = str(mapping).rsplit(":", 1)[0]
        assert "-" in host or ":" not in str(mapping), f"{name}: a fixed host port blocks --scale"


def test_dockerfile_installs_locked_deps_before_the_code_and_runs_unprivileged(dockerfile: str) -> None:
    lines = [line.strip() for line in dockerfile.splitlines()]
    lock = next(i for i, line in enumerate(lines) if line.startswith("COPY") and "uv.lock" in line)
    first_sync = next(i for i, line in enumerate(lines) if "uv sync" in line)
    code = next(i for i, line in enumerate(lines) if line.startswith("COPY") and "services" in line)
    assert lock < first_sync < code
    assert all("--frozen" in line for line in lines if "uv sync" in line)
    user = [line for line in lines if line.startswith("USER")]
    assert user
    assert user[-1].split()[1] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert any(line.startswith("FROM python:3.11") for line in lines)


def test_the_image_carries_everything_a_service_loads_at_run_time(dockerfile: str) -> None:
    copied = {
        line.split()[1]
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from" not in line
    }
    # shared/ and services/ are the code; models/ is the fine-tuned NER pipeline enrich loads.
    assert {"shared", "services", "models"} <= copied
