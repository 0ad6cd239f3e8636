"""Ingest HTTP API: authenticate → read → parse → rate-limit → accept onto the received stream.

A partner gets `202` only after its story is on the stream (the XADD inside the
accept script succeeded); Redis trouble is a `503` with `Retry-After` and leaves
nothing behind. Parsing, validation and normalisation live in pure modules
(`formats`, `ninjs`, `newsml`, `nitf`); this module only wires them to HTTP and Redis.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Literal

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
)

from services.enrich.related.api import related_router
from services.ingest import auth, responses
from services.ingest.acceptance import Acceptance, Acceptor, RateLimited
from services.ingest.formats import (
    ACCEPTED_TYPES,
    JSON_TYPES,
    NDJSON_TYPES,
    XML_TYPES,
    UnsupportedType,
    media_type,
    read_items,
)
from services.ingest.items import ItemError, ParsedItem, PayloadError
from services.ingest.ratelimit import RateLimit
from services.ingest.responses import BatchResult, ItemResult, OutletState, StoryStatus
from services.ingest.schemas import NinjsSchemas
from shared import status
from shared.config import NewsroomConfig, Partner, load_config
from shared.connections import RedisClient, discover, make_redis
from shared.events import StoryReceived, utcnow
from shared.logging import get_logger
from shared.metrics import STORIES_RECEIVED
from shared.problems import (
    PROBLEM_JSON,
    Problem,
    broken_redis_connection,
    install_problem_handlers,
    readiness,
)
from shared.settings import Settings
from shared.streams import Streams, backlog, not_ready_reason

log = get_logger(__name__)

_CODES = {"accepted": 202, "duplicate": 200, "superseded": 200, "killed": 409}


class Backlog:
    """The enrich backlog, sampled at most every half second (shared by all requests)."""

    def __init__(self, redis: RedisClient, streams: Streams, limit: int) -> None:
        self.redis, self.streams, self.limit = redis, streams, limit
        self._checked_at = 0.0
        self._size = 0

    async def too_long(self) -> bool:
        now = time.monotonic()
        if now - self._checked_at > 0.5:
            size = 0
            for stream in (self.streams.received, self.streams.received_priority):
                lag, pending = await backlog(self.redis, stream)
                size += lag + pending
            self._size = size
            self._checked_at = now
        return self._size >= self.limit


def _problem_docs(*codes: int) -> dict[int | str, dict[str, Any]]:
    schema = responses.Problem.model_json_schema()
    return {
        code: {"description": f"Problem ({code})", "content": {PROBLEM_JSON: {"schema": schema}}}
        for code in codes
    }


_POST_DOCS: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One ninjs item (1.x/2.x/3.x), a JSON array or NDJSON of items, a NewsML-G2 "
        "newsItem or newsMessage, or an NITF document.",
        "content": {
            **{
                kind: {
                    "schema": {"type": "object", "required": ["uri"], "additionalProperties": True},
                    "examples": {
                        "ninjs2": {"value": responses.NINJS_EXAMPLE},
                        "ninjs3": {"value": responses.NINJS3_EXAMPLE},
                    },
                }
                for kind in sorted(JSON_TYPES)
            },
            **{
                kind: {"schema": {"type": "string"}, "example": responses.NDJSON_EXAMPLE}
                for kind in sorted(NDJSON_TYPES)
            },
            **{
                kind: {"schema": {"type": "string"}, "example": responses.NEWSML_EXAMPLE}
                for kind in sorted(XML_TYPES)
            },
        },
    }
}


def create_app(settings: Settings | None = None, config: NewsroomConfig | None = None) -> FastAPI:
    settings = settings or Settings()
    config = config or load_config(settings.config_path)
    redis = make_redis(settings)
    keys = settings.keys
    streams = Streams.for_keys(keys)
    shedder = Backlog(redis, streams, settings.backlog_limit)
    acceptor = Acceptor(redis, keys)
    schemas = NinjsSchemas.load(settings.ninjs_schema_dir)
    retry_after = {"Retry-After": str(settings.retry_after_seconds)}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            await discover(redis)
        except Exception as exc:  # Redis down at start: serve, and answer 503 until it is back
            log.warning("redis not reachable at startup", error=repr(exc))
        yield
        await redis.aclose()

    app = FastAPI(
        title="Newsroom ingest",
        version="1",
        lifespan=lifespan,
        description="Authenticated push ingest for wire partners: ninjs 1.x/2.x/3.x, NewsML-G2, NITF.",
    )
    install_problem_handlers(app, settings.retry_after_seconds)
    app.mount("/metrics", make_asgi_app())

    def unauthenticated(detail: str) -> Problem:
        return Problem(
            401,
            "unauthenticated",
            "Not authenticated",
            detail,
            headers={"WWW-Authenticate": 'Bearer realm="ingest"'},
        )

    def unavailable(detail: str) -> Problem:
        return Problem(503, "redis-unavailable", "Storage unavailable", detail, headers=retry_after)

    async def read_body(request: Request) -> bytes:
        limit = settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        too_large = Problem(
            413, "too-large", "Body too large", f"The body exceeds the limit of {limit} bytes."
        )
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_large
        return bytes(body)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        return readiness(await not_ready_reason(redis, streams.all()))

    @app.post(
        "/v1/stories",
        status_code=202,
        summary="Push one story or a batch",
        response_model=ItemResult,
        responses={
            200: {
                "description": "Duplicate or superseded version (nothing forwarded), or a batch "
                "with one result per item.",
                "content": {
                    "application/json": {
                        "schema": {
                            "anyOf": [
                                {"$ref": "#/components/schemas/ItemResult"},
                                {"$ref": "#/components/schemas/BatchResult"},
                            ]
                        }
                    }
                },
            },
            202: {
                "description": "Accepted: the story is durably on the received stream.",
                "content": {"application/json": {"example": responses.ACCEPTED_EXAMPLE}},
            },
            **_problem_docs(400, 401, 409, 413, 415, 422, 429, 503),
        },
        openapi_extra=_POST_DOCS,
    )
    async def post_story(request: Request) -> JSONResponse:
        token = auth.bearer_token(request.headers)
        partner: Partner | None = None
        if token is not None:
            partner = config.partner_for_key(token)
            if partner is None:
                raise unauthenticated("The API key is not valid for any partner.")
        elif not auth.is_signed(request.headers):
            raise unauthenticated(
                "Send 'Authorization: Bearer <API key>' or sign the request with Standard Webhooks "
                "headers (webhook-id, webhook-timestamp, webhook-signature)."
            )
        kind, _ = media_type(request.headers.get("content-type"))
        if kind not in ACCEPTED_TYPES:  # before reading the body: no point receiving it
            raise _unsupported(kind)
        body = await read_body(request)
        if partner is None:
            partner = auth.partner_by_signature(config, body, request.headers)
            if partner is None:
                raise unauthenticated("The Standard Webhooks signature matches no partner's secret.")
        try:
            parsed = read_items(
                body, request.headers.get("content-type"), partner.id, schemas, settings.max_original_bytes
            )
        except UnsupportedType as exc:
            raise _unsupported(str(exc)) from None
        except PayloadError as exc:
            log.info("payload refused", partner=partner.id, problem=exc.slug, where=exc.where)
            raise Problem(400, exc.slug, exc.title, exc.detail, pointer=exc.where) from None
        except ItemError as exc:
            STORIES_RECEIVED.labels(partner.id, "invalid").inc()
            log.info("item refused", partner=partner.id, pointer=exc.where)
            raise _invalid(exc) from None
        if not parsed.batch and parsed.items[0].error is not None:
            STORIES_RECEIVED.labels(partner.id, "invalid").inc()
            log.info("item refused", partner=partner.id, pointer=parsed.items[0].error.where)
            raise _invalid(parsed.items[0].error)

        trace_id = _trace_id(request.headers.get("x-trace-id"))
        received_at = utcnow()
        events = [
            StoryReceived(
                story_id=item.story.id,
                # One request, one trace; batch items get their own so each story is followable.
                trace_id=trace_id if not parsed.batch else uuid.uuid4().hex,
                received_at=received_at,
                story=item.story,
                source_format=item.source_format,
                original=item.original.decode("utf-8", "replace"),
            )
            for item in parsed.items
            if item.story is not None
        ]
        limit = RateLimit(
            partner.rate_per_second or settings.rate_per_second, partner.rate_burst or settings.rate_burst
        )
        try:
            if events and await shedder.too_long():
                raise Problem(
                    503,
                    "backlog",
                    "Pipeline backlog full",
                    "Enrich is behind; nothing was stored. Retry later.",
                    headers=retry_after,
                )
            outcome = await acceptor.accept(partner.id, events, limit)
        except (RedisError, RedisClusterException, OSError, TypeError, AttributeError) as exc:
            if not _is_outage(exc):
                raise
            log.warning("nothing stored: redis unavailable", error=repr(exc))
            raise unavailable("Redis cannot be reached; nothing was stored. Retry later.") from None
        if isinstance(outcome, RateLimited):
            raise Problem(
                429,
                "rate-limited",
                "Too many requests",
                f"Partner {partner.id!r} is over its rate limit; nothing was stored. "
                f"Retry after {outcome.retry_after_seconds} s.",
                headers={"Retry-After": str(outcome.retry_after_seconds)},
            )
        accepted = iter(zip(events, outcome, strict=True))
        pending = []
        for item in parsed.items:
            if item.story is None:
                pending.append(_settled(_not_ingested(item)))
            else:
                event, acceptance = next(accepted)
                pending.append(_after_accept(item, event, acceptance, partner))
        # The stories are already on the stream; their status records go out together.
        results = list(await asyncio.gather(*pending))
        if parsed.batch:
            for index, result in enumerate(results):
                result.index = index
        if not parsed.batch:
            only = results[0]
            if only.code == 409:
                raise Problem(
                    409,
                    "killed",
                    "Item was killed",
                    f"Item {only.uri!r} was canceled (killed) at version {only.current_version}; "
                    "a kill is final and no later version is accepted.",
                    pointer="/uri",
                    id=only.id,
                    current_version=only.current_version,
                )
            return JSONResponse(only.model_dump(exclude_none=True), status_code=only.code)
        counts: dict[str, int] = {}
        for r in results:
            counts[r.status] = counts.get(r.status, 0) + 1
        batch = BatchResult(items=results, counts=counts)
        return JSONResponse(batch.model_dump(exclude_none=True), status_code=200)

    async def _after_accept(
        item: ParsedItem, event: StoryReceived, result: Acceptance, partner: Partner
    ) -> ItemResult:
        story = event.story
        with structlog.contextvars.bound_contextvars(story_id=story.id, trace_id=event.trace_id):
            STORIES_RECEIVED.labels(partner.id, result.outcome).inc()
            answer = ItemResult(
                status=result.outcome,
                code=_CODES[result.outcome],
                id=story.id,
                uri=story.uri,
                version=story.version,
                format=item.source_format,
            )
            if result.outcome != "accepted":
                log.info("story not forwarded", outcome=result.outcome, version=story.version)
                return answer.model_copy(update={"current_version": result.current_version})
            await _record_received(story.id, partner.id, event, result)
            log.info("story accepted", version=story.version, received_as=result.received_as)
            return answer.model_copy(
                update={
                    "received_as": result.received_as,
                    "entry_id": result.entry_id,
                    "trace_id": event.trace_id,
                }
            )

    async def _record_received(
        story_id: str, partner_id: str, event: StoryReceived, result: Acceptance
    ) -> None:
        story = event.story
        fields: dict[str, Any] = {
            "partner": partner_id,
            "uri": story.uri,
            "version": story.version,
            "headline": story.headline,
            "trace_id": event.trace_id,
            "stage": "received",
            "received_as": result.received_as or "new",
            "pubstatus": story.pubstatus,
            "format": event.source_format,
        }
        if story.embargoed:
            fields["embargoed"] = story.embargoed.isoformat()
        if story.expires:
            fields["expires"] = story.expires.isoformat()
        try:
            await status.record(redis, keys, story_id, "received", fields, service="ingest")
        except (RedisError, RedisClusterException, OSError, TypeError, AttributeError) as exc:
            if isinstance(exc, TypeError | AttributeError) and not broken_redis_connection(exc):
                raise
            # The story is already durably on the stream; enrich records its own status.
            log.warning("status not recorded", error=repr(exc))

    @app.get(
        "/v1/stories/{story_id}",
        response_model=StoryStatus,
        summary="Where a story is in the pipeline",
        responses=_problem_docs(401, 404, 503),
    )
    async def get_story(story_id: str, request: Request) -> StoryStatus:
        token = auth.bearer_token(request.headers)
        caller = auth.reader(config, token) if token else None
        if caller is None:
            raise unauthenticated("Send 'Authorization: Bearer <partner API key or editor token>'.")
        not_found = Problem(
            404, "not-found", "No such story", f"No story {story_id!r} is visible to this caller."
        )
        found = await status.read(redis, keys, story_id)
        # Whose story it is comes from the owner recorded with it, never from how its id is spelt.
        if found is None or not auth.may_read(caller, found["status"].get("partner")):
            raise not_found
        return _story_status(story_id, found["status"], found["timeline"])

    app.include_router(related_router(settings, config, redis))
    return app


_TRACE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def _trace_id(offered: str | None) -> str:
    """The caller's trace id when it is a sane token, else a fresh one (it goes into every log line)."""
    return offered if offered and _TRACE_ID.match(offered) else uuid.uuid4().hex


