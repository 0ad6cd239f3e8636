"""The story index in Redis, shared by every enrich replica and the API.

All keys live under the `{P:index}` hash tag (one cluster slot), so each Lua
script below is atomic and declares every key it touches:

- `docs`       hash: story id -> IndexEntry JSON (one entry per story: versions replace it);
- `df`         hash: term / `e:<entity>` -> how many stories had it, and `#docs`;
- `p:<lang>:t:<term>`, `p:<lang>:e:<entity>`
               postings, sorted sets of story ids scored by first publication; only
               *usable* stories are posted; each is trimmed to `posting_cap` newest on
               every write, loses an entry's id when the entry expires, and expires
               itself when unused for `ttl`;
- `embargoed`  sorted set: story id -> embargo end (candidates are skipped until then);
- `killed`     sorted set: story id -> kill time (a late older version cannot resurrect it);
- `expiry`     sorted set: story id -> when we last indexed a version of it (dropped after the ttl).

Expiry runs on our clock, from when a story entered the index, never from the
story's own date: an archive backfill or a 2016 story posted today is indexed and
linked like any other, and whether two old stories link depends only on the time
between them (the linker's window), not on their distance from today.

A lookup reads a bounded slice of a bounded number of postings, so its cost does
not grow with the index (bench/related.py measures it at 1k, 10k and 100k stories).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from redis.exceptions import NoScriptError

from services.enrich.related.features import DOCS_FIELD, IndexEntry
from shared.connections import RedisClient
from shared.keys import Keys

PutOutcome = Literal["indexed", "killed", "stale"]


@dataclass(frozen=True)
class IndexPolicy:
    ttl_seconds: float
    posting_cap: int = 2000  # stories kept per term / entity posting (newest)
    read_per_posting: int = 64  # stories read from each posting per lookup
    max_candidates: int = 64  # entries fetched and scored per lookup
    expire_batch: int = 16  # expired entries dropped per write (amortised housekeeping)


class _Script:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()

    async def __call__(self, redis: RedisClient, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await redis.eval(self.source, len(keys), *keys, *args)


_CANDIDATES = _Script(
    """
-- KEYS: docs, embargoed, postings...   ARGV: exclude, now, per_posting, max_candidates,
-- mode ('earlier' | 'around'), from, until, weight per posting...
local exclude, now = ARGV[1], tonumber(ARGV[2])
local per, cap, mode = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local from, untl = ARGV[6], ARGV[7]
local acc, ids = {}, {}
local function add(members, w)
  for _, id in ipairs(members) do
    if acc[id] == nil then acc[id] = 0; ids[#ids + 1] = id end
    acc[id] = acc[id] + w
  end
end
for i = 3, #KEYS do
  local w = tonumber(ARGV[5 + i])
  if mode == 'earlier' then
    add(redis.call('ZREVRANGEBYSCORE', KEYS[i], untl, from, 'LIMIT', 0, per), w)
  else
    local half = math.ceil(per / 2)
    add(redis.call('ZREVRANGEBYSCORE', KEYS[i], untl, '-inf', 'LIMIT', 0, half), w)
    add(redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. untl, '+inf', 'LIMIT', 0, half), w)
  end
end
table.sort(ids, function(a, b) return acc[a] > acc[b] end)
local out = {}
for _, id in ipairs(ids) do
  if #out >= 2 * cap then break end
  if id ~= exclude then
    local until_ts = redis.call('ZSCORE', KEYS[2], id)
    if not until_ts or tonumber(until_ts) <= now then
      local entry = redis.call('HGET', KEYS[1], id)
      if entry then out[#out + 1] = id; out[#out + 1] = entry end
    end
  end
end
return out
"""
)

_PUT = _Script(
    """
-- KEYS: docs, df, embargoed, killed, expiry, old postings (n_old)..., new postings (n_new)...,
--       postings of the expired entries being dropped...
-- ARGV: id, expected sha1 of current entry ('' if none), action ('put' | 'kill'), entry,
-- first, embargo ('' if none), now, cutoff, posting_cap, ttl_ms, n_old, n_new, n_expired,
-- then per expired entry: its id and how many of the trailing KEYS are its postings,
-- then the df fields...
local docs, df, embargoed, killed, expiry = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, expected, action = ARGV[1], ARGV[2], ARGV[3]
local now, cutoff = tonumber(ARGV[7]), tonumber(ARGV[8])
local posting_cap, ttl_ms = tonumber(ARGV[9]), tonumber(ARGV[10])
local n_old, n_new, n_expired = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])

