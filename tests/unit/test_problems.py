"""Problem details: redis-py's leaked transport errors answer 503, our own bugs 500."""

from __future__ import annotations

import os

import httpx
from fastapi import FastAPI

from shared.problems import PROBLEM_JSON, broken_redis_connection, install_problem_handlers

# A function whose code claims to live in redis-py's asyncio connection module, failing the
# way that module does when the peer closed the connection (redis/redis-py#4287).
_REDIS_FILE = os.path.join("site-packages", "redis", "asyncio", "connection.py")
_namespace: dict[str, object] = {}
exec(  # compiles a two-line fixture under redis's file name
    compile("def send_packed_command(writer):\n    writer.writelines([b'PING'])\n", _REDIS_FILE, "exec"),
    _namespace,
)


def _raised_in_redis() -> AttributeError:
    try:
        _namespace["send_packed_command"](None)  # type: ignore[operator]
    except AttributeError as exc:
        return exc
    raise AssertionError("the fixture did not fail")


def _raised_here() -> AttributeError:
    try:
        None.writelines([b"PING"])  # type: ignore[attr-defined]
    except AttributeError as exc:
        return exc
    raise AssertionError("did not fail")


def test_only_errors_raised_inside_redis_count_as_a_broken_connection() -> None:
    assert broken_redis_connection(_raised_in_redis())
    assert not broken_redis_connection(_raised_here())
    assert not broken_redis_connection(ValueError("not a transport error"))


async def test_a_broken_redis_connection_answers_503_and_our_own_bug_500() -> None:
    app = FastAPI()
    install_problem_handlers(app, retry_after_seconds=3)

    @app.get("/redis-broke")
    async def redis_broke() -> None:
        raise _raised_in_redis()

    @app.get("/our-bug")
    async def our_bug() -> None:
        raise _raised_here()

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        broke = await client.get("/redis-broke")
        bug = await client.get("/our-bug")
    assert broke.status_code == 503
    assert broke.headers["content-type"] == PROBLEM_JSON
    assert broke.headers["retry-after"] == "3"
    assert broke.json()["type"].endswith("/redis-unavailable")
    assert bug.status_code == 500
    assert bug.json()["type"].endswith("/internal")
