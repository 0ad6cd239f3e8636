"""A demo outlet: receives webhook deliveries, verifies their signatures, and shows each article
as its reader would see it.

Used by `newsroom up` so a fresh checkout shows stories arriving somewhere: `/` lists the
articles received (newest first), `/articles/{story_id}` is the article exactly as publish
rendered it for this outlet (the HTML rendition: age banner, photo with caption and credit,
inline related links, the outlet's footer), `/inbox.json` the deliveries as data, and
`/media/…` the demo stories' own pictures (from `examples/media`).
"""

from __future__ import annotations

import html
import json
import re
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from shared.logging import get_logger
from shared.webhooks import WebhookVerificationError, verify

log = get_logger(__name__)

MEDIA = Path(__file__).resolve().parents[1] / "examples" / "media"
_MEDIA_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*\.(svg|jpg|png)$")
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
# The article is publish's rendition (sanitised body); the page still runs no script at all.
_CSP = "default-src 'none'; img-src http: https:; style-src 'unsafe-inline'"
_STYLE = """<style>
body{font:18px/1.55 Georgia,serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:2rem;line-height:1.2}.age-banner{background:#fdf1c7;padding:.4rem .8rem;font:15px sans-serif}
.standfirst{font-size:1.15rem;color:#444}.meta{font:14px sans-serif;color:#666}
figure{margin:1.2rem 0}figure img{max-width:100%;height:auto}figcaption{font:14px sans-serif;color:#555}
.related{font:15px sans-serif;border-left:3px solid #c33;padding-left:.6rem}
footer{border-top:1px solid #ddd;margin-top:2rem;font:14px sans-serif;color:#666}
.kill-notice{background:#c33;color:#fff;padding:.5rem}li{margin:.4rem 0}
</style>"""


def create_app(secret: str) -> FastAPI:
    app = FastAPI(title="Demo outlet")
    received: deque[dict[str, Any]] = deque(maxlen=200)
    articles: OrderedDict[str, dict[str, Any]] = OrderedDict()  # story id → newest version

    @app.post("/hook")
    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            verify(secret, body, dict(request.headers))
        except WebhookVerificationError as exc:
            log.warning("rejected delivery with a bad signature", error=str(exc))
            return JSONResponse({"error": "bad signature"}, status_code=401)
        event = json.loads(body)
        data = event["data"]
        item = data["item"]
        headline = _headline(item)
        received.append(
            {
                "webhook_id": request.headers["webhook-id"],
                "type": event["type"],
                "headline": headline,
                "uri": data.get("uri"),
            }
        )
        if isinstance(item, str) and data.get("format") == "html":
            story_id = str(data.get("story_id"))
            articles.pop(story_id, None)
            articles[story_id] = {"headline": headline, "html": item, "type": event["type"], **_age(data)}
            while len(articles) > 200:
                articles.popitem(last=False)
        log.info(
            "outlet received story",
            story_id=data.get("story_id"),
            type=event["type"],
            headline=headline,
            webhook_id=request.headers["webhook-id"],
        )
        return JSONResponse({"ok": True})

    @app.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        rows = [
            f'<li><a href="/articles/{html.escape(story_id)}">{html.escape(article["headline"])}</a>'
            f"{' — ' + html.escape(article['age_label']) if article.get('age_label') else ''}"
            f"{' (killed)' if article['type'] == 'story.killed' else ''}</li>"
            for story_id, article in reversed(articles.items())
        ]
        listing = "<ul>" + "".join(rows) + "</ul>" if rows else "<p>No article received yet.</p>"
        page = (
            '<!doctype html><html><head><meta charset="utf-8"><title>Demo outlet</title>'
            f"{_STYLE}</head><body><h1>Demo outlet</h1>{listing}"
            '<p class="meta">Deliveries as data: <a href="/inbox.json">/inbox.json</a></p></body></html>'
        )
        return HTMLResponse(page, headers={"Content-Security-Policy": _CSP})

    @app.get("/articles/{story_id}", response_class=HTMLResponse)
    async def article(story_id: str) -> Response:
        found = articles.get(story_id)
        if found is None:
            return HTMLResponse("<p>No such article.</p>", status_code=404)
        page = found["html"].replace("</head>", _STYLE + "</head>", 1)
        return HTMLResponse(page, headers={"Content-Security-Policy": _CSP})

    @app.get("/inbox.json")
    async def inbox() -> list[dict[str, Any]]:
        return list(received)

    @app.get("/media/{name}")
    async def media(name: str) -> Response:
        path = MEDIA / name
        if not _MEDIA_NAME.match(name) or not path.is_file():
            return Response(status_code=404)
        return FileResponse(path)

    return app


def _headline(item: Any) -> str:
    if isinstance(item, dict):
        return str((item.get("headlines") or [{}])[0].get("value", ""))
    if isinstance(item, str):
        found = _TITLE.search(item)
        return html.unescape(found.group(1)) if found else item.split("\n", 1)[0]
    return ""


def _age(data: dict[str, Any]) -> dict[str, Any]:
    label = data.get("age_label")
    return {"age_label": label} if isinstance(label, str) else {}