def _unsupported(kind: str) -> Problem:
    return Problem(
        415,
        "unsupported-media-type",
        "Unsupported content type",
        f"{kind or 'no content type'} is not accepted; send one of {', '.join(ACCEPTED_TYPES)}.",
        headers={"Accept-Post": ", ".join(ACCEPTED_TYPES)},
    )


async def _settled(result: ItemResult) -> ItemResult:
    return result


def _not_ingested(item: ParsedItem) -> ItemResult:
    if item.skipped is not None:
        return ItemResult(status="skipped", code=200, format=item.source_format, detail=item.skipped)
    problem = _invalid(item.error or ItemError("/", "no story"))
    return ItemResult(
        status="invalid",
        code=422,
        format=item.source_format,
        problem=responses.Problem.model_validate(problem.body()),
    )


def _is_outage(exc: BaseException) -> bool:
    """Redis (or a cluster slot) is unreachable or not serving: retryable, answered 503.

    Any other Redis error reply is a bug in our commands and must not pass as an outage.
    """
    if isinstance(exc, ClusterDownError | TryAgainError | BusyLoadingError):
        return True
    if isinstance(exc, TypeError | AttributeError):
        return broken_redis_connection(exc)
    return not isinstance(exc, ResponseError)


def _invalid(error: ItemError) -> Problem:
    return Problem(
        422,
        "invalid-item",
        "Item is not acceptable",
        f"{error.where}: {error.detail}",
        pointer=error.where,
    )


