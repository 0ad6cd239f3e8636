"""Ingest HTTP API: authenticate → read → parse → rate-limit → accept onto the received stream.

A partner gets `202` only after its story is on the stream (the XADD inside the
accept script succeeded); Redis trouble is a `503` with `Retry-After` and leaves
nothing behind. Parsing, validation and normalisation live in pure modules
(`formats`, `ninjs`, `newsml`, `nitf`); this module only wires them to HTTP and Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
)

from services.ingest import answers, responses
from services.ingest.acceptance import Acceptor, Contended, RateLimited
from services.ingest.formats import JSON_TYPES, NDJSON_TYPES, WIRE_TYPES, XML_TYPES
from services.ingest.intake import REALM, Intake, take_in
from services.ingest.kills import kill_consumer
from services.ingest.offload import BodyReader
from services.ingest.ratelimit import RateLimit
from services.ingest.responses import ItemResult, OutletState, StoryStatus
from services.ingest.schemas import NinjsSchemas
from shared import auth, status
from shared.config import NewsroomConfig, load_config
from shared.connections import RedisClient, discover, make_broker, make_redis
from shared.events import IngestWarning
from shared.heap import settle_start_up_heap
from shared.keys import Keys
from shared.logging import get_logger
from shared.metrics import metrics_listener, mount_metrics
from shared.problems import (
    PROBLEM_JSON,
    Problem,
    broken_redis_connection,
    install_problem_handlers,
    readiness,
)
from shared.settings import Settings
from shared.streams import Stream, Streams, backlog, ensure_groups, not_ready_reason

log = get_logger(__name__)
RouterFactory = Callable[[Settings, NewsroomConfig, RedisClient], APIRouter]
"""Routes another service serves on this API (wired in by services/bootstrap.py)."""


class Backlog:
    """Each partner's enrich backlog (its lane), sampled at most every `SAMPLE_SECONDS`.

    A partner is shed when its own lane holds its share of `backlog_limit` (the limit
    divided among the partners), so one partner's flood never makes ingest refuse another.
    """

    SAMPLE_SECONDS = 0.5  # a backlog read per partner per half second, not per POST

    def __init__(
        self,
        redis: RedisClient,
        keys: Keys,
        limit: int,
        partners: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis, self.keys, self.clock = redis, keys, clock
        self.share = max(1, limit // max(1, partners))
        self._sampled: dict[str, tuple[float, int]] = {}

    async def too_long(self, partner: str) -> bool:
        now = self.clock()
        at, size = self._sampled.get(partner, (-math.inf, 0))
        if now - at > self.SAMPLE_SECONDS:
            lag, pending = await backlog(self.redis, Stream(self.keys.received_lane(partner), "enrich"))
            size = lag + pending
            self._sampled[partner] = (now, size)
        return size >= self.share


def _problem_docs(*codes: int) -> dict[int | str, dict[str, Any]]:
    schema = responses.ProblemDetails.model_json_schema()
    return {
        code: {"description": f"Problem ({code})", "content": {PROBLEM_JSON: {"schema": schema}}}
        for code in codes
    }


_POST_DOCS: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One ninjs item (1.x/2.x/3.x), a JSON array or NDJSON of items, a NewsML-G2 "
        "news/package item or newsMessage, an NITF or NewsML 1.2 document, or an ANPA 1312 / IPTC 7901 "
        "wire text.",
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
            **{
                kind: {"schema": {"type": "string"}, "example": responses.IPTC7901_EXAMPLE}
                for kind in sorted(WIRE_TYPES)
            },
        },
    }
}


def create_app(
    settings: Settings | None = None,
    config: NewsroomConfig | None = None,
    routers: Sequence[RouterFactory] = (),
) -> FastAPI:
    settings = settings or Settings()
    config = config or load_config(settings.config_path)
    redis = make_redis(settings)
    keys = settings.keys
    streams = Streams.for_keys(keys)
    shedder = Backlog(redis, keys, settings.backlog_limit, len(config.partners))
    acceptor = Acceptor(redis, keys)
    batch_turns = asyncio.Lock()
    reader = BodyReader(
        NinjsSchemas.load(settings.ninjs_schema_dir),
        settings.ninjs_schema_dir,
        settings.parse_processes,
        settings.retry_after_seconds,
    )
    retry_after = {"Retry-After": str(settings.retry_after_seconds)}
    broker = make_broker(settings)
    kill_consumer(broker, redis, settings, acceptor).attach()

    async def start_kill_consumer() -> None:
        """Editors' kills are handled once Redis answers; until then they wait on their stream."""
        while True:
            try:
                await discover(redis)
                await ensure_groups(redis, [streams.kill_requested])
                await broker.start()
                return
            except Exception as exc:  # Redis down at start: serve, and answer 503 until it is back
                log.warning("redis not reachable at startup", error=repr(exc))
                await asyncio.sleep(1.0)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Discovery before the first request: partners' concurrent posts racing into a
        # cluster client's first-use discovery fail inside redis-py (see discover()).
        try:
            await discover(redis)
        except Exception as exc:  # Redis down at start: serve, and answer 503 until it is back
            log.warning("redis not reachable at startup", error=repr(exc))
        starting = asyncio.create_task(start_kill_consumer())
        settle_start_up_heap()
        with metrics_listener(settings.metrics_port, settings.metrics_host):
            yield
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        await broker.stop()
        await redis.aclose()
        reader.close()

    app = FastAPI(
        title="Newsroom ingest",
        version="1",
        lifespan=lifespan,
        description="Authenticated push ingest for wire partners: ninjs 1.x/2.x/3.x, NewsML-G2, NITF, "
        "NewsML 1.2, ANPA 1312, IPTC 7901.",
    )
    install_problem_handlers(app, settings.retry_after_seconds)
    mount_metrics(app, settings.metrics_port)

    def unavailable(detail: str) -> Problem:
        return Problem(503, "redis-unavailable", "Storage unavailable", detail, headers=retry_after)

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
        intake = await take_in(request, config, settings, reader)
        # Batches take turns through accepting and answering (CPU on the loop, in slices), so
        # at most one batch's slice is ever ahead of a single story or /healthz.
        async with batch_turns if len(intake.events) > 1 else contextlib.nullcontext():
            return await accept_and_answer(intake)

    async def accept_and_answer(intake: Intake) -> JSONResponse:
        partner, events = intake.partner, intake.events
        limit = RateLimit(
            partner.rate_per_second or settings.rate_per_second, partner.rate_burst or settings.rate_burst
        )
        try:
            if events and await shedder.too_long(partner.id):
                raise Problem(
                    503,
                    "backlog",
                    "Pipeline backlog full",
                    f"Enrich is {shedder.share} or more stories behind on partner {partner.id!r}'s "
                    "stories (its share of the backlog); nothing was stored. Retry later.",
                    headers=retry_after,
                )
            outcome = await acceptor.accept(partner.id, events, limit, intake.payloads)
        except Contended:
            raise Problem(
                503,
                "contended",
                "Items changing concurrently",
                "Other requests for the same items kept changing them; nothing was stored. Retry.",
                headers=retry_after,
            ) from None
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
        results = await answers.item_results(redis, keys, partner.id, intake.parsed, events, outcome)
        if intake.parsed.batch:
            return JSONResponse(answers.batch_result(results).model_dump(exclude_none=True), status_code=200)
        only = results[0]
        if only.code == 409:
            raise answers.killed_problem(only)
        return JSONResponse(only.model_dump(exclude_none=True), status_code=only.code)

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
            raise auth.unauthenticated(auth.READER_HINT, REALM)
        not_found = Problem(
            404, "not-found", "No such story", f"No story {story_id!r} is visible to this caller."
        )
        found = await status.read(redis, keys, story_id)
        # Whose story it is comes from the owner recorded with it, never from how its id is spelt.
        if found is None or not auth.may_read(caller, found["status"].get("partner")):
            raise not_found
        return _story_status(story_id, found["status"], found["timeline"])

    for router in routers:
        app.include_router(router(settings, config, redis))
    return app


