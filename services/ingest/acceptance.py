"""Accepting stories onto the received streams, exactly once per version.

One Lua script charges the partner's rate bucket, compares each item's version
with the newest one seen and appends the story, all in one atomic step: concurrent
sends of one item by several ingest replicas can neither both pass nor leave a
version recorded without its story on the stream, and a rate-limited request
leaves nothing behind. Registry, bucket and streams share the `{P:in}` hash tag;
the registry lives in Redis, so decisions survive restarts and are shared.

Outcomes: a first version is forwarded as `new`, a higher one as `update`, a
`withheld` one as `withheld`; a kill (`canceled`) goes to the priority stream as
`kill` and is final: the item can never be resurrected. The same version again
is a `duplicate`, a lower one `superseded`; neither is forwarded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

from services.ingest.ratelimit import TAKE_TOKENS, RateLimit, retry_after_seconds
from shared.connections import RedisClient
from shared.events import ReceivedAs, StoryReceived
from shared.keys import Keys
from shared.streams import encode_event

Outcome = Literal["accepted", "duplicate", "superseded", "killed"]

# KEYS: registry, routine stream, priority stream, rate bucket.
# ARGV: rate, burst, cost, then 5 per item: registry field, version, mode (usable|withheld|kill),
#   priority (1|0), payload (the encoded event, `received_as` "new" for usable items).
# The registry holds "<version>" or "<version>:killed". Only the script knows whether a
# usable item is new or an update; for an update it rewrites the event's top-level
# `"received_as":"new"` (its first occurrence: the field precedes the story, and the
# envelope does not record the body's length), so the script stays one round trip.
# Returns {'limited', wait_ms} or {'ok', outcome1, detail1, as1, outcome2, ...}.
# Versions are written with '%d': Lua's tostring keeps 14 digits ('1e+14'), which reads back wrong.
_ACCEPT = (
    """
local bucket = KEYS[4]
local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local AS_NEW, AS_UPDATE = '"received_as":"new"', '"received_as":"update"'
"""
    + TAKE_TOKENS
    + """
if not allowed then return {'limited', tostring(wait_ms)} end
local results = {'ok'}
for base = 4, #ARGV, 5 do
  local field, version, mode = ARGV[base], tonumber(ARGV[base + 1]), ARGV[base + 2]
  local stream = KEYS[2]
  if ARGV[base + 3] == '1' then stream = KEYS[3] end
  local payload = ARGV[base + 4]
  local received_as = 'new'
  if mode == 'kill' then received_as = 'kill' elseif mode == 'withheld' then received_as = 'withheld' end
  local current = redis.call('HGET', KEYS[1], field)
  local outcome, detail = nil, nil
  if current then
    local seen = tonumber(string.match(current, '^%d+'))
    if string.find(current, ':killed', 1, true) then
      if mode == 'kill' then outcome = 'duplicate' else outcome = 'killed' end
      detail = string.format('%d', seen)
    elseif mode ~= 'kill' then
      if version == seen then outcome, detail = 'duplicate', string.format('%d', seen)
      elseif version < seen then outcome, detail = 'superseded', string.format('%d', seen)
      elseif mode == 'usable' then
        received_as = 'update'
        local from, to = string.find(payload, AS_NEW, 1, true)
        payload = string.sub(payload, 1, from - 1) .. AS_UPDATE .. string.sub(payload, to + 1)
      end
    elseif version < seen then
      version = seen
    end
  end
  if outcome then
    table.insert(results, outcome)
    table.insert(results, detail)
    table.insert(results, '')
  else
    local marker = string.format('%d', version)
    if mode == 'kill' then marker = marker .. ':killed' end
    local id = redis.call('XADD', stream, '*', '__data__', payload)
    redis.call('HSET', KEYS[1], field, marker)
    table.insert(results, 'accepted')
    table.insert(results, id)
    table.insert(results, received_as)
  end
end
return results
"""
)


@dataclass(frozen=True)
class Acceptance:
    outcome: Outcome
    entry_id: str | None = None
    current_version: int | None = None
    received_as: ReceivedAs | None = None


@dataclass(frozen=True)
class RateLimited:
    retry_after_seconds: int


def is_priority(event: StoryReceived) -> bool:
    """Kills and flashes/bulletins (urgency 1-2) overtake routine traffic."""
    story = event.story
    return story.pubstatus == "canceled" or (story.urgency or 9) <= 2


async def _item_args(event: StoryReceived) -> list[object]:
    story = event.story
    mode = {"canceled": "kill", "withheld": "withheld"}.get(story.pubstatus, "usable")
    received_as: ReceivedAs = "kill" if mode == "kill" else "withheld" if mode == "withheld" else "new"
    payload = await encode_event(event.model_copy(update={"received_as": received_as}), event.trace_id)
    field = f"{story.partner}\x1f{story.uri}"
    return [field, story.version, mode, "1" if is_priority(event) else "0", payload]


class Acceptor:
    """Runs the accept script by its SHA (EVALSHA; loaded again if Redis forgot it)."""

    def __init__(self, redis: RedisClient, keys: Keys) -> None:
        self.keys = keys
        self.script = redis.register_script(_ACCEPT)

    async def accept(
        self, partner: str, events: Sequence[StoryReceived], limit: RateLimit
    ) -> RateLimited | list[Acceptance]:
        """Charge `partner`'s bucket for the items, then accept each; nothing at all if limited."""
        args: list[object] = [limit.rate_per_second, limit.burst, limit.cost(len(events))]
        for event in events:
            args.extend(await _item_args(event))
        keys = self.keys
        script_keys = [keys.item_versions, keys.received, keys.received_priority, keys.ingest_bucket(partner)]
        reply = [_text(part) for part in await self.script(keys=script_keys, args=args)]
        if reply[0] == "limited":
            return RateLimited(retry_after_seconds(int(reply[1])))
        results = []
        for outcome, detail, received_as in zip(reply[1::3], reply[2::3], reply[3::3], strict=True):
            if outcome == "accepted":
                results.append(
                    Acceptance("accepted", entry_id=detail, received_as=cast(ReceivedAs, received_as))
                )
            else:
                results.append(Acceptance(cast(Outcome, outcome), current_version=int(detail)))
        return results


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