local current = redis.call('HGET', docs, id)
local current_sha = ''
if current then current_sha = redis.sha1hex(current) end
if current_sha ~= expected then return 'conflict' end

-- amortised housekeeping: drop a few entries indexed longer ago than the ttl (with their
-- posting ids), old tombstones, lifted embargoes
local key_at, arg_at = 6 + n_old + n_new, 14
for _ = 1, n_expired do
  local old_id, n = ARGV[arg_at], tonumber(ARGV[arg_at + 1])
  local indexed = redis.call('ZSCORE', expiry, old_id)
  -- another replica may have dropped (or a kill removed) it since it was read
  if old_id ~= id and indexed and tonumber(indexed) <= cutoff then
    for i = key_at, key_at + n - 1 do redis.call('ZREM', KEYS[i], old_id) end
    redis.call('HDEL', docs, old_id)
    redis.call('ZREM', expiry, old_id)
  end
  key_at, arg_at = key_at + n, arg_at + 2
end
redis.call('ZREMRANGEBYSCORE', killed, '-inf', cutoff)
redis.call('ZREMRANGEBYSCORE', embargoed, '-inf', now)

if redis.call('ZSCORE', killed, id) then return 'killed' end
for i = 6, 5 + n_old do redis.call('ZREM', KEYS[i], id) end

if action == 'kill' then
  redis.call('HDEL', docs, id)
  redis.call('ZREM', expiry, id)
  redis.call('ZREM', embargoed, id)
  redis.call('ZADD', killed, now, id)
  return 'killed'
end

local first = tonumber(ARGV[5])
redis.call('HSET', docs, id, ARGV[4])
-- a new version is fresh copy: its time in the index starts again
redis.call('ZADD', expiry, now, id)
if not current then
  -- document frequencies count stories, not versions
  redis.call('HINCRBY', df, '#docs', 1)
  for i = arg_at, #ARGV do redis.call('HINCRBY', df, ARGV[i], 1) end
end
if ARGV[6] ~= '' and tonumber(ARGV[6]) > now then
  redis.call('ZADD', embargoed, ARGV[6], id)
else
  redis.call('ZREM', embargoed, id)
end
for i = 6 + n_old, 5 + n_old + n_new do
  local key = KEYS[i]
  redis.call('ZADD', key, first, id)
  local size = redis.call('ZCARD', key)
  if size > posting_cap then redis.call('ZREMRANGEBYRANK', key, 0, size - posting_cap - 1) end
  redis.call('PEXPIRE', key, ttl_ms)
