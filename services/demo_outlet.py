"""A demo outlet: receives webhook deliveries, verifies their signatures, logs them.

Used by `newsroom up` so a fresh checkout shows a story arriving somewhere.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from shared.logging import get_logger
from shared.webhooks import WebhookVerificationError, verify

log = get_logger(__name__)


def create_app(secret: str) -> FastAPI:
    app = FastAPI(title="Demo outlet")
    received: deque[dict[str, Any]] = deque(maxlen=200)

    @app.post("/hook")
    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            verify(secret, body, dict(request.headers))
        except WebhookVerificationError as exc:
            log.warning("rejected delivery with a bad signature", error=str(exc))
            return JSONResponse({"error": "bad signature"}, status_code=401)
        event = json.loads(body)
        item = event["data"]["item"]
        headline = (item.get("headlines") or [{}])[0].get("value", "")
        received.append(
            {
                "webhook_id": request.headers["webhook-id"],
                "type": event["type"],
                "headline": headline,
                "uri": item.get("uri"),
            }
        )
        log.info(
            "outlet received story",
            story_id=event["data"].get("story_id"),
            type=event["type"],
            headline=headline,
            webhook_id=request.headers["webhook-id"],
        )
        return JSONResponse({"ok": True})

    @app.get("/")
    async def index() -> list[dict[str, Any]]:
        return list(received)

    return app
