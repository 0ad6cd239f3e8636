"""The publish queue: every delivery's durable state in Redis, one outlet per hash tag.

All keys of an outlet live under `{P:outlet:NAME}`, and every state change is one
Lua script over them, so the rules below hold atomically (and on Redis Cluster):

- `d:ID`        hash: the delivery (status, attempts, errors, timestamps, payload…)
- `st:STATUS`   sorted set per status, scored by last change: the index editors list
- `due`/`urgent` sorted sets scored by when a delivery may be sent (kills and
                flashes in `urgent`, which is always drained first)
- `lease`       deliveries being sent, scored by when their worker counts as lost
- `s:SID`       hash per story: the waiting delivery (`pending`), the one being sent
                (`inflight`), the newest version delivered (`sent`), whether any version
                was ever attempted (`tried`), the kill marker (`killed`); it expires with
                the retention of finished deliveries
- `disabled`    set when the outlet answered 410

Ordering per outlet and story: only one delivery of a story is ever in flight; a
newer version replaces an older one still waiting; an older version is refused once
a newer one waits, is in flight or was delivered; after a kill nothing but the kill
notice is sent, and only to an outlet that received something or may have (an
attempt was made: a timeout or a garbled answer may still have delivered it, and a
kill notice too many is harmless where a missing one leaves a killed story live).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from shared.connections import RedisClient
from shared.keys import Keys

Status = Literal["queued", "held", "sending", "delivered", "retrying", "failed", "canceled"]
STATUSES: tuple[Status, ...] = ("queued", "held", "sending", "delivered", "retrying", "failed", "canceled")
FINISHED: tuple[Status, ...] = ("delivered", "failed", "canceled")
Action = Literal["retry", "hold", "release", "cancel"]

_LUA_HELPERS = """
local function story_key(base, sid)
  return base .. 's:' .. sid
end