end
return 'indexed'
"""
)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class StoryIndex:
    """Reads and writes of the shared index; every method is one or two round trips."""

    MAX_CONFLICT_RETRIES = 5

    def __init__(self, redis: RedisClient, keys: Keys, policy: IndexPolicy) -> None:
        self.redis, self.keys, self.policy = redis, keys, policy
        self.docs = keys.index("docs")
        self.df = keys.index("df")
        self.embargoed = keys.index("embargoed")
        self.killed = keys.index("killed")
        self.expiry = keys.index("expiry")

    def term_posting(self, language: str, term: str) -> str:
        return self.keys.index(f"p:{language}:t:{term}")

    def entity_posting(self, language: str, entity_id: str) -> str:
        return self.keys.index(f"p:{language}:e:{entity_id}")

    def postings_of(self, entry: IndexEntry) -> list[str]:
        return [
            *(self.term_posting(entry.language, t) for t in entry.posted_terms()),
            *(self.entity_posting(entry.language, e) for e in entry.entities),
        ]

    async def frequencies(self, fields: Iterable[str]) -> tuple[dict[str, int], int]:
        """Document frequencies of the given terms / entity fields, and the number of stories."""
        names = list(dict.fromkeys(fields))
        values = await self.redis.hmget(self.df, [DOCS_FIELD, *names])
        docs = int(values[0] or 0)
        return {name: int(v) for name, v in zip(names, values[1:], strict=True) if v}, docs

    async def get(self, story_id: str) -> IndexEntry | None:
        raw = await self.redis.hget(self.docs, story_id)
        return IndexEntry.from_json(raw) if raw else None

    async def candidates(
        self,
        query: IndexEntry,
        weights: Mapping[str, float],
        *,
        now: float,
        earlier_than: float | None = None,
        since: float | None = None,
    ) -> list[IndexEntry]:
        """Entries sharing postings with the query, most shared weight first.

        With `earlier_than`, only stories first published in [since, earlier_than];
        otherwise the stories nearest in time on both sides, across the whole index.
        """
        if not weights:
            return []
        mode = "earlier" if earlier_than is not None else "around"
        until = earlier_than if earlier_than is not None else query.first
        reply = await _CANDIDATES(
            self.redis,
            [self.docs, self.embargoed, *weights],
            [
                query.story_id,
                now,
                self.policy.read_per_posting,
                self.policy.max_candidates,
                mode,
                "-inf" if since is None else since,
                until,
                *weights.values(),
            ],
        )
        return [IndexEntry.from_json(reply[i + 1]) for i in range(0, len(reply), 2)]

    async def put(self, entry: IndexEntry, df_fields: Sequence[str], *, now: float) -> PutOutcome:
        """Index a story version (replacing the previous one); withheld stories are kept unposted."""
        return await self._write("put", entry.story_id, entry, df_fields, now)

    async def kill(self, story_id: str, *, now: float) -> PutOutcome:
        """Remove a story for good: it will never be offered again, whatever arrives later."""
        return await self._write("kill", story_id, None, (), now)

    async def _write(
        self,
        action: str,
        story_id: str,
        entry: IndexEntry | None,
        df_fields: Sequence[str],
        now: float,
    ) -> PutOutcome:
        cutoff = now - self.policy.ttl_seconds
        for _ in range(self.MAX_CONFLICT_RETRIES):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hget(self.docs, story_id)
                pipe.zrangebyscore(self.expiry, "-inf", cutoff, start=0, num=self.policy.expire_batch)
                raw, expired_ids = await pipe.execute()
            current = IndexEntry.from_json(raw) if raw else None
            if entry is not None and current is not None and current.version > entry.version:
                return "stale"  # a late older version never replaces a newer one
            expected = hashlib.sha1(raw, usedforsecurity=False).hexdigest() if raw else ""
            old_postings = self.postings_of(current) if current else []
            new_postings = self.postings_of(entry) if entry and entry.status == "usable" else []
            expired = await self._expired(expired_ids)
            outcome = await _PUT(
                self.redis,
                [
                    self.docs,
                    self.df,
                    self.embargoed,
                    self.killed,
                    self.expiry,
                    *old_postings,
                    *new_postings,
                    *(key for _, postings in expired for key in postings),
                ],
                [
                    story_id,
                    expected,
                    action,
                    entry.to_json() if entry else "",
                    entry.first if entry else 0,
                    entry.embargo if entry and entry.embargo else "",
                    now,
                    cutoff,
                    self.policy.posting_cap,
                    int(self.policy.ttl_seconds * 1000),
                    len(old_postings),
                    len(new_postings),
                    len(expired),
                    *(arg for old_id, postings in expired for arg in (old_id, len(postings))),
                    *df_fields,
                ],
            )
            result = _text(outcome)
            if result != "conflict":
                return result  # type: ignore[return-value]
        raise RuntimeError(f"index entry {story_id} kept changing under {self.MAX_CONFLICT_RETRIES} writes")

    async def _expired(self, ids: Sequence[bytes | str]) -> list[tuple[str, list[str]]]:
        """(id, posting keys) of entries past the ttl, so dropping them also clears their postings."""
        if not ids:
            return []
        names = [_text(i) for i in ids]
        raws = await self.redis.hmget(self.docs, names)
        return [
            (name, self.postings_of(IndexEntry.from_json(raw)) if raw else [])
            for name, raw in zip(names, raws, strict=True)
        ]
