"""RFC 9457 problem details for every HTTP error the services answer."""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.logging import get_logger

log = get_logger(__name__)
PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "https://newsroom.example/problems/"


# Where redis-py's asyncio connection code lives, for telling its leaked transport errors
# from our own bugs.
_REDIS_ASYNCIO = f"{os.sep}redis{os.sep}asyncio{os.sep}"


def broken_redis_connection(exc: BaseException) -> bool:
    """A TypeError/AttributeError raised inside redis-py's asyncio client: a connection the
    peer closed (a restarting node, a reset idle connection) surfaces as "'NoneType' object
    has no attribute 'writelines'" instead of ConnectionError (redis/redis-py#4287). That is
    an outage to answer 503, not a bug in our code — which raises from its own frames."""
    if not isinstance(exc, TypeError | AttributeError):
        return False
    frame = exc.__traceback__
    while frame is not None:
        if _REDIS_ASYNCIO in frame.tb_frame.f_code.co_filename:
            return True
        frame = frame.tb_next
    return False


class Problem(Exception):
    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": _TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    return JSONResponse(
        problem.body(instance),
        status_code=problem.status,
        headers=problem.headers,
        media_type=PROBLEM_JSON,
    )


def readiness(reason: str | None) -> JSONResponse:
    """The /readyz answer: 200 when there is no reason not to serve, else 503 with it."""
    if reason is None:
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "not ready", "reason": reason}, status_code=503)


def install_problem_handlers(app: FastAPI, retry_after_seconds: int = 5) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"pointer": "/" + "/".join(str(p) for p in e["loc"][1:]), "detail": e["msg"]}
            for e in exc.errors()
        ]
        where = ", ".join(f"{e['pointer']}: {e['detail']}" for e in errors[:5])
        problem = Problem(422, "invalid-request", "Invalid request", where, errors=errors)
        return problem_response(problem, request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        problem = Problem(
            exc.status_code,
            "http-" + str(exc.status_code),
            str(exc.detail),
            str(exc.detail),
            headers=dict(exc.headers or {}),
        )
        return problem_response(problem, request.url.path)

    @app.exception_handler(RedisConnectionError)
    @app.exception_handler(RedisTimeoutError)
    async def _redis_down(request: Request, exc: Exception) -> JSONResponse:
        problem = Problem(
            503,
            "redis-unavailable",
            "Storage unavailable",
            "Redis cannot be reached; nothing was stored. Retry later.",
            headers={"Retry-After": str(retry_after_seconds)},
        )
        return problem_response(problem, request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if broken_redis_connection(exc):
            log.warning("redis connection broken", path=request.url.path, error=repr(exc))
            return await _redis_down(request, exc)
        log.error("unexpected error", path=request.url.path, error=repr(exc), exc_info=exc)
        problem = Problem(
            500, "internal", "Internal error", "The service failed unexpectedly; the error was logged."
        )
        return problem_response(problem, request.url.path)
