"""From an HTTP request to the events to accept: authenticate, read, parse, build.

Pure of Redis: the routes (app.py) hand a request in and get the partner, the
parsed items and one `StoryReceived` per parsed story (with its encoded stream
payload) back, or a `Problem` that says precisely what is wrong with the request.
Parsing happens where `offload.BodyReader` says (the loop, or a parse process);
`prepare` is that part, and is pure: it returns a `Refused` instead of raising, so
the routes log and count refusals in the serving process.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from fastapi import Request
from starlette.requests import ClientDisconnect

from services.ingest.acceptance import first_received_as
from services.ingest.formats import ACCEPTED_TYPES, Parsed, UnsupportedType, media_type, read_items
from services.ingest.items import ItemError, PayloadError, Reading
from services.ingest.schemas import NinjsSchemas
from shared import auth
from shared.config import NewsroomConfig, Partner
from shared.events import StoryReceived, utcnow
from shared.logging import get_logger
from shared.metrics import STORIES_RECEIVED
from shared.problems import Problem
from shared.settings import Settings
from shared.streams import encode_event

log = get_logger(__name__)
REALM = "ingest"
_TRACE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


@dataclass(frozen=True)
class Intake:
    partner: Partner
    parsed: Parsed
    events: list[StoryReceived]  # one per item that parsed into a story, in order
    payloads: list[bytes]  # each event encoded for the stream as it is received as a first version


@dataclass(frozen=True)
class Refused:
    """A request refused while parsing: the problem to answer, and whether it counts as an
    invalid story."""

    status: int
    slug: str
    title: str
    detail: str
    pointer: str | None = None
    headers: dict[str, str] | None = None
    invalid: bool = False

    def problem(self) -> Problem:
        extra = {"pointer": self.pointer} if self.pointer is not None else {}
        return Problem(self.status, self.slug, self.title, self.detail, headers=self.headers, **extra)


class BodyParser(Protocol):
    async def intake(
        self, body: bytes, headers: Mapping[str, str], partner: Partner, max_original: int
    ) -> Intake | Refused: ...


async def take_in(request: Request, config: NewsroomConfig, settings: Settings, reader: BodyParser) -> Intake:
    """Authenticate and parse one POST; raises the `Problem` to answer when it is unacceptable."""
    headers = request.headers
    partner = _partner_by_key(config, headers)
    kind, _ = media_type(headers.get("content-type"))
    if kind not in ACCEPTED_TYPES:  # before reading the body: no point receiving it
        raise unsupported(kind)
    body = await _read_body(request, settings.max_body_bytes)
    if partner is None:
        partner = auth.partner_by_signature(config, body, headers)
        if partner is None:
            raise auth.unauthenticated("The Standard Webhooks signature matches no partner's secret.", REALM)
    intake = await reader.intake(body, headers, partner, settings.max_original_bytes)
    if isinstance(intake, Refused):
        if intake.invalid:
            STORIES_RECEIVED.labels(partner.id, "invalid").inc()
        log.info("request refused", partner=partner.id, problem=intake.slug, pointer=intake.pointer)
        raise intake.problem()
    return intake


async def prepare(
    body: bytes, headers: Mapping[str, str], partner: Partner, schemas: NinjsSchemas, max_original: int
) -> Intake | Refused:
    """Parse one request and build and encode its events: CPU only, no I/O (async only
    because FastStream's encoder is)."""
    parsed = _parse(body, headers, partner, schemas, max_original)
    if isinstance(parsed, Refused):
        return parsed
    events = _events(parsed, headers.get("x-trace-id"))
    return Intake(partner, parsed, events, [await encode_event(event, event.trace_id) for event in events])


def _partner_by_key(config: NewsroomConfig, headers: Mapping[str, str]) -> Partner | None:
    """The partner of a Bearer key; None when the request is signed instead (checked on the body)."""
    token = auth.bearer_token(headers)
    if token is not None:
        partner = config.partner_for_key(token)
        if partner is None:
            raise auth.unauthenticated("The API key is not valid for any partner.", REALM)
        return partner
    if not auth.is_signed(headers):
        raise auth.unauthenticated(
            "Send 'Authorization: Bearer <API key>' or sign the request with Standard Webhooks "
            "headers (webhook-id, webhook-timestamp, webhook-signature).",
            REALM,
        )
    return None


# A client that writes its whole body before reading (urllib, requests) gets a connection
# reset, not the 413, if we close with its body unread; so we discard what it still sends,
# within these bounds, before answering.
DISCARD_BYTES = 64 * 1024 * 1024
DISCARD_SECONDS = 2.0


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length", "")
    too_large = Problem(413, "too-large", "Body too large", f"The body exceeds the limit of {limit} bytes.")
    if declared.isdigit() and int(declared) > limit:
        await _discard(request, 0)
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            await _discard(request, len(body))
            raise too_large
    return bytes(body)


async def _discard(request: Request, read: int) -> None:
    """Read and drop the rest of a refused body, bounded in bytes and time."""
    if request.headers.get("expect", "").lower() == "100-continue" and read == 0:
        return  # the client waits for our answer before sending: reading would invite the body
    try:
        async with asyncio.timeout(DISCARD_SECONDS):
            async for chunk in request.stream():
                read += len(chunk)
                if read > DISCARD_BYTES:
                    return
    except (TimeoutError, ClientDisconnect):
        return
    except RuntimeError:
        return  # Starlette: the body had already ended, nothing is left to discard


def _parse(
    body: bytes, headers: Mapping[str, str], partner: Partner, schemas: NinjsSchemas, max_original: int
) -> Parsed | Refused:
    try:
        reading = Reading(partner.id, partner.zone, partner.strict, schemas, max_original)
        parsed = read_items(body, headers.get("content-type"), reading)
    except UnsupportedType as exc:
        problem = unsupported(str(exc))
        return Refused(415, problem.slug, problem.title, problem.detail, headers=problem.headers)
    except PayloadError as exc:
        return Refused(400, exc.slug, exc.title, exc.detail, pointer=exc.where)
    except ItemError as exc:
        return _invalid(exc)
    only = parsed.items[0]
    if not parsed.batch and only.error is not None:
        return _invalid(only.error)
    return parsed


def _invalid(error: ItemError) -> Refused:
    problem = invalid(error)
    return Refused(422, problem.slug, problem.title, problem.detail, pointer=error.where, invalid=True)


def _events(parsed: Parsed, offered_trace_id: str | None) -> list[StoryReceived]:
    trace_id = trace_id_of(offered_trace_id)
    received_at = utcnow()
    return [
        StoryReceived(
            story_id=item.story.id,
            # One request, one trace; batch items get their own so each story is followable.
            trace_id=trace_id if not parsed.batch else uuid.uuid4().hex,
            received_at=received_at,
            story=item.story,
            source_format=item.source_format,
            original=item.original.decode("utf-8", "replace"),
            warnings=item.warnings,
            received_as=first_received_as(item.story.pubstatus),
        )
        for item in parsed.items
        if item.story is not None
    ]


def trace_id_of(offered: str | None) -> str:
    """The caller's trace id when it is a sane token, else a fresh one (it goes into every log line)."""
    return offered if offered and _TRACE_ID.match(offered) else uuid.uuid4().hex


def unsupported(kind: str) -> Problem:
    return Problem(
        415,
        "unsupported-media-type",
        "Unsupported content type",
        f"{kind or 'no content type'} is not accepted; send one of {', '.join(ACCEPTED_TYPES)}.",
        headers={"Accept-Post": ", ".join(ACCEPTED_TYPES)},
    )


def invalid(error: ItemError) -> Problem:
    return Problem(
        422,
        "invalid-item",
        "Item is not acceptable",
        f"{error.where}: {error.detail}",
        pointer=error.where,
    )
