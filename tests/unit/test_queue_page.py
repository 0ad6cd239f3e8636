"""The queue page's router: what it serves, with which headers, and that it needs nothing from elsewhere."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from services.publish.page import ASSETS, STATIC, page_router


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(page_router(title="Queue <test>"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://publish") as client:
        yield client


async def test_the_page_is_served_at_the_root_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<title>Queue &lt;test&gt; · Newsroom</title>" in page.text


async def test_every_asset_the_page_references_is_served_with_its_type(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    referenced = set(re.findall(r'(?:src|href)="/page/([^"]+)"', page))
    assert referenced == set(ASSETS)
    for asset, media_type in ASSETS.items():
        answer = await client.get(f"/page/{asset}")
        assert answer.status_code == 200, asset
        assert answer.headers["content-type"] == media_type


async def test_unknown_assets_and_path_tricks_are_not_served(client: httpx.AsyncClient) -> None:
    for path in ("/page/index.html", "/page/..%2F__init__.py", "/page/nope.js"):
        assert (await client.get(path)).status_code == 404, path


def test_nothing_is_loaded_from_the_internet() -> None:
    for path in STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        # Links in text are fine; loading anything from another origin is not.
        assert not re.search(r"""(src|href|url)\s*[=(]\s*["']?(https?:)?//""", text), path.name
        assert "@import" not in text, path.name


def test_api_values_are_never_written_as_markup() -> None:
    script = (STATIC / "queue.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script
    assert "outerHTML" not in script
    assert "insertAdjacentHTML" not in script
    assert "document.write" not in script
    # The outlets' HTML is shown only in sandboxed iframes without scripts.
    assert 'sandbox: ""' in script
