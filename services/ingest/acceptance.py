"""Accepting a story onto the received stream, exactly once per version.

One Lua script compares the item's version with the newest one seen and appends
the story in the same atomic step, so concurrent sends of one item by several
ingest replicas can neither both pass nor leave a version recorded without its
story on the stream. The registry and the streams share a hash tag, and the
registry lives in Redis, so the decision survives restarts and is shared by
every replica.

Outcomes: a first version is forwarded as `new`, a higher one as `update`, a
`withheld` one as `withheld`; a kill (`canceled`) goes to the priority stream as
`kill` and is final: the item can never be resurrected. The same version again
is a `duplicate`, a lower one `superseded`; neither is forwarded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.connections import RedisClient
from shared.events import ReceivedAs, StoryReceived
from shared.keys import Keys
from shared.streams import encode_event

Outcome = Literal["accepted", "duplicate", "superseded", "killed"]

# KEYS: registry, stream.
# ARGV: item field, version, mode (usable|withheld|kill), payload-as-new, payload-as-update
# The registry holds "<version>" or "<version>:killed". Which payload is appended
# depends on what the registry says, so both are prepared (they differ only in
# `received_as`): the script stays one round trip and atomic.
_ACCEPT = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
local version = tonumber(ARGV[2])
local mode = ARGV[3]
local payload = ARGV[4]
local received_as = 'new'
if mode == 'kill' then received_as = 'kill' elseif mode == 'withheld' then received_as = 'withheld' end
if current then
  local seen = tonumber(string.match(current, '^%d+'))
  if string.find(current, ':killed', 1, true) then
    if mode == 'kill' then return {'duplicate', tostring(seen), ''} end
    return {'killed', tostring(seen), ''}
  end
  if mode ~= 'kill' then
    if version == seen then return {'duplicate', tostring(seen), ''} end
    if version < seen then return {'superseded', tostring(seen), ''} end
    if mode == 'usable' then
      received_as = 'update'
      payload = ARGV[5]
    end
  elseif version < seen then
    version = seen
  end
end
local marker = tostring(version)
if mode == 'kill' then marker = marker .. ':killed' end
local id = redis.call('XADD', KEYS[2], '*', '__data__', payload)
redis.call('HSET', KEYS[1], ARGV[1], marker)
return {'accepted', id, received_as}
"""


@dataclass(frozen=True)
class Acceptance:
    outcome: Outcome
    entry_id: str | None = None
    current_version: int | None = None
    received_as: ReceivedAs | None = None


def stream_for(keys: Keys, event: StoryReceived) -> str:
    """Kills and flashes/bulletins (urgency 1-2) overtake routine traffic."""
    story = event.story
    urgent = story.pubstatus == "canceled" or (story.urgency or 9) <= 2
    return keys.received_priority if urgent else keys.received


async def accept(redis: RedisClient, keys: Keys, event: StoryReceived) -> Acceptance:
    story = event.story
    mode = {"canceled": "kill", "withheld": "withheld"}.get(story.pubstatus, "usable")
    if mode == "usable":
        as_new = await encode_event(event.model_copy(update={"received_as": "new"}), event.trace_id)
        as_update = await encode_event(event.model_copy(update={"received_as": "update"}), event.trace_id)
    else:
        fixed: ReceivedAs = "kill" if mode == "kill" else "withheld"
        as_new = await encode_event(event.model_copy(update={"received_as": fixed}), event.trace_id)
        as_update = b""
    outcome, detail, received_as = await redis.eval(
        _ACCEPT,
        2,
        keys.item_versions,
        stream_for(keys, event),
        f"{story.partner}\x1f{story.uri}",
        story.version,
        mode,
        as_new,
        as_update,
    )
    outcome_text, detail_text, as_text = (_text(outcome), _text(detail), _text(received_as))
    if outcome_text == "accepted":
        return Acceptance("accepted", entry_id=detail_text, received_as=as_text)  # type: ignore[arg-type]
    return Acceptance(outcome_text, current_version=int(detail_text))  # type: ignore[arg-type]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
