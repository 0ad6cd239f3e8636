"""`GET /v1/stories/{id}/related?k=`: editors' "what else do we have on this?".

Served by the ingest HTTP API beside `GET /v1/stories/{id}` and authenticated the
same way: a partner sees only its own stories (the story asked about and the
links offered), an editor sees everything. Ranks the whole index, earlier and
later stories, with each link's reason; near-duplicates are listed separately.
"""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from redis.exceptions import RedisError

from services.enrich.related.features import IndexEntry
from services.enrich.related.linker import configured_linker
from shared import auth
from shared.config import NewsroomConfig
from shared.connections import RedisClient
from shared.events import RelatedLink, utcnow
from shared.logging import get_logger
from shared.problems import Problem
from shared.settings import Settings

log = get_logger(__name__)

MAX_K = 50


class RelatedStories(BaseModel):
    id: str
    k: int
    related: list[RelatedLink]
    duplicates: list[RelatedLink]


def related_router(
    settings: Settings,
    config: NewsroomConfig,
    redis: RedisClient,
) -> APIRouter:
    linker = configured_linker(redis, settings)
    router = APIRouter()

    @router.get(
        "/v1/stories/{story_id}/related",
        response_model=RelatedStories,
        summary="Related stories across the whole index, with reasons",
    )
    async def get_related(
        story_id: str,
        request: Request,
        k: int = Query(settings.related_k, ge=1, le=MAX_K, description="How many links."),
    ) -> RelatedStories:
        token = auth.bearer_token(request.headers)
        caller = auth.reader(config, token) if token else None
        if caller is None:
            raise auth.unauthenticated(auth.READER_HINT, realm="ingest")

        def visible(entry: IndexEntry) -> bool:
            return auth.may_read(caller, entry.partner)

        not_found = Problem(
            404,
            "not-found",
            "No such story in the related index",
            f"No story {story_id!r} visible to this caller is indexed (unknown, killed, expired, "
            "or not enriched yet).",
        )
        try:
            links = await linker.related_to(story_id, k, now=utcnow(), visible=visible)
        except RedisError as exc:
            log.warning("related lookup failed", story_id=story_id, error=repr(exc))
            raise Problem(
                503,
                "redis-unavailable",
                "Storage unavailable",
                "The related index cannot be read; retry later.",
                headers={"Retry-After": str(settings.retry_after_seconds)},
            ) from None
        if links is None:
            raise not_found
        return RelatedStories(id=story_id, k=k, related=links.related, duplicates=links.duplicates)

    return router
