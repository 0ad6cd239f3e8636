"""The editors' API under /v1 (Bearer editor token), the live feed, and the Atom feeds.

Every error is RFC 9457 problem+json. `GET /v1/events` is Server-Sent Events: one
`event: delivery` per delivery state change; browsers' EventSource cannot send
headers, so the token is also accepted as `?token=`, and `Last-Event-ID` resumes.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import AwareDatetime, BaseModel

from services.publish.atom import AtomStore, feed_xml
from services.publish.deliveries import STATUSES, Action
from services.publish.formats import to_ninjs, webhook_body
from services.publish.publisher import DeliveryFilter, Publisher
from shared import status
from shared.auth import bearer_token, unauthenticated
from shared.config import Editor
from shared.events import StoryEnriched
from shared.problems import Problem
from shared.timeline import EditorActed

_STREAM_ID = re.compile(r"[0-9]{1,20}(-[0-9]{1,20})?")
SSE_SECONDS = 25.0  # EventSource reconnects (with Last-Event-ID), so shutdowns never wait on it


class Backfill(BaseModel):
    since: AwareDatetime
    until: AwareDatetime | None = None


def editors_router(publisher: Publisher, atom: AtomStore) -> APIRouter:
    router = APIRouter()
    config, redis, keys = publisher.config, publisher.redis, publisher.keys

    def editor(request: Request) -> Editor:
        token = bearer_token(request.headers) or ""
        if not token and request.url.path == "/v1/events":
            # EventSource cannot send headers; only the live feed takes the token in the
            # query, so tokens do not end up in access logs of every other route.
            token = request.query_params.get("token", "")
        found = config.editor_for_token(token) if token else None
        if found is None:
            raise unauthenticated(
                "Send `Authorization: Bearer <editor token>` (or `?token=` for the event stream).",
                realm="newsroom-editors",
            )
        return found

    signed_in = Depends(editor)

    @router.get("/v1/deliveries")
    async def list_deliveries(
        _: Editor = signed_in,
        outlet: str | None = None,
        status_: Annotated[str | None, Query(alias="status")] = None,
        story: str | None = None,
        partner: str | None = None,
        flag: str | None = None,
        q: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> dict[str, Any]:
        flt = DeliveryFilter(outlet, status_, story, partner, flag, q, limit)
        found = await publisher.deliveries(flt)
        return {
            "deliveries": [d.public() for d in found],
            "counts": await publisher.counts(),
            "statuses": list(STATUSES),
        }

    @router.get("/v1/deliveries/{delivery_id}")
    async def get_delivery(delivery_id: str, _: Editor = signed_in) -> dict[str, Any]:
        delivery = await publisher.find(delivery_id)
        if delivery is None:
            raise _not_found("delivery", delivery_id)
        return {**delivery.public(), "payload": delivery.fields.get("payload", "")}

    @router.post("/v1/deliveries/{delivery_id}/{action}")
    async def act(delivery_id: str, action: Action, who: Editor = signed_in) -> dict[str, Any]:
        delivery = await publisher.find(delivery_id)
        if delivery is None:
            raise _not_found("delivery", delivery_id)
        result, detail = await publisher.act(delivery, action)
        if result != "ok":
            raise Problem(409, "delivery-conflict", f"Cannot {action} this delivery", detail)
        after = await publisher.find(delivery_id)
        return {"delivery": after.public() if after else None, "editor": who.id}

    @router.post("/v1/stories/{story_id}/kill")
    async def kill(story_id: str, who: Editor = signed_in) -> dict[str, Any]:
        results = await publisher.kill(story_id, who.id)
        if results is None:
            raise _not_found("story", story_id)
        await status.record(
            redis, keys, story_id, EditorActed(action="kill", editor=who.id), service="publish"
        )
        return {"story_id": story_id, "outlets": results}

    @router.post("/v1/outlets/{name}/backfill")
    async def backfill(name: str, window: Backfill, _: Editor = signed_in) -> dict[str, Any]:
        outlet = config.outlet(name)
        if outlet is None:
            raise _not_found("outlet", name)
        until = window.until or datetime.now(UTC)
        if until < window.since:
            raise Problem(422, "invalid-request", "Invalid time range", "`until` is before `since`.")
        report = await publisher.backfill(outlet, window.since, until)
        return {"outlet": name, "since": window.since, "until": until, **report}

    @router.post("/v1/outlets/{name}/enable")
    async def enable(name: str, who: Editor = signed_in) -> dict[str, Any]:
        queue = publisher.queues.get(name)
        if queue is None:
            raise _not_found("outlet", name)
        was_disabled = await queue.enable()
        publisher.wake(name)
        return {"outlet": name, "enabled": True, "was_disabled": was_disabled, "editor": who.id}

    @router.get("/v1/outlets")
    async def outlets(_: Editor = signed_in) -> dict[str, Any]:
        counts = await publisher.counts()
        return {
            "outlets": [
                {
                    "name": o.name,
                    "transport": o.transport,
                    "format": o.format,
                    "disabled": await publisher.queues[o.name].disabled(),
                    "counts": counts["by_outlet"][o.name],
                }
                for o in config.outlets
            ]
        }

    @router.get("/v1/stories/{story_id}")
    async def story(story_id: str, _: Editor = signed_in) -> dict[str, Any]:
        latest = await publisher.latest_version(story_id)
        if latest is None:
            raise _not_found("story", story_id)
        deliveries = await publisher.story_deliveries(story_id)
        now = datetime.now(UTC)
        renditions: dict[str, Any] = {}
        for outlet in config.outlets:
            sent = [d for d in deliveries if d.outlet == outlet.name]
            if not sent:
                continue
            last = sent[-1]
            enriched = StoryEnriched.model_validate_json(last.fields["event"])
            rendition = publisher.render(enriched, outlet, now)
            payload = last.fields.get("payload") or webhook_body(enriched, rendition, now).decode()
            renditions[outlet.name] = {"format": outlet.format, "html": rendition.html, "payload": payload}
        timeline = await status.read(redis, keys, story_id)
        return {
            "story": to_ninjs(latest),
            "enrichment": latest.enrichment.model_dump(mode="json"),
            "deliveries": [d.public() for d in deliveries],
            "renditions": renditions,
            "timeline": timeline["timeline"] if timeline else [],
        }

    @router.get("/v1/events")
    async def events(request: Request, _: Editor = signed_in) -> StreamingResponse:
        last_id = request.headers.get("last-event-id") or request.query_params.get("since") or "$"
        if last_id != "$" and not _STREAM_ID.fullmatch(last_id):
            # Checked before the stream starts: once it has, an error can only cut it off.
            raise Problem(
                400,
                "invalid-request",
                "Invalid event id",
                f"`since` / Last-Event-ID {last_id[:40]!r} is not an event id (e.g. 1733000000000-0).",
                pointer="since",
            )
        if last_id == "$":
            newest = await redis.xrevrange(keys.delivery_changes, count=1)
            last_id = newest[0][0].decode() if newest else "0-0"

        async def stream() -> AsyncIterator[bytes]:
            cursor, ends = last_id, time.monotonic() + SSE_SECONDS
            yield b"retry: 500\n: connected\n\n"
            while time.monotonic() < ends and not await request.is_disconnected():
                found = await redis.xread({keys.delivery_changes: cursor}, count=100, block=1000)
                if not found:
                    yield b": ping\n\n"
                    continue
                for entry_id, fields in found[0][1]:
                    cursor = entry_id.decode()
                    yield f"id: {cursor}\nevent: delivery\ndata: {fields[b'data'].decode()}\n\n".encode()
                await asyncio.sleep(0)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
        )

    @router.get("/feeds/{name}.atom")
    async def atom_feed(name: str, request: Request) -> Response:
        outlet = config.outlet(name)
        if outlet is None or outlet.transport != "atom":
            raise _not_found("Atom feed", name)
        entries = await atom.entries(name)
        # The feed's own address, not what the caller appended to it (nothing of theirs is reflected).
        self_url = str(request.url.replace(query="", fragment=""))
        body = feed_xml(name, self_url, entries, datetime.now(UTC))
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    return router


def _not_found(what: str, ident: str) -> Problem:
    return Problem(404, "not-found", f"No such {what}", f"No {what} {json.dumps(ident)} is known here.")
