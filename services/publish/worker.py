"""Publish worker wiring: on story enriched → format → deliver to each outlet.

Each outlet's successful delivery of a version is recorded before the entry is
acknowledged, so a redelivered entry skips outlets that already have it and
retries only the ones that failed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import httpx
import structlog
from fastapi import FastAPI

from services.publish.formats import event_type, to_ninjs
from shared import status
from shared.config import NewsroomConfig, Outlet, load_config
from shared.connections import make_broker, make_redis
from shared.consuming import Entry, StreamConsumer
from shared.events import StoryEnriched
from shared.logging import get_logger
from shared.metrics import DELIVERIES, END_TO_END_SECONDS
from shared.settings import Settings
from shared.streams import Streams
from shared.webhooks import signature_headers
from shared.worker_app import worker_app

log = get_logger(__name__)


class DeliveryError(Exception):
    pass


def delivery_id(outlet: str, enriched: StoryEnriched) -> str:
    """Webhook id: the same on every retry of one version, different between versions."""
    return f"msg_{enriched.story_id}_v{enriched.story.version}_{enriched.received_as}_{outlet}"


def create_app(settings: Settings | None = None, config: NewsroomConfig | None = None) -> FastAPI:
    settings = settings or Settings()
    config = config or load_config(settings.config_path)
    keys = settings.keys
    streams = Streams.for_keys(keys)
    redis = make_redis(settings)
    broker = make_broker(settings)
    http = httpx.AsyncClient(timeout=settings.outlet_timeout_seconds, follow_redirects=False)

    async def deliver(outlet: Outlet, enriched: StoryEnriched) -> None:
        msg_id = delivery_id(outlet.name, enriched)
        delivered_key = keys.outlet(outlet.name, "delivered")
        if await redis.hexists(delivered_key, msg_id):
            return
        now = datetime.now(UTC)
        body = json.dumps(
            {
                "type": event_type(enriched),
                "timestamp": now.isoformat(),
                "data": {
                    "item": to_ninjs(enriched),
                    "story_id": enriched.story_id,
                    "age_label": enriched.enrichment.age_label,
                    "flags": enriched.enrichment.flags,
                },
            }
        ).encode()
        headers = signature_headers(outlet.signing_secrets(), msg_id, now, body)
        headers["content-type"] = "application/json"
        try:
            response = await http.post(outlet.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            DELIVERIES.labels(outlet.name, "error").inc()
            raise DeliveryError(f"{outlet.name}: {exc!r}") from exc
        DELIVERIES.labels(outlet.name, str(response.status_code)).inc()
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"{outlet.name}: HTTP {response.status_code}")
        await redis.hset(delivered_key, msg_id, now.isoformat())
        END_TO_END_SECONDS.observe((now - enriched.received_at).total_seconds())
        await status.record(
            redis,
            keys,
            enriched.story_id,
            f"delivered:{outlet.name}",
            {
                "outlet": outlet.name,
                "version": enriched.story.version,
                "status_code": response.status_code,
                "stage": "delivered",
            },
            service="publish",
        )
        log.info("story delivered", outlet=outlet.name, webhook_id=msg_id)

    async def on_story_enriched(
        entries: Sequence[Entry[StoryEnriched]],
    ) -> Mapping[str, BaseException]:
        failed: dict[str, BaseException] = {}
        for entry in entries:
            enriched = entry.event
            structlog.contextvars.bind_contextvars(story_id=enriched.story_id, trace_id=enriched.trace_id)
            errors = []
            for outlet in config.outlets:
                try:
                    await deliver(outlet, enriched)
                except Exception as exc:
                    log.warning("delivery failed", outlet=outlet.name, error=repr(exc))
                    errors.append(repr(exc))
            if errors:
                failed[entry.entry_id] = DeliveryError("; ".join(errors))
            structlog.contextvars.unbind_contextvars("story_id", "trace_id")
        return failed

    StreamConsumer(
        broker=broker,
        redis=redis,
        settings=settings,
        stream=streams.enriched,
        model=StoryEnriched,
        handle=on_story_enriched,
    ).attach()

    async def close_http() -> None:
        await http.aclose()

    return worker_app(
        title="Newsroom publish",
        settings=settings,
        broker=broker,
        redis=redis,
        streams=[streams.enriched],
        on_stop=close_http,
    )
