"""How a rendition reaches an outlet: a signed webhook, a file in a directory, an Atom entry.

Each transport makes exactly one attempt and reports what happened; the queue and
the retry rules decide what comes next.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Protocol

from services.publish.atom import AtomStore
from services.publish.formats import EXTENSIONS, Rendition, event_type, webhook_body
from services.publish.http1 import ProtocolError
from services.publish.retries import Attempt, parse_retry_after
from services.publish.webhook_client import WebhookClient
from shared.config import Outlet
from shared.events import StoryEnriched
from shared.webhooks import signature_headers


class Transport(Protocol):
    async def send(
        self, webhook_id: str, enriched: StoryEnriched, rendition: Rendition, now: datetime
    ) -> tuple[Attempt, bytes]:
        """One attempt; returns its result and the exact bytes sent."""

    async def close(self) -> None: ...


RESPONSE_EXCERPT_BYTES = 4096
"""The most of an outlet's answer ever read: enough for an error message, never its whole body."""


class WebhookTransport:
    """Standard Webhooks v1: the same `webhook-id` on every retry, one signature per secret.

    One attempt has one deadline (`timeout`) from connecting to the last byte read: an
    outlet trickling a byte at a time must not keep an attempt open past its lease and
    get the story a second time. One client per outlet: a hanging outlet only ever
    exhausts its own connections.
    """

    def __init__(self, outlet: Outlet, timeout: float) -> None:
        self.outlet = outlet
        self.deadline = timeout
        self.http = WebhookClient(outlet.url, max_connections=64, max_idle=16)

    async def send(
        self, webhook_id: str, enriched: StoryEnriched, rendition: Rendition, now: datetime
    ) -> tuple[Attempt, bytes]:
        body = webhook_body(enriched, rendition, now)
        headers = signature_headers(self.outlet.signing_secrets(), webhook_id, now, body)
        headers["content-type"] = "application/json"
        headers["accept-encoding"] = "identity"  # an excerpt of a compressed answer says nothing
        delivered: Attempt | None = None
        try:
            async with asyncio.timeout(self.deadline):
                async with self.http.post(headers, body) as answer:
                    if answer.is_success:  # whatever else it says: the outlet has the story
                        delivered = Attempt(answer.status_code)
                        # Read the (short) answer to its end, so the connection goes back to
                        # the pool: left unread, it is closed, and every delivery pays a new one.
                        await answer.excerpt(RESPONSE_EXCERPT_BYTES)
                        return delivered, body
                    excerpt = await answer.excerpt(RESPONSE_EXCERPT_BYTES)
        except TimeoutError as exc:
            if delivered is not None:  # the answer's body trickled: the story arrived all the same
                return delivered, body
            return Attempt(error=f"timeout: no complete answer within {self.deadline:g} s ({exc!r})"), body
        except (OSError, EOFError, ProtocolError, ValueError) as exc:
            if delivered is not None:
                return delivered, body
            return Attempt(error=f"{type(exc).__name__}: {exc}"), body
        retry_after = parse_retry_after(answer.headers.get("retry-after"), now)
        error = f"HTTP {answer.status_code}: {excerpt.decode('utf-8', 'replace')[:200]}"
        return Attempt(answer.status_code, error, retry_after), body

    async def close(self) -> None:
        await self.http.aclose()


class DirectoryTransport:
    """One file per version, written under a temporary name then renamed into place.

    Readers never see a half-written file; a crash leaves at most a `.tmp-…` file.
    """

    def __init__(self, outlet: Outlet) -> None:
        self.directory = Path(outlet.path)

    def filename(self, enriched: StoryEnriched, rendition: Rendition) -> str:
        kind = event_type(enriched).removeprefix("story.")
        stem = file_stem(enriched.story_id)
        return f"{stem}-v{enriched.story.version}-{kind}.{EXTENSIONS[rendition.format]}"

    async def send(
        self, webhook_id: str, enriched: StoryEnriched, rendition: Rendition, now: datetime
    ) -> tuple[Attempt, bytes]:
        body = rendition.file_body()
        target = self.directory / self.filename(enriched, rendition)
        if target.resolve().parent != self.directory.resolve():
            return Attempt(error=f"refused to write outside {self.directory}: {target.name!r}"), body
        try:
            await asyncio.to_thread(_write_atomically, target, body)
        except OSError as exc:
            return Attempt(error=f"cannot write {target}: {exc}"), body
        return Attempt(200), body

    async def close(self) -> None:
        return None


_UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9_-]")


def file_stem(story_id: str) -> str:
    """A story id as one plain file-name component: ids come off a stream, so `../x`, `/`, NUL or
    a leading dot must never reach the file system. A changed id gets a digest, so two ids that
    differ only in unsafe characters still get different files."""
    stem = _UNSAFE_IN_FILE_NAMES.sub("_", story_id)[:120]
    if stem == story_id:
        return stem
    return f"{stem}-{hashlib.sha256(story_id.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"


def _write_atomically(target: Path, body: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".tmp-{uuid.uuid4().hex}-{target.name}")
    try:
        with temporary.open("wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


class AtomTransport:
    """For outlets that pull: the entry goes into the outlet's feed, served by publish."""

    def __init__(self, outlet: Outlet, store: AtomStore) -> None:
        self.outlet = outlet
        self.store = store

    async def send(
        self, webhook_id: str, enriched: StoryEnriched, rendition: Rendition, now: datetime
    ) -> tuple[Attempt, bytes]:
        entry = {
            "story_id": enriched.story_id,
            "uri": enriched.story.uri,
            "version": enriched.story.version,
            "type": event_type(enriched),
            "headline": enriched.story.headline,
            "summary": enriched.story.description,
            "html": rendition.html,
            "updated": now.isoformat(),
            "published": (enriched.story.first_published() or now).isoformat(),
            "author": enriched.story.byline or enriched.story.partner,
            "enclosures": [
                {"href": r.href, "type": r.mediatype or "", "length": r.size or 0}
                for r in enriched.story.renditions
                if r.href
            ],
        }
        body = json.dumps(entry, ensure_ascii=False).encode()
        await self.store.put(self.outlet.name, enriched.story_id, body, now)
        return Attempt(200), body

    async def close(self) -> None:
        return None


def make_transport(outlet: Outlet, timeout: float, atom: AtomStore) -> Transport:
    if outlet.transport == "directory":
        return DirectoryTransport(outlet)
    if outlet.transport == "atom":
        return AtomTransport(outlet, atom)
    return WebhookTransport(outlet, timeout)
