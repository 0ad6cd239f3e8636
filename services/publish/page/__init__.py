"""The editors' queue page: one HTML page and its static assets, served at `/`.

Everything the page needs is in `static/` and served by the publish service
itself (no CDN, no build step). The page talks only to the editors' API
(`/v1/...`) with the editor token the person signs in with; this router holds
no data and needs no token, so it exposes nothing an anonymous visitor could
not already read in the repository.
"""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).parent / "static"
ASSETS = {
    "queue.css": "text/css; charset=utf-8",
    "queue.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
# The rendered article previews run in sandboxed iframes without scripts; the
# page itself may only load what this service serves.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


def page_router(title: str = "Publish queue") -> APIRouter:
    """Routes for the queue page: `/` and `/page/<asset>`."""
    router = APIRouter(include_in_schema=False)
    index = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{title}}", html.escape(title))

    @router.get("/", response_class=HTMLResponse)
    async def queue_page() -> HTMLResponse:
        return HTMLResponse(index, headers=SECURITY_HEADERS)

    @router.get("/page/{asset}")
    async def queue_asset(asset: str) -> FileResponse:
        media_type = ASSETS.get(asset)
        if media_type is None:
            raise HTTPException(404, f"no page asset {asset!r}")
        return FileResponse(STATIC / asset, media_type=media_type, headers=SECURITY_HEADERS)

    return router
