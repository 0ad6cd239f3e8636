"""A real HTTP outlet for tests: records every delivery, answers as scripted.

Runs uvicorn in a background thread on a free loopback port. `respond` decides
each answer (status, delay, headers) so tests can script outages, hangs and 410s.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.helpers.ports import free_port


@dataclass
class Received:
    at: float
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


@dataclass
class Answer:
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[["Receiver", Request], Answer]


class Receiver:
    def __init__(self, respond: Responder | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.respond: Responder = respond or (lambda _r, _q: Answer())
        self.received: list[Received] = []  # successful (2xx) deliveries
        self.attempts: list[Received] = []  # every request, whatever the answer
        self._lock = threading.Lock()
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="error", access_log=False, lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        item = Received(time.time(), {k.lower(): v for k, v in request.headers.items()}, body)
        answer = self.respond(self, request)
        with self._lock:
            self.attempts.append(item)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if 200 <= answer.status < 300:
            with self._lock:
                self.received.append(item)
        return JSONResponse({"status": answer.status}, status_code=answer.status, headers=answer.headers)

    def __enter__(self) -> Receiver:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("receiver did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(5)

    def unique_ids(self) -> set[str]:
        with self._lock:
            return {r.webhook_id for r in self.received}

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if predicate(self):
                    return True
            time.sleep(0.05)
        return predicate(self)
