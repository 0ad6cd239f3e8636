"""Scripted outlet behaviours for the fault tests (answers chosen per request)."""

from __future__ import annotations

import time

from starlette.requests import Request

from tests.helpers.receiver import Answer, Receiver, Responder


def body_of(request: Request) -> bytes:
    # The receiver reads the body before asking for an answer; Starlette caches it.
    body: bytes = getattr(request, "_body", b"")
    return body


def holding(marker: str, until: list[float]) -> Responder:
    """503 for deliveries whose body mentions `marker` until the time in `until[0]`."""

    def respond(_receiver: Receiver, request: Request) -> Answer:
        if time.time() < until[0] and marker.encode() in body_of(request):
            return Answer(503, headers={"Retry-After": "1"})
        return Answer()

    return respond


def outage(until: list[float]) -> Responder:
    """503 for every delivery until the time in `until[0]`, then 200."""

    def respond(_receiver: Receiver, _request: Request) -> Answer:
        if time.time() < until[0]:
            return Answer(503, headers={"Retry-After": "1"})
        return Answer()

    return respond
