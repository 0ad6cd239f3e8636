"""Ingest HTTP API: authenticate → read → parse → accept onto the received stream.

A partner gets `202` only after its story is on the stream (the XADD inside the
accept script succeeded); Redis trouble is a `503` with `Retry-After` and leaves
nothing behind.
"""

import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app

from services.ingest.acceptance import accept
from services.ingest.ninjs import ItemError, story_from_ninjs
from shared import status
from shared.config import NewsroomConfig, Partner, load_config
from shared.connections import RedisClient, make_redis
from shared.events import StoryReceived, utcnow
from shared.logging import get_logger
from shared.metrics import STORIES_RECEIVED
from shared.problems import Problem, install_problem_handlers
from shared.settings import Settings
from shared.streams import Streams, backlog, groups_present

log = get_logger(__name__)


class Backlog:
    """The enrich backlog, sampled at most every half second (shared by all requests)."""

    def __init__(self, redis: RedisClient, streams: Streams, limit: int) -> None:
        self.redis, self.streams, self.limit = redis, streams, limit
        self._checked_at = 0.0
        self._size = 0

    async def too_long(self) -> bool:
        now = time.monotonic()
        if now - self._checked_at > 0.5:
            lag, pending = await backlog(self.redis, self.streams.received)
            self._size = lag + pending
            self._checked_at = now
        return self._size >= self.limit


def create_app(settings: Settings | None = None, config: NewsroomConfig | None = None) -> FastAPI:
    settings = settings or Settings()
    config = config or load_config(settings.config_path)
    redis = make_redis(settings)
    keys = settings.keys
    streams = Streams.for_keys(keys)
    shedder = Backlog(redis, streams, settings.backlog_limit)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await redis.aclose()

    app = FastAPI(title="Newsroom ingest", version="1", lifespan=lifespan)
    install_problem_handlers(app, settings.retry_after_seconds)
    app.mount("/metrics", make_asgi_app())

    def authenticated_partner(request: Request) -> Partner:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise Problem(
                401,
                "unauthenticated",
                "Missing API key",
                "Send 'Authorization: Bearer <your partner API key>'.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        partner = config.partner_for_key(key.strip())
        if partner is None:
            raise Problem(
                401,
                "unauthenticated",
                "Unknown API key",
                "The API key is not valid for any partner.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return partner

    PartnerDep = Annotated[Partner, Depends(authenticated_partner)]

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        try:
            await redis.ping()
            ready = await groups_present(redis, streams.all())
        except Exception as exc:
            return JSONResponse({"status": "not ready", "reason": repr(exc)}, status_code=503)
        if not ready:
            return JSONResponse({"status": "not ready", "reason": "consumer groups missing"}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.post("/v1/stories", status_code=202)
    async def post_story(request: Request, partner: PartnerDep) -> JSONResponse:
        body = await request.body()
        if len(body) > settings.max_body_bytes:
            raise Problem(
                413,
                "too-large",
                "Body too large",
                f"{len(body)} bytes; the limit is {settings.max_body_bytes}.",
            )
        try:
            item = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Problem(400, "invalid-json", "Body is not valid JSON", str(exc)) from None
        try:
            story = story_from_ninjs(item, partner.id)
        except ItemError as exc:
            STORIES_RECEIVED.labels(partner.id, "invalid").inc()
            raise Problem(
                422,
                "invalid-item",
                "Item does not satisfy ninjs",
                f"{exc.pointer}: {exc.detail}",
                pointer=exc.pointer,
            ) from None
        if await shedder.too_long():
            raise Problem(
                503,
                "backlog",
                "Pipeline backlog full",
                "Enrich is behind; nothing was stored. Retry later.",
                headers={"Retry-After": str(settings.retry_after_seconds)},
            )
        trace_id = request.headers.get("x-trace-id") or uuid.uuid4().hex
        event = StoryReceived(
            story_id=story.id,
            trace_id=trace_id,
            received_at=utcnow(),
            received_as="kill" if story.pubstatus == "canceled" else "new",
            story=story,
            source_format="ninjs2",
            original=body[: settings.max_original_bytes].decode("utf-8", "replace"),
        )
        result = await accept(redis, keys, event)
        structlog.contextvars.bind_contextvars(story_id=story.id, trace_id=trace_id)
        STORIES_RECEIVED.labels(partner.id, result.outcome).inc()
        answer: dict[str, Any] = {
            "id": story.id,
            "uri": story.uri,
            "version": story.version,
            "status": result.outcome,
        }
        if result.outcome != "accepted":
            log.info("story not forwarded", outcome=result.outcome)
            answer["current_version"] = result.current_version
            code = 409 if result.outcome == "killed" else 200
            return JSONResponse(answer, status_code=code)
        answer["entry_id"] = result.entry_id
        answer["trace_id"] = trace_id
        await status.record(
            redis,
            keys,
            story.id,
            "received",
            {
                "partner": partner.id,
                "uri": story.uri,
                "version": story.version,
                "headline": story.headline,
                "trace_id": trace_id,
                "stage": "received",
            },
            service="ingest",
        )
        log.info("story accepted", version=story.version, entry_id=result.entry_id)
        return JSONResponse(answer, status_code=202)

    @app.get("/v1/stories/{story_id}")
    async def get_story(story_id: str, partner: PartnerDep) -> dict[str, Any]:
        if not story_id.startswith(partner.id + "-"):
            raise Problem(
                404,
                "not-found",
                "No such story",
                f"No story {story_id!r} among partner {partner.id!r}'s items.",
            )
        found = await status.read(redis, keys, story_id)
        if found is None:
            raise Problem(404, "not-found", "No such story", f"No story {story_id!r}.")
        return {"id": story_id, **found}

    return app