-- A story's ordering markers live as long as finished deliveries (retention, last ARGV).
local function remember(base, sid, field, value)
  redis.call('HSET', story_key(base, sid), field, value)
  redis.call('PEXPIRE', story_key(base, sid), tonumber(ARGV[#ARGV]))
end
local function set_status(base, id, new, now)
  local dkey = base .. 'd:' .. id
  local old = redis.call('HGET', dkey, 'status')
  if old then redis.call('ZREM', base .. 'st:' .. old, id) end
  redis.call('ZADD', base .. 'st:' .. new, now, id)
  redis.call('HSET', dkey, 'status', new, 'updated_at', now)
end

local function add_flag(dkey, flag)
  local flags = cjson.decode(redis.call('HGET', dkey, 'flags') or '[]')
  for _, f in ipairs(flags) do if f == flag then return end end
  table.insert(flags, flag)
  redis.call('HSET', dkey, 'flags', cjson.encode(flags))
end

local function unschedule(base, id)
  redis.call('ZREM', base .. 'due', id)
  redis.call('ZREM', base .. 'urgent', id)
end

local function schedule(base, id, at)
  local queue = 'due'
  if redis.call('HGET', base .. 'd:' .. id, 'urgent') == '1' then queue = 'urgent' end
  redis.call('ZADD', base .. queue, at, id)
end

local function clear_story_ref(base, sid, field, id)
  if redis.call('HGET', story_key(base, sid), field) == id then
    redis.call('HDEL', story_key(base, sid), field)
  end
end

local function cancel(base, id, reason, flag, now)
  local dkey = base .. 'd:' .. id
  unschedule(base, id)
  set_status(base, id, 'canceled', now)
  redis.call('HSET', dkey, 'hold_reason', '', 'last_error', reason, 'next_attempt_at', '')
  if flag ~= '' then add_flag(dkey, flag) end
  clear_story_ref(base, redis.call('HGET', dkey, 'story_id'), 'pending', id)
  redis.call('PEXPIRE', dkey, tonumber(ARGV[#ARGV]))
end

local function version_of(base, id)
  return tonumber(redis.call('HGET', base .. 'd:' .. id, 'version') or '-1')
end

-- Waiting again (retry, crash recovery): unless a newer version already waits.
local function requeue(base, id, at, now)
  local dkey = base .. 'd:' .. id
  local sid = redis.call('HGET', dkey, 'story_id')
  local kind = redis.call('HGET', dkey, 'kind')
  if kind ~= 'killed' then
    local pending = redis.call('HGET', story_key(base, sid), 'pending')
    if pending and pending ~= id then
      if version_of(base, pending) > version_of(base, id) then
        cancel(base, id, 'superseded by version ' .. version_of(base, pending), 'SUPERSEDED', now)
        return 'canceled'
      end
      cancel(base, pending, 'superseded by version ' .. version_of(base, id), 'SUPERSEDED', now)
    end
    remember(base, sid, 'pending', id)
  end
  set_status(base, id, 'retrying', now)
  redis.call('HSET', dkey, 'next_attempt_at', at)
  schedule(base, id, at)
  return 'retrying'
end
"""

# KEYS[1] d:ID. ARGV: base, id, sid, version, kind, status, due_ms, now, fields_json, retention_ms
_ENQUEUE = (
    _LUA_HELPERS
    + """
local base, id, sid, kind = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local version, due, now = tonumber(ARGV[4]), tonumber(ARGV[7]), tonumber(ARGV[8])
local dkey = base .. 'd:' .. id
if redis.call('EXISTS', dkey) == 1 then return {'exists', redis.call('HGET', dkey, 'status') or ''} end
if redis.call('HEXISTS', story_key(base, sid), 'killed') == 1 then return {'skipped', 'story was killed'} end
local pending = redis.call('HGET', story_key(base, sid), 'pending')
local inflight = redis.call('HGET', story_key(base, sid), 'inflight')
local sent = tonumber(redis.call('HGET', story_key(base, sid), 'sent') or '-1')
if kind == 'killed' then
  remember(base, sid, 'killed', id)
  if pending then cancel(base, pending, 'story killed', 'KILLED', now) end
  local tried = redis.call('HEXISTS', story_key(base, sid), 'tried') == 1
  if sent < 0 and not inflight and not tried then return {'skipped', 'outlet never received the story'} end
elseif kind == 'withheld' then
  if pending and version_of(base, pending) < version then
    cancel(base, pending, 'withheld by version ' .. version, '', now)
    return {'skipped', 'withheld: waiting version canceled'}
  end
  return {'skipped', 'withheld'}
else
  if sent >= version then return {'skipped', 'version ' .. sent .. ' already delivered'} end
  if inflight and version_of(base, inflight) >= version then
    return {'skipped', 'version ' .. version_of(base, inflight) .. ' is being sent'}
  end
  if pending then
    if version_of(base, pending) >= version then
      return {'skipped', 'version ' .. version_of(base, pending) .. ' is waiting'}
    end
    cancel(base, pending, 'superseded by version ' .. version, 'SUPERSEDED', now)
  end
  remember(base, sid, 'pending', id)
end
local fields = cjson.decode(ARGV[9])
for k, v in pairs(fields) do redis.call('HSET', dkey, k, v) end
redis.call('HSET', dkey, 'attempts', 0, 'round_start', 0, 'queued_at', now, 'created_at', now)
set_status(base, id, ARGV[6], now)
if ARGV[6] == 'held' then redis.call('HSET', dkey, 'next_attempt_at', due) end
schedule(base, id, due)
return {'created', ARGV[6], redis.call('HGETALL', dkey)}
"""
)

# KEYS[1] due. ARGV: base, now, lease_ms, token, retention_ms
_CLAIM = (
    _LUA_HELPERS
    + """
local base, now, lease, token = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if redis.call('EXISTS', base .. 'disabled') == 1 then return {'disabled', ''} end
for _, queue in ipairs({'urgent', 'due'}) do
  local qkey = base .. queue
  for _ = 1, 25 do
    local top = redis.call('ZRANGE', qkey, 0, 0, 'WITHSCORES')
    if #top == 0 or tonumber(top[2]) > now then break end
    local id = top[1]
    local dkey = base .. 'd:' .. id
    redis.call('ZREM', qkey, id)
    local status = redis.call('HGET', dkey, 'status')
    if status == 'queued' or status == 'retrying'
        or (status == 'held' and redis.call('HGET', dkey, 'hold_reason') == 'embargo') then
      local sid, kind = redis.call('HGET', dkey, 'story_id'), redis.call('HGET', dkey, 'kind')
      local version = version_of(base, id)
      local inflight = redis.call('HGET', story_key(base, sid), 'inflight')
      local sent = tonumber(redis.call('HGET', story_key(base, sid), 'sent') or '-1')
      if kind ~= 'killed' and redis.call('HEXISTS', story_key(base, sid), 'killed') == 1 then
        cancel(base, id, 'story killed', 'KILLED', now)
      elseif inflight and inflight ~= id then
        redis.call('ZADD', qkey, now + 100, id)
      elseif kind ~= 'killed' and sent >= version then
        cancel(base, id, 'superseded: version ' .. sent .. ' already delivered', 'SUPERSEDED', now)
      elseif kind == 'killed' and sent < 0 and redis.call('HEXISTS', story_key(base, sid), 'tried') == 0 then
        cancel(base, id, 'outlet never received the story', '', now)
      else
        remember(base, sid, 'inflight', id)
        if kind ~= 'killed' then remember(base, sid, 'tried', '1') end
        clear_story_ref(base, sid, 'pending', id)
        set_status(base, id, 'sending', now)
        redis.call('HINCRBY', dkey, 'attempts', 1)
        redis.call('HSET', dkey, 'token', token, 'hold_reason', '', 'next_attempt_at', '')
        redis.call('ZADD', base .. 'lease', now + lease, id)
        return {'claimed', id, redis.call('HGETALL', dkey)}
      end
    end
  end
end
local next_due = nil
for _, queue in ipairs({'urgent', 'due'}) do
  local top = redis.call('ZRANGE', base .. queue, 0, 0, 'WITHSCORES')
  if #top > 0 and (next_due == nil or tonumber(top[2]) < next_due) then next_due = tonumber(top[2]) end
end
return {'idle', next_due and tostring(next_due) or ''}
"""
)

# KEYS[1] d:ID. ARGV: base, id, token, now, outcome, status_code, error, next_ms, payload, age_label,
#                     flags_json, disabled_reason, retention_ms
_FINISH = (
    _LUA_HELPERS
    + """
local base, id, token, now, outcome = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local dkey = base .. 'd:' .. id
if redis.call('EXISTS', dkey) == 0 then return {'missing', {}} end
local function finish()
local status = redis.call('HGET', dkey, 'status')
local mine = redis.call('HGET', dkey, 'token') == token
local sid, kind = redis.call('HGET', dkey, 'story_id'), redis.call('HGET', dkey, 'kind')
redis.call('ZREM', base .. 'lease', id)
if mine then clear_story_ref(base, sid, 'inflight', id) end
redis.call('HSET', dkey, 'status_code', ARGV[6], 'last_error', ARGV[7])
if ARGV[9] ~= '' then redis.call('HSET', dkey, 'payload', ARGV[9]) end
if ARGV[11] ~= '' then redis.call('HSET', dkey, 'age_label', ARGV[10], 'flags', ARGV[11]) end
if outcome == 'delivered' then
  unschedule(base, id)
  set_status(base, id, 'delivered', now)
  redis.call('HSET', dkey, 'sent_at', now, 'next_attempt_at', '', 'hold_reason', '')
  local version = version_of(base, id)
  if kind ~= 'killed' and version > tonumber(redis.call('HGET', story_key(base, sid), 'sent') or '-1') then
    remember(base, sid, 'sent', version)
  end
  redis.call('PEXPIRE', dkey, tonumber(ARGV[13]))
  return 'delivered'
end
if not mine or status ~= 'sending' then return status end
if outcome == 'retry' then return requeue(base, id, tonumber(ARGV[8]), now) end
if outcome == 'canceled' then
  cancel(base, id, ARGV[7], '', now)
  return 'canceled'
end
set_status(base, id, 'failed', now)
redis.call('HSET', dkey, 'next_attempt_at', '')
clear_story_ref(base, sid, 'pending', id)
if outcome == 'disable' then redis.call('SET', base .. 'disabled', ARGV[12]) end
redis.call('PEXPIRE', dkey, tonumber(ARGV[13]))
return 'failed'
end
local result = finish()
return {result, redis.call('HGETALL', dkey)}
"""
)

# KEYS[1] lease. ARGV: base, now, retention_ms
_RECOVER = (
    _LUA_HELPERS
    + """
local base, now = ARGV[1], tonumber(ARGV[2])
local lost = redis.call('ZRANGEBYSCORE', base .. 'lease', '-inf', now, 'LIMIT', 0, 100)
local recovered = {}
for _, id in ipairs(lost) do
  redis.call('ZREM', base .. 'lease', id)
  local dkey = base .. 'd:' .. id
  if redis.call('HGET', dkey, 'status') == 'sending' then
    clear_story_ref(base, redis.call('HGET', dkey, 'story_id'), 'inflight', id)
    redis.call('HSET', dkey, 'last_error', 'interrupted: the worker sending it was lost', 'token', '')
    table.insert(recovered, id .. '=' .. requeue(base, id, now, now))
  end
end
return recovered
"""
)

# KEYS[1] d:ID. ARGV: base, id, action, now, retention_ms
_ACT = (
    _LUA_HELPERS
    + """
local base, id, action, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local dkey = base .. 'd:' .. id
local status = redis.call('HGET', dkey, 'status')
if not status then return {'missing', ''} end
local sid, kind = redis.call('HGET', dkey, 'story_id'), redis.call('HGET', dkey, 'kind')
local version = version_of(base, id)
if action == 'hold' then
  if status ~= 'queued' and status ~= 'retrying' and status ~= 'held' then
    return {'conflict', 'only a waiting delivery can be held (it is ' .. status .. ')'}
  end
  unschedule(base, id)
  set_status(base, id, 'held', now)
  redis.call('HSET', dkey, 'hold_reason', 'editor', 'next_attempt_at', '')
  return {'ok', 'held'}
elseif action == 'release' then
  if status ~= 'held' then
    return {'conflict', 'only a held delivery can be released (it is ' .. status .. ')'}
  end
  local embargo = tonumber(redis.call('HGET', dkey, 'embargo_ms') or '0')
  if embargo > now then
    set_status(base, id, 'held', now)
    redis.call('HSET', dkey, 'hold_reason', 'embargo', 'next_attempt_at', embargo)
    schedule(base, id, embargo)
    return {'ok', 'held'}
  end
  set_status(base, id, 'queued', now)
  redis.call('HSET', dkey, 'hold_reason', '', 'next_attempt_at', '')
  schedule(base, id, now)
  return {'ok', 'queued'}
elseif action == 'cancel' then
  if status == 'sending' or status == 'delivered' or status == 'canceled' then
    return {'conflict', 'a ' .. status .. ' delivery cannot be canceled'}
  end
  cancel(base, id, 'canceled by an editor', '', now)
  return {'ok', 'canceled'}
elseif action == 'retry' then
  if status == 'retrying' or status == 'queued' then
    schedule(base, id, now)
    redis.call('HSET', dkey, 'next_attempt_at', now)
    return {'ok', status}
  end
  if status ~= 'failed' and status ~= 'canceled' then
    return {'conflict', 'a ' .. status .. ' delivery cannot be retried'}
  end
  if redis.call('EXISTS', base .. 'disabled') == 1 then
    return {'conflict', 'the outlet is disabled; enable it first'}
  end
  if kind ~= 'killed' then
    if redis.call('HEXISTS', story_key(base, sid), 'killed') == 1 then
      return {'conflict', 'the story was killed'}
    end
    local sent = tonumber(redis.call('HGET', story_key(base, sid), 'sent') or '-1')
    if sent >= version then return {'conflict', 'version ' .. sent .. ' was already delivered'} end
    local pending = redis.call('HGET', story_key(base, sid), 'pending')
    if pending and pending ~= id then
      return {'conflict', 'version ' .. version_of(base, pending) .. ' is waiting'}
    end
    local inflight = redis.call('HGET', story_key(base, sid), 'inflight')
    if inflight and version_of(base, inflight) >= version then
      return {'conflict', 'version ' .. version_of(base, inflight) .. ' is being sent'}
    end
    remember(base, sid, 'pending', id)
  end
  redis.call('PERSIST', dkey)
  set_status(base, id, 'queued', now)
  redis.call('HSET', dkey, 'round_start', redis.call('HGET', dkey, 'attempts'), 'next_attempt_at', '',
    'hold_reason', '')
  schedule(base, id, now)
  return {'ok', 'queued'}
end
return {'conflict', 'unknown action'}
"""
)


def now_ms() -> int:
    return int(time.time() * 1000)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _iso(ms: str) -> str | None:
    if not ms:
        return None
    return datetime.fromtimestamp(int(float(ms)) / 1000, UTC).isoformat()


@dataclass(frozen=True)
class Delivery:
    """One outlet's copy of one story version, as stored."""

    outlet: str
    fields: dict[str, str]

    @property
    def id(self) -> str:
        return self.fields["id"]

    @property
    def status(self) -> str:
        return self.fields.get("status", "")

    @property
    def story_id(self) -> str:
        return self.fields.get("story_id", "")

    @property
    def attempts(self) -> int:
        return int(self.fields.get("attempts") or 0)

    @property
    def round_attempts(self) -> int:
        return self.attempts - int(self.fields.get("round_start") or 0)

    @property
    def updated_ms(self) -> int:
        return int(float(self.fields.get("updated_at") or 0))

    @property
    def flags(self) -> list[str]:
        flags: list[str] = json.loads(self.fields.get("flags") or "[]")
        return flags

    def public(self) -> dict[str, Any]:
        """The Delivery JSON of the editors' API and the live feed."""
        f = self.fields
        code = f.get("status_code") or ""
        return {
            "id": self.id,
            "story_id": self.story_id,
            "outlet": self.outlet,
            "partner": f.get("partner", ""),
            "headline": f.get("headline", ""),
            "version": int(f.get("version") or 0),
            "status": self.status,
            "attempts": self.attempts,
            "last_error": f.get("last_error") or None,
            "status_code": int(code) if code.isdigit() else None,
            "queued_at": _iso(f.get("queued_at", "")),
            "sent_at": _iso(f.get("sent_at", "")),
            "updated_at": _iso(f.get("updated_at", "")),
            "next_attempt_at": _iso(f.get("next_attempt_at", "")),
            "hold_reason": f.get("hold_reason") or None,
            "age_label": f.get("age_label") or None,
            "flags": self.flags,
            "event_type": f.get("event_type", ""),
        }


@dataclass(frozen=True)
class Claim:
    delivery: Delivery | None
    next_due_ms: int | None = None
    disabled: bool = False


class OutletQueue:
    """Script calls for one outlet's queue."""

    def __init__(self, redis: RedisClient, keys: Keys, outlet: str, retention_hours: float) -> None:
        self.redis = redis
        self.outlet = outlet
        self.base = keys.outlet(outlet, "")
        self.retention_ms = int(retention_hours * 3600 * 1000)

    def key(self, part: str) -> str:
        return self.base + part

    async def enqueue(
        self,
        *,
        delivery_id: str,
        story_id: str,
        version: int,
        kind: str,
        held_until_ms: int | None,
        fields: dict[str, Any],
    ) -> tuple[str, str, Delivery | None]:
        """Create a delivery unless the ordering rules refuse it.

        Returns ('created'|'exists'|'skipped', detail, the new row when created).
        """
        now = now_ms()
        status = "held" if held_until_ms and held_until_ms > now else "queued"
        due = held_until_ms if status == "held" and held_until_ms else now
        values = {k: str(v) for k, v in fields.items()}
        values.update(id=delivery_id, story_id=story_id, version=str(version), kind=kind)
        if status == "held":
            values.update(hold_reason="embargo", embargo_ms=str(due))
        result = await self.redis.eval(
            _ENQUEUE,
            1,
            self.key("d:" + delivery_id),
            self.base,
            delivery_id,
            story_id,
            version,
            kind,
            status,
            due,
            now,
            json.dumps(values),
            self.retention_ms,
        )
        row = self._row(result[2]) if len(result) > 2 else None
        return _text(result[0]), _text(result[1]), row

    def _row(self, flat_raw: list[Any]) -> Delivery | None:
        flat = [_text(v) for v in flat_raw]
        return Delivery(self.outlet, dict(zip(flat[::2], flat[1::2], strict=True))) if flat else None

    async def claim(self, token: str, lease_ms: int) -> Claim:
        result = await self.redis.eval(
            _CLAIM, 1, self.key("due"), self.base, now_ms(), lease_ms, token, self.retention_ms
        )
        kind = _text(result[0])
        if kind == "claimed":
            return Claim(self._row(result[2]))
        if kind == "disabled":
            return Claim(None, disabled=True)
        next_due = _text(result[1])
        return Claim(None, int(float(next_due)) if next_due else None)

    async def finish(
        self,
        delivery: Delivery,
        *,
        outcome: str,
        status_code: int | None = None,
        error: str = "",
        next_ms: int = 0,
        payload: bytes = b"",
        age_label: str | None = None,
        flags: list[str] | None = None,
        disabled_reason: str = "",
    ) -> tuple[str, Delivery | None]:
        """Record an attempt's outcome; returns the resulting status and the row as it now is."""
        result = await self.redis.eval(
            _FINISH,
            1,
            self.key("d:" + delivery.id),
            self.base,
            delivery.id,
            delivery.fields.get("token", ""),
            now_ms(),
            outcome,
            "" if status_code is None else status_code,
            error[:2000],
            next_ms,
            payload,
            age_label or "",
            "" if flags is None else json.dumps(flags),
            disabled_reason,
            self.retention_ms,
        )
        return _text(result[0]), self._row(result[1])

    async def recover(self) -> list[str]:
        """Queue again every delivery whose worker was lost mid-send (lease expired)."""
        result = await self.redis.eval(_RECOVER, 1, self.key("lease"), self.base, now_ms(), self.retention_ms)
        return [_text(r) for r in result]

    async def act(self, delivery_id: str, action: Action) -> tuple[str, str]:
        result = await self.redis.eval(
            _ACT, 1, self.key("d:" + delivery_id), self.base, delivery_id, action, now_ms(), self.retention_ms
        )
        return _text(result[0]), _text(result[1])

    async def get(self, delivery_id: str) -> Delivery | None:
        raw = await self.redis.hgetall(self.key("d:" + delivery_id))
        if not raw:
            return None
        return Delivery(self.outlet, {_text(k): _text(v) for k, v in raw.items()})

    async def recent(self, statuses: Iterable[str], limit: int) -> list[Delivery]:
        """The most recently changed deliveries of the given statuses, newest first."""
        ids: list[str] = []
        for status in statuses:
            ids.extend(_text(i) for i in await self.redis.zrevrange(self.key("st:" + status), 0, limit - 1))
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for delivery_id in ids:
                pipe.hgetall(self.key("d:" + delivery_id))
            rows = await pipe.execute()
        found = [
            Delivery(self.outlet, {_text(k): _text(v) for k, v in row.items()})
            for row in rows
            if row and b"id" in row
        ]
        found.sort(key=lambda d: d.updated_ms, reverse=True)
        return found[:limit]

    async def counts(self) -> dict[str, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for status in STATUSES:
                pipe.zcard(self.key("st:" + status))
            sizes = await pipe.execute()
        return dict(zip(STATUSES, (int(s) for s in sizes), strict=True))

    async def forget_finished(self) -> None:
        """Drop index entries of finished deliveries past retention (their hashes expire on their own)."""
        floor = now_ms() - self.retention_ms
        for status in FINISHED:
            await self.redis.zremrangebyscore(self.key("st:" + status), "-inf", floor)

    async def disabled(self) -> str | None:
        value = await self.redis.get(self.key("disabled"))
        return None if value is None else _text(value)

    async def enable(self) -> bool:
        return bool(await self.redis.delete(self.key("disabled")))
