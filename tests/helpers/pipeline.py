"""The whole pipeline as real processes, for end-to-end, fault and benchmark runs.

`Pipeline` writes a config with one partner and the given outlets (each a real
`Receiver`), starts ingest and any number of enrich and publish processes, and
posts ninjs items the way a partner does: retrying `503` after `Retry-After` and
remembering exactly which versions were acknowledged with a `2xx`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.config import sha256_hex
from shared.connections import RedisClient
from shared.settings import Settings
from shared.streams import Streams
from shared.webhooks import verify
from tests.helpers.processes import ServiceProcess
from tests.helpers.receiver import Receiver
from tests.helpers.waiting import wait_until as wait_until  # re-exported: tests import it from here

PARTNER_KEY = "fault-partner-key"
PARTNER_ID = "wire"
SECRETS = {
    "alpha": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "beta": "whsec_ZGVtby1vdXRsZXQtc2lnbmluZy1zZWNyZXQtMzJieXQ=",
    "gamma": "whsec_dGVzdC1nYW1tYS1zaWduaW5nLXNlY3JldC0zMmJ5dGVz",
}


def write_config(path: Path, outlets: dict[str, Receiver], filters: dict[str, str] | None = None) -> None:
    """One partner and the given outlets; `filters` maps an outlet to TOML lines of its filters."""
    lines = [
        "[[partners]]",
        f'id = "{PARTNER_ID}"',
        f'keys_sha256 = ["{sha256_hex(PARTNER_KEY)}"]',
        "",
    ]
    for name, receiver in outlets.items():
        lines += ["[[outlets]]", f'name = "{name}"', f'url = "{receiver.url}"']
        lines += [f'secret = "{SECRETS[name]}"', ""]
        if filters and name in filters:
            lines += ["[outlets.filters]", filters[name], ""]
    path.write_text("\n".join(lines))


def ninjs_item(n: int, version: int = 1, *, body: str | None = None, urgency: int = 5) -> dict[str, Any]:
    return {
        "uri": f"urn:test:story:{n}",
        "version": str(version),
        "type": "text",
        "language": "en",
        "urgency": urgency,
        "firstcreated": "2026-11-28T10:00:00Z",
        "versioncreated": f"2026-11-28T10:{version % 60:02d}:00Z",
        "pubstatus": "usable",
        "byline": "Test Wire",
        "located": "Geneva",
        "headlines": [{"role": "main", "value": f"Story {n} version {version}"}],
        "bodies": [
            {
                "role": "main",
                "contenttype": "text/html",
                "value": body or f"<p>Delegates met in Geneva on Tuesday, story {n} version {version}.</p>",
            }
        ],
    }


@dataclass
class Sent:
    """What the partner side saw: acknowledged versions with their send time."""

    acked: dict[tuple[str, int], float] = field(default_factory=dict)  # (uri, version) -> ack time
    refused: list[int] = field(default_factory=list)  # status codes of answers not 2xx
    retries_503: int = 0
    server_errors: list[int] = field(default_factory=list)  # 5xx other than 503 (retried too)
    story_ids: dict[str, str] = field(default_factory=dict)  # uri -> story id


class Pipeline:
    def __init__(
        self,
        env: dict[str, str],
        log_dir: Path,
        *,
        enrich: int = 1,
        publish: int = 1,
    ) -> None:
        self.env = dict(env)
        self.log_dir = log_dir
        self.ingest = ServiceProcess("ingest", self.env, log_dir)
        self.enrichers = [self.worker("enrich", i) for i in range(enrich)]
        self.publishers = [self.worker("publish", i) for i in range(publish)]
        self.sent = Sent()

    def worker(self, service: str, index: int) -> ServiceProcess:
        env = {**self.env, "NEWSROOM_CONSUMER_NAME": f"{service}-{index}-{time.monotonic_ns()}"}
        return ServiceProcess(service, env, self.log_dir)

    def processes(self) -> list[ServiceProcess]:
        return [self.ingest, *self.enrichers, *self.publishers]

    def start(self) -> Pipeline:
        for proc in self.processes():
            proc.start(wait=False)
        for proc in self.processes():
            proc.wait_ready()
        return self

    def stop(self) -> None:
        for proc in self.processes():
            proc.stop()

    def __enter__(self) -> Pipeline:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *_: object) -> None:
        self.stop()

    def restart(self, proc: ServiceProcess, *, wait: bool = True) -> None:
        """Start a killed process again as a new process (new pid, same consumer name)."""
        proc.start(wait=wait)

    async def post(
        self, client: httpx.AsyncClient, item: dict[str, Any], give_up_after: float = 120.0
    ) -> int:
        """POST like a partner: retry 429 and 5xx (honouring Retry-After) and connection errors."""
        deadline = time.monotonic() + give_up_after
        while True:
            try:
                response = await client.post(
                    f"{self.ingest.url}/v1/stories",
                    json=item,
                    headers={"authorization": f"Bearer {PARTNER_KEY}"},
                )
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
                continue
            if response.status_code >= 500 and response.status_code != 503:
                self.sent.server_errors.append(response.status_code)
            if (response.status_code == 429 or response.status_code >= 500) and time.monotonic() < deadline:
                self.sent.retries_503 += response.status_code == 503
                await asyncio.sleep(min(float(response.headers.get("retry-after", "1")), 1.0))
                continue
            if 200 <= response.status_code < 300:
                answer = response.json()
                self.sent.acked[(item["uri"], int(item["version"]))] = time.time()
                self.sent.story_ids[item["uri"]] = answer["id"]
            else:
                self.sent.refused.append(response.status_code)
            return response.status_code

    async def post_all(
        self, items: Iterable[dict[str, Any]], *, rate: float | None = None, concurrency: int = 8
    ) -> None:
        """Post items with bounded concurrency, optionally paced to `rate` items per second."""
        # Bounded: put() waits while the senders are behind (back-pressure as an event).
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=concurrency * 2)
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=30) as client:

            async def sender() -> None:
                while (item := await queue.get()) is not None:
                    await self.post(client, item)

            tasks = [asyncio.create_task(sender()) for _ in range(concurrency)]
            for n, item in enumerate(items):
                if rate:
                    delay = started + n / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                await queue.put(item)
            for _ in tasks:
                await queue.put(None)
            await asyncio.gather(*tasks)


def delivered_versions(receiver: Receiver) -> dict[str, list[int]]:
    """uri -> versions in order of first arrival, after deduplicating on webhook-id."""
    seen: set[str] = set()
    out: dict[str, list[int]] = {}
    for item in list(receiver.received):
        if item.webhook_id in seen:
            continue
        seen.add(item.webhook_id)
        story = item.json["data"]["item"]
        out.setdefault(story["uri"], []).append(int(story["version"]))
    return out


def assert_signed(receiver: Receiver, secret: str) -> None:
    for item in list(receiver.received):
        verify(secret, item.body, item.headers)


def redeliveries(receiver: Receiver) -> int:
    """Raw duplicate deliveries (same webhook-id received with a 2xx more than once)."""
    return len(receiver.received) - len(receiver.unique_ids())


async def pending_counts(redis: RedisClient, settings: Settings) -> dict[str, int]:
    """Pending (read, unacknowledged) entries of every pipeline stream's group."""
    counts: dict[str, int] = {}
    for stream in Streams.for_keys(settings.keys, [PARTNER_ID]).all():
        try:
            summary = await redis.xpending(stream.name, stream.group)
        except Exception:  # the stream or group does not exist (yet)
            counts[stream.name] = 0
            continue
        counts[stream.name] = int(summary["pending"])
    return counts


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def assert_nothing_pending(redis: RedisClient, settings: Settings, timeout: float = 30) -> None:
    """Wait until no pipeline stream holds a read-but-unacknowledged entry; fail with the counts."""

    async def drained() -> bool:
        return sum((await pending_counts(redis, settings)).values()) == 0

    assert await wait_until(drained, timeout), await pending_counts(redis, settings)