def _is_outage(exc: BaseException) -> bool:
    """Redis (or a cluster slot) is unreachable or not serving: retryable, answered 503.

    Any other Redis error reply is a bug in our commands and must not pass as an outage.
    """
    if isinstance(exc, ClusterDownError | TryAgainError | BusyLoadingError):
        return True
    if isinstance(exc, TypeError | AttributeError):
        return broken_redis_connection(exc)
    return not isinstance(exc, ResponseError)


def _iso(value: Any) -> str | None:
    try:
        return datetime.fromtimestamp(float(value), UTC).isoformat()
    except (TypeError, ValueError):
        return None


def _warnings(raw: str | None) -> list[IngestWarning]:
    try:
        return [IngestWarning.model_validate(w) for w in json.loads(raw or "[]")]
    except (ValueError, TypeError):
        return []


def _story_status(story_id: str, fields: dict[str, str], timeline: list[dict[str, Any]]) -> StoryStatus:
    """The status hash and timeline (written by all three services) as the partner sees them."""
    outlets = {
        name: OutletState(state=view.state, at=_iso(view.at), detail=view.detail)
        for name, view in status.outlet_states(timeline).items()
    }
    version = fields.get("version")
    return StoryStatus(
        id=story_id,
        partner=fields.get("partner"),
        uri=fields.get("uri"),
        version=int(version) if version and version.isdigit() else None,
        headline=fields.get("headline"),
        stage=fields.get("stage"),
        warnings=_warnings(fields.get("warnings")),
        received_as=fields.get("received_as"),
        received_at=_iso(fields.get("received_at")),
        enriched_at=_iso(fields.get("enriched_at")),
        updated_at=_iso(fields.get("updated_at")),
        outlets=outlets,
        timeline=[{**entry, "at": _iso(entry.get("at"))} for entry in timeline],
    )