def _iso(value: Any) -> str | None:
    try:
        return datetime.fromtimestamp(float(value), UTC).isoformat()
    except (TypeError, ValueError):
        return None


def _story_status(story_id: str, fields: dict[str, str], timeline: list[dict[str, Any]]) -> StoryStatus:
    """The status hash and timeline (written by all three services) as the partner sees them.

    Per outlet: publish's `routed` event says which outlets got a delivery queued or
    skipped (and why); each `delivery:<outlet>` event carries the attempt's result.
    """
    outlets: dict[str, OutletState] = {}
    events = []
    for entry in timeline:
        at = _iso(entry.get("at"))
        events.append({**entry, "at": at})
        event = str(entry.get("event", ""))
        if event == "routed" and isinstance(entry.get("routing"), list):
            for route in entry["routing"]:
                if isinstance(route, dict) and route.get("outlet"):
                    skipped = route.get("decision") == "skip"
                    state = "skipped" if skipped else "queued"
                    outlets[str(route["outlet"])] = OutletState(state=state, at=at, detail=route)
        elif event.startswith("delivery:") and str(entry.get("result")) in _DELIVERY_STATES:
            detail = {k: v for k, v in entry.items() if k not in ("at", "event", "service") and v is not None}
            state = _DELIVERY_STATES[str(entry["result"])]
            outlets[event.removeprefix("delivery:")] = OutletState(state=state, at=at, detail=detail)
    version = fields.get("version")
    return StoryStatus(
        id=story_id,
        partner=fields.get("partner"),
        uri=fields.get("uri"),
        version=int(version) if version and version.isdigit() else None,
        headline=fields.get("headline"),
        stage=fields.get("stage"),
        received_as=fields.get("received_as"),
        received_at=_iso(fields.get("received_at")),
        enriched_at=_iso(fields.get("enriched_at")),
        updated_at=_iso(fields.get("updated_at")),
        outlets=outlets,
        timeline=events,
    )


_DELIVERY_STATES: dict[str, Literal["retrying", "delivered", "failed", "canceled"]] = {
    "delivered": "delivered",
    "retrying": "retrying",
    "failed": "failed",
    "canceled": "canceled",
}
