"""Accepting a story onto the received stream, exactly once per version.

One Lua script compares the item's version with the newest one seen and appends
the story in the same atomic step, so concurrent sends of one item by several
ingest replicas can neither both pass nor leave a version recorded without its
story on the stream. The registry and the stream share a hash tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.connections import RedisClient
from shared.events import StoryReceived
from shared.keys import Keys
from shared.streams import encode_event

Outcome = Literal["accepted", "duplicate", "superseded", "killed"]

# KEYS: registry, stream.  ARGV: item field, version, is_kill, payload
# The registry holds "<version>" or "<version>:killed".
_ACCEPT = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
local version = tonumber(ARGV[2])
if current then
  local seen = tonumber(string.match(current, '^%d+'))
  if string.find(current, ':killed', 1, true) then return {'killed', tostring(seen)} end
  if ARGV[3] ~= '1' then
    if version == seen then return {'duplicate', tostring(seen)} end
    if version < seen then return {'superseded', tostring(seen)} end
  elseif version < seen then
    version = seen
  end
end
local marker = tostring(version)
if ARGV[3] == '1' then marker = marker .. ':killed' end
local id = redis.call('XADD', KEYS[2], '*', '__data__', ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], marker)
return {'accepted', id}
"""


@dataclass(frozen=True)
class Acceptance:
    outcome: Outcome
    entry_id: str | None = None
    current_version: int | None = None


async def accept(redis: RedisClient, keys: Keys, event: StoryReceived) -> Acceptance:
    story = event.story
    is_kill = story.pubstatus == "canceled"
    stream = keys.received_priority if is_kill or (story.urgency or 9) <= 2 else keys.received
    payload = await encode_event(event, event.trace_id)
    outcome, detail = await redis.eval(
        _ACCEPT,
        2,
        keys.item_versions,
        stream,
        f"{story.partner}\x1f{story.uri}",
        story.version,
        "1" if is_kill else "0",
        payload,
    )
    outcome_text = outcome.decode() if isinstance(outcome, bytes) else str(outcome)
    detail_text = detail.decode() if isinstance(detail, bytes) else str(detail)
    if outcome_text == "accepted":
        return Acceptance("accepted", entry_id=detail_text)
    return Acceptance(outcome_text, current_version=int(detail_text))  # type: ignore[arg-type]
