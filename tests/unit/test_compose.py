"""docker-compose.yml and deploy/Dockerfile, checked by structure.

`make compose-test` (deploy/compose_test.py) builds and runs them on a real engine; these
checks keep what it relies on from drifting, and run everywhere, engine or not.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from shared.config import load_config

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


def test_redis_is_7_selectable_with_aof_a_volume_and_a_healthcheck(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    # the official image by default; NEWSROOM_REDIS_IMAGE picks another (Debian's, offline)
    selectable = re.fullmatch(r"\$\{NEWSROOM_REDIS_IMAGE:-(.+)\}", redis["image"])
    assert selectable, redis["image"]
    assert re.match(r"redis:7(\.|-|$)", selectable.group(1)), redis["image"]
    command = " ".join(str(part) for part in redis["command"])
    assert "--appendonly yes" in command
    assert re.search(r"--appendfsync (always|everysec)", command)
    assert "--maxmemory-policy noeviction" in command, "evicting stream keys would lose stories"
    # the same data directory in the official image and in deploy/redis.Dockerfile's
    assert "--dir /data" in command
    volume = redis["volumes"][0]
    source, target = volume.split(":")[:2]
    assert target == "/data"
    assert source in compose["volumes"], "Redis data must live on a named volume"
    assert "redis-cli" in " ".join(redis["healthcheck"]["test"])
    assert redis["restart"] in ("always", "unless-stopped")
    assert "ports" not in redis, "only the compose network needs Redis"


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
    assert service["init"] is True, "tini as PID 1 forwards SIGTERM to Python"
    assert "container_name" not in service
    assert service["build"]["secrets"] == ["build_ca"]


def test_the_base_image_default_is_the_dockerfiles(compose: dict[str, Any], dockerfile: str) -> None:
    arg = compose["services"]["ingest"]["build"]["args"]["BASE_IMAGE"]
    default = re.fullmatch(r"\$\{NEWSROOM_BASE_IMAGE:-(.+)\}", arg)
    assert default, arg
    assert f"ARG BASE_IMAGE={default.group(1)}" in dockerfile


def test_the_demo_outlet_is_behind_a_profile_and_reached_by_name(compose: dict[str, Any]) -> None:
    outlet = compose["services"]["demo-outlet"]
    assert outlet["profiles"] == ["demo"]
    assert outlet["command"][0] == "demo-outlet"
    assert "0.0.0.0" in outlet["command"]
    port = outlet["command"][outlet["command"].index("--port") + 1]
    config_file = re.fullmatch(r"\$\{NEWSROOM_CONFIG_FILE:-\./(.+)\}:.*", compose["x-app"]["volumes"][0])
    assert config_file
    config = load_config(ROOT / config_file.group(1))
    assert [o.url for o in config.outlets] == [f"http://demo-outlet:{port}/hook"]


def test_the_compose_config_is_the_example_config_but_for_the_outlets_address() -> None:
    example = load_config(ROOT / "newsroom.example.toml")
    compose_config = load_config(ROOT / "deploy" / "newsroom.compose.toml")
    assert compose_config.partners == example.partners
    assert compose_config.editors == example.editors
    assert [o.model_copy(update={"url": ""}) for o in compose_config.outlets] == [
        o.model_copy(update={"url": ""}) for o in example.outlets
    ]


def test_published_ports_only_where_a_person_needs_them(compose: dict[str, Any]) -> None:
    # partners push to ingest, editors use publish's queue page, people look at the demo inbox
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {"ingest", "publish", "demo-outlet"}


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
    assert "ARG BASE_IMAGE=python:3.11-slim" in lines
    assert all(
        line == "FROM ${BASE_IMAGE} AS build" or line == "FROM ${BASE_IMAGE} AS app"
        for line in lines
        if line.startswith("FROM")
    )


def test_the_build_ca_is_a_build_time_secret_only(dockerfile: str) -> None:
    lines = [line.strip() for line in dockerfile.splitlines() if not line.strip().startswith("#")]
    app_stage = lines[lines.index("FROM ${BASE_IMAGE} AS app") :]
    assert not any("build_ca" in line for line in app_stage), "the app stage must not see the CA"
    assert any(line.startswith("COPY --from=build /app /app") for line in app_stage)
    # used only as a mounted secret, never COPY'd or put in an ENV/ARG of the image
    for line in lines:
        if "build_ca" in line:
            assert line.startswith(("RUN --mount=type=secret,id=build_ca", "if [ -s /run/secrets/build_ca ]"))


def test_the_image_carries_everything_a_service_loads_at_run_time(dockerfile: str) -> None:
    copied = {
        line.split()[1]
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from" not in line
    }
    # shared/ and services/ are the code; models/ is the fine-tuned NER pipeline enrich loads.
    assert {"shared", "services", "models"} <= copied


def _compose_test() -> ModuleType:
    """deploy/compose_test.py, a script rather than a package module, loaded by path."""
    name = "newsroom_compose_test"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "deploy" / "compose_test.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


def _line(event: str, **fields: str) -> str:
    return json.dumps({"event": event, "service": "demo-outlet", **fields})


def test_the_outlet_tally_tells_lost_duplicates_and_redeliveries_apart() -> None:
    tally = _compose_test()
    lines = [
        _line("outlet received story", story_id="a", webhook_id="msg_a_v1_published_demo"),
        _line("outlet received story", story_id="a", webhook_id="msg_a_v1_published_demo"),
        _line("outlet received story", story_id="b", webhook_id="msg_b_v1_published_demo"),
        _line("outlet received story", story_id="b", webhook_id="msg_b_v2_published_demo"),
        _line("rejected delivery with a bad signature", error="no match"),
        "uvicorn some plain line",
        "{not json",
    ]
    received = tally.parse_outlet_log(lines)
    assert received.lost({"a", "b", "c"}) == {"c"}
    assert received.duplicates() == {"b": {"msg_b_v1_published_demo", "msg_b_v2_published_demo"}}
    assert received.redeliveries() == 1
    assert received.bad_signatures == 1


def test_replica_shares_come_from_each_replicas_own_lines() -> None:
    tally = _compose_test()
    lines = [
        "enrich-1  | " + _line("story enriched", story_id="a"),
        "enrich-2  | " + _line("story enriched", story_id="b"),
        "enrich-2  | " + _line("story enriched", story_id="c"),
        "enrich-3  | " + _line("related links", story_id="c"),
        "enrich-3  | not json",
    ]
    assert tally.count_events(lines, "story enriched") == {"enrich-1": 1, "enrich-2": 2}
