"""A client that sends a whole oversized body before reading still reads the 413 (real uvicorn)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.config import sha256_hex
from shared.connections import RedisClient
from shared.settings import Settings
from shared.streams import Streams, ensure_groups
from tests.helpers.processes import ServiceProcess
from tests.integration.ingest_support import KEY_A1

pytestmark = pytest.mark.integration


@pytest.fixture
async def ingest_url(
    settings: Settings, redis: RedisClient, service_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[str]:
    settings.config_path.write_text(f'[[partners]]\nid = "alpha"\nkeys_sha256 = ["{sha256_hex(KEY_A1)}"]\n')
    await ensure_groups(redis, Streams.for_keys(settings.keys).all())
    service = ServiceProcess("ingest", {**service_env}, tmp_path).start()
    try:
        yield service.url
    finally:
        service.stop()


def _post_whole_body(url: str, body: bytes, chunked: bool) -> tuple[int, str, dict[str, object]]:
    # urllib writes the whole body before it reads anything (no Expect: 100-continue), like requests.
    headers = {"Authorization": f"Bearer {KEY_A1}", "Content-Type": "application/json"}
    data: bytes | list[bytes] = body
    if chunked:  # no Content-Length: the limit is found while reading
        headers["Transfer-Encoding"] = "chunked"
        data = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    request = urllib.request.Request(f"{url}/v1/stories", data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.headers["content-type"], json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers["content-type"], json.loads(refused.read())


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_50_mb_body_sent_without_waiting_gets_the_413_problem(ingest_url: str, chunked: bool) -> None:
    body = b'{"uri": "urn:big", "body_text": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    status, content_type, problem = await asyncio.to_thread(_post_whole_body, ingest_url, body, chunked)
    assert status == 413
    assert content_type == "application/problem+json"
    assert str(problem["type"]).endswith("/too-large")
    assert problem["status"] == 413
