"""Accepting stories onto the received streams, exactly once per version.

`decide` (pure) compares an item's version with the registry's entry for it and
says what the story is received as; the accept script (`accept.lua`) then charges
the partner's rate bucket and appends the stories in one atomic step, but only if
every registry entry is still the one `decide` saw, so concurrent sends of one
item by several ingest replicas can neither both pass nor leave a version
recorded without its story on the stream; a raced request is decided again, a
rate-limited one leaves nothing behind. Registry, bucket and streams share the
`{P:in}` hash tag; the registry lives in Redis, so decisions survive restarts.

Outcomes: a first version is received as `new`, a higher one as `update`, a
`withheld` one as `withheld`; a kill (`canceled`) goes to the priority stream as
`kill` and is final: the item can never be resurrected. The same version again
is a `duplicate`, a lower one `superseded`; neither is forwarded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from services.ingest.ratelimit import RateLimit, retry_after_seconds
from shared.connections import RedisClient
from shared.events import ReceivedAs, StoryReceived
from shared.keys import Keys
from shared.scripts import LuaScript
from shared.streams import encode_event

AcceptOutcome = Literal["accepted", "duplicate", "superseded", "killed"]
_KILLED = ":killed"  # registry entries are "<version>" or "<version>:killed"
_SCRIPT = LuaScript.load(Path(__file__).with_name("accept.lua"))
_MAX_RACES = 5


@dataclass(frozen=True)
class Decision:
    """What becomes of one story version, given the registry's entry for its item."""

    outcome: AcceptOutcome
    received_as: ReceivedAs | None = None  # set when accepted
    entry: str | None = None  # the registry's new entry, when accepted
    current_version: int | None = None  # the version held, when not accepted


def first_received_as(pubstatus: str) -> ReceivedAs:
    """What a story is received as when its item has no version yet."""
    return "kill" if pubstatus == "canceled" else "withheld" if pubstatus == "withheld" else "new"


def decide(current: str | None, version: int, pubstatus: str) -> Decision:
    """The one place that says new / update / withheld / kill, or why not (pure)."""
    kill = pubstatus == "canceled"
    first = first_received_as(pubstatus)
    if current is None:
        return Decision("accepted", first, f"{version}{_KILLED}" if kill else str(version))
    seen = int(current.removesuffix(_KILLED))
    if current.endswith(_KILLED):
        return Decision("duplicate" if kill else "killed", current_version=seen)
    if kill:  # a kill of any version is final, and never lowers the version held
        return Decision("accepted", "kill", f"{max(version, seen)}{_KILLED}")
    if version == seen:
        return Decision("duplicate", current_version=seen)
    if version < seen:
        return Decision("superseded", current_version=seen)
    return Decision("accepted", "update" if first == "new" else first, str(version))


@dataclass(frozen=True)
class Acceptance:
    outcome: AcceptOutcome
    entry_id: str | None = None
    current_version: int | None = None
    received_as: ReceivedAs | None = None


@dataclass(frozen=True)
class RateLimited:
    retry_after_seconds: int


class Contended(Exception):
    """Other requests for the same items kept winning the race; nothing was stored."""


def is_priority(event: StoryReceived) -> bool:
    """Kills and flashes/bulletins (urgency 1-2) overtake routine traffic."""
    story = event.story
    return story.pubstatus == "canceled" or (story.urgency or 9) <= 2


def registry_field(event: StoryReceived) -> str:
    return f"{event.story.partner}\x1f{event.story.uri}"


class Acceptor:
    """Decides each story against the registry and runs the accept script by its SHA."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    async def accept(
        self,
        partner: str,
        events: Sequence[StoryReceived],
        limit: RateLimit | None,
        encoded: Sequence[bytes] | None = None,
    ) -> RateLimited | list[Acceptance]:
        """Charge `partner`'s bucket for the items (unless `limit` is None), then accept each;
        nothing at all if limited. `encoded`: each event's payload as it stands (encoded where
        it was parsed); one received as something else is encoded again here."""
        keys = self.keys
        script_keys = [
            keys.item_versions,
            keys.received_lane(partner),
            keys.received_priority,
            keys.ingest_bucket(partner),
        ]
        charge: list[object] = (
            [limit.rate_per_second, limit.burst, limit.cost(len(events))] if limit else ["", 0, 0]
        )
        fields = [registry_field(event) for event in events]
        # One story: no registry read first. Most single stories are first versions, and a
        # raced answer carries the registry's entries to decide again on. A batch reads
        # first, so its payloads (up to the body limit) are sent once.
        held: list[str | None] | None = [None] if len(events) == 1 else None
        for _ in range(_MAX_RACES):
            if held is None:
                read = await self.redis.hmget(keys.item_versions, fields) if fields else []
                held = [_text(h) if h is not None else None for h in read]
            decisions = _decide_in_order(events, fields, held)
            args = list(charge)
            for n, (event, field, (expected, decision)) in enumerate(
                zip(events, fields, decisions, strict=True)
            ):
                if n % 200 == 199:
                    await asyncio.sleep(0)  # a big batch is encoded in slices: other requests go between
                payload = b""
                if decision.outcome == "accepted":
                    if encoded is not None and decision.received_as == event.received_as:
                        payload = encoded[n]
                    else:
                        as_received = event.model_copy(update={"received_as": decision.received_as})
                        payload = await encode_event(as_received, event.trace_id)
                args += [
                    field,
                    expected or "",
                    decision.entry or "",
                    "1" if is_priority(event) else "0",
                    payload,
                ]
            reply = [_text(part) for part in await _SCRIPT.run(self.redis, script_keys, args)]
            if reply[0] == "limited":
                return RateLimited(retry_after_seconds(int(reply[1])))
            if reply[0] == "raced":
                held = [entry or None for entry in reply[2:]]
                continue
            if reply[0] == "ok":
                return [
                    Acceptance("accepted", entry_id=entry_id, received_as=d.received_as)
                    if d.outcome == "accepted"
                    else Acceptance(d.outcome, current_version=d.current_version)
                    for (_expected, d), entry_id in zip(decisions, reply[1:], strict=True)
                ]
        raise Contended(f"the item registry changed under each of {_MAX_RACES} attempts")


def _decide_in_order(
    events: Sequence[StoryReceived], fields: list[str], held: list[str | None]
) -> list[tuple[str | None, Decision]]:
    """Each story's (registry entry it was decided on, decision); later stories of a batch
    see the entries earlier ones of the same item will write."""
    current = dict(zip(fields, held, strict=True))
    decided = []
    for event, field in zip(events, fields, strict=True):
        expected = current[field]
        decision = decide(expected, event.story.version, event.story.pubstatus)
        if decision.entry is not None:
            current[field] = decision.entry
        decided.append((expected, decision))
    return decided


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
