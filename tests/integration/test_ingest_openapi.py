"""The OpenAPI document against a real uvicorn ingest: real examples, and schemathesis finds no 5xx.

Schemathesis generates requests (valid and invalid) for every documented
operation and checks each answer: no server error, a documented status code,
a documented content type, a body matching its documented schema.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.config import sha256_hex
from shared.connections import RedisClient
from shared.settings import Settings
from shared.streams import Streams, ensure_groups
from tests.helpers.processes import ServiceProcess
from tests.integration.ingest_support import KEY_A1, SCHEMA_DIR

pytestmark = pytest.mark.integration

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture
async def ingest_url(
    settings: Settings, redis: RedisClient, service_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[str]:
    settings.config_path.write_text(
        f'[[partners]]\nid = "alpha"\nkeys_sha256 = ["{sha256_hex(KEY_A1)}"]\n'
        "rate_per_second = 10000.0\nrate_burst = 100000\n"
    )
    await ensure_groups(redis, Streams.for_keys(settings.keys).all())
    env = {**service_env}
    if SCHEMA_DIR.is_dir():
        env["NEWSROOM_NINJS_SCHEMA_DIR"] = str(SCHEMA_DIR)
    service = ServiceProcess("ingest", env, tmp_path).start()
    try:
        yield service.url
    finally:
        service.stop()


async def test_openapi_documents_the_api_with_real_examples(ingest_url: str) -> None:
    async with httpx.AsyncClient(base_url=ingest_url) as client:
        document = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
        post = document["paths"]["/v1/stories"]["post"]
        examples = post["requestBody"]["content"]["application/json"]["examples"]
        answers = [
            await client.post(
                "/v1/stories", json=example["value"], headers={"Authorization": f"Bearer {KEY_A1}"}
            )
            for example in examples.values()
        ]
    assert docs.status_code == 200
    assert {"400", "401", "413", "415", "422", "429", "503"} <= set(post["responses"])
    assert "application/vnd.iptc.g2.newsitem+xml" in post["requestBody"]["content"]
    assert [a.status_code for a in answers] == [202] * len(examples), [a.text for a in answers]


def test_schemathesis_finds_no_server_errors_or_schema_violations(ingest_url: str) -> None:
    schema = schemathesis.openapi.from_url(f"{ingest_url}/openapi.json")
    headers = {"Authorization": f"Bearer {KEY_A1}"}
    # Ingest's own operations; routers mounted by other components are theirs to exercise.
    owned = {"/v1/stories", "/v1/stories/{story_id}", "/healthz", "/readyz"}
    results: list[Any] = list(schema.get_all_operations())  # Ok | Err; .ok() raises on Err
    operations = [op for r in results if (op := r.ok()).path in owned]
    assert {op.path for op in operations} == owned
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def exercise(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        exercise()


async def test_a_real_server_refuses_a_50_mb_body_with_413(ingest_url: str) -> None:
    huge = b'{"uri": "x", "body_html": "' + b"a" * (50 * 1024 * 1024) + b'"}'
    headers = {"Authorization": f"Bearer {KEY_A1}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=ingest_url, timeout=60) as client:
        response = await client.post("/v1/stories", content=huge, headers=headers)
        health = await client.get("/healthz")
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert health.status_code == 200
