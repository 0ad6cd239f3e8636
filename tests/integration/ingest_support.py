"""Shared helpers for the ingest tests: partners, an in-process client, stream reads."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from services.bootstrap import ingest_app as create_app
from shared.config import NewsroomConfig, parse_config, sha256_hex
from shared.connections import RedisClient
from shared.events import StoryReceived
from shared.settings import Settings
from shared.streams import decode_entry
from tests.conftest import SHARED_DATA

KEY_A1, KEY_A2, KEY_B = "key-alpha-one", "key-alpha-two", "key-bravo"
KEY_STRICT = "key-charlie"  # a partner with strict schemas and New Zealand local times
EDITOR_TOKEN = "editor-token"
SIGNING_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SCHEMA_DIR = SHARED_DATA / "iptc" / "ninjs" / "specification"


def partners_config(rate_per_second: float = 1000.0, rate_burst: int = 1000) -> NewsroomConfig:
    return parse_config(
        f"""
[[partners]]
id = "alpha"
keys_sha256 = ["{sha256_hex(KEY_A1)}", "{sha256_hex(KEY_A2)}"]
rate_per_second = {rate_per_second}
rate_burst = {rate_burst}

[[partners]]
id = "bravo"
keys_sha256 = ["{sha256_hex(KEY_B)}"]
webhook_secrets = ["{SIGNING_SECRET}"]

[[partners]]
id = "charlie"
keys_sha256 = ["{sha256_hex(KEY_STRICT)}"]
strict = true
timezone = "Pacific/Auckland"

[[editors]]
id = "desk"
token_sha256 = "{sha256_hex(EDITOR_TOKEN)}"
"""
    )


def ingest_settings(settings: Settings, **overrides: Any) -> Settings:
    schema_dir: Path | None = SCHEMA_DIR if SCHEMA_DIR.is_dir() else None
    return settings.model_copy(update={"ninjs_schema_dir": schema_dir, **overrides})


@asynccontextmanager
async def ingest_client(
    settings: Settings, config: NewsroomConfig | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The real ingest app over HTTP semantics in-process (httpx ASGI transport), real Redis."""
    app: FastAPI = create_app(settings, config or partners_config())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ninjs(uri: str = "urn:test:1", **fields: Any) -> dict[str, Any]:
    return {
        "uri": uri,
        "version": "1",
        "versioncreated": "2024-05-01T10:00:00Z",
        "headlines": [{"role": "main", "value": "Test headline"}],
        "bodies": [{"role": "main", "contenttype": "text/html", "value": "<p>Body</p>"}],
        "language": "en",
        **fields,
    }


def as_json(item: Any) -> dict[str, Any]:
    return {"content": json.dumps(item).encode(), "headers": {"Content-Type": "application/json"}}


async def received(redis: RedisClient, stream: str) -> list[StoryReceived]:
    entries = await redis.xrange(stream)
    return [StoryReceived.model_validate_json(decode_entry(fields)) for _, fields in entries]
