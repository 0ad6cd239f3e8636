"""schemathesis over all three services' OpenAPI documents, on real processes: no 5xx anywhere.

Ingest: every media type `POST /v1/stories` documents (JSON, NDJSON, the XML formats, the
text wires), valid and invalid bodies, sent raw. Publish: every editors' operation with a
real editor token, and the Atom feeds. Enrich: its probes. The live feed (`/v1/events`)
is a never-ending stream and is exercised by the browser tests instead.
`NEWSROOM_FUZZ_EXAMPLES` sets examples per operation and media type.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from shared.config import sha256_hex
from shared.connections import RedisClient
from shared.settings import Settings
from shared.streams import Streams, ensure_groups
from tests.helpers.processes import ServiceProcess

pytestmark = pytest.mark.integration

PARTNER_KEY, EDITOR_TOKEN = "key-fuzz-partner", "token-fuzz-editor"
EXAMPLES = int(os.environ.get("NEWSROOM_FUZZ_EXAMPLES", "8"))
RAW_TYPES = (
    "application/x-ndjson", "application/ndjson", "application/jsonl", "application/xml", "text/xml",
    "application/nitf+xml", "application/vnd.iptc.g2.newsitem+xml", "application/vnd.iptc.g2.newsmessage+xml",
    "application/vnd.iptc.g2.packageitem+xml", "application/vnd.iptc.newsml+xml", "application/x-anpa-1312",
    "application/x-iptc-7901", "text/plain",
)  # fmt: skip


@schemathesis.serializer(*RAW_TYPES)
def _raw(ctx: Any, value: Any) -> bytes:
    """These bodies are documented as strings: send the string itself, not schemathesis' XML wrapper."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")


@pytest.fixture
async def running(settings: Settings, redis: RedisClient, service_env: dict[str, str], tmp_path: Path) -> Any:
    settings.config_path.write_text(
        f'[[partners]]\nid = "fuzz"\nkeys_sha256 = ["{sha256_hex(PARTNER_KEY)}"]\n'
        "rate_per_second = 100000.0\nrate_burst = 100000\n\n"
        f'[[editors]]\nid = "desk"\ntoken_sha256 = "{sha256_hex(EDITOR_TOKEN)}"\n\n'
        f'[[outlets]]\nname = "drop"\ntransport = "directory"\npath = "{tmp_path / "drop"}"\n\n'
        '[[outlets]]\nname = "feed"\ntransport = "atom"\nformat = "html"\n'
    )
    await ensure_groups(redis, Streams.for_keys(settings.keys).all())
    env = {**service_env, "NEWSROOM_TAGGING": "false"}
    started = [
        ServiceProcess(name, env, tmp_path).start(wait=False) for name in ("ingest", "enrich", "publish")
    ]
    try:
        for service in started:
            service.wait_ready()
        yield {service.service: service.url for service in started}
    finally:
        for service in started:
            service.stop()


def _exercise(url: str, headers: dict[str, str], skip: frozenset[str] = frozenset()) -> list[str]:
    """Run every operation (and every request media type) of one service; the operations run."""
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    ran = []
    results: list[Any] = list(schema.get_all_operations())  # Ok | Err; .ok() raises on Err
    for result in results:
        operation = result.ok()
        if operation.path in skip:
            continue
        body = operation.definition.raw.get("requestBody", {}).get("content", {})
        for media_type in list(body) or [None]:
            strategy = operation.as_strategy(
                generation_mode=GenerationMode.POSITIVE, media_type=media_type
            ) | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, media_type=media_type)

            @given(case=strategy)
            @hypothesis_settings(
                max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
            )
            def exercise(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=[not_a_server_error])

            exercise()
            ran.append(f"{operation.method.upper()} {operation.path} {media_type or ''}".strip())
    return ran


async def test_schemathesis_finds_no_5xx_on_any_service(running: dict[str, str]) -> None:
    ingest = _exercise(running["ingest"], {"Authorization": f"Bearer {PARTNER_KEY}"})
    publish = _exercise(
        running["publish"], {"Authorization": f"Bearer {EDITOR_TOKEN}"}, frozenset({"/v1/events"})
    )
    enrich = _exercise(running["enrich"], {})
    assert sum("POST /v1/stories " in op for op in ingest) >= 14  # every documented body type
    assert any("/kill" in op for op in publish)
    assert any(op.startswith("GET /feeds/") for op in publish)
    assert "GET /readyz" in enrich
