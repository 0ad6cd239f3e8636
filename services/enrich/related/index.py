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

Linking and indexing one story takes three round trips: `prepare` (the query's
document frequencies, the story's current entry and a few expired entries, one
pipeline), `candidates` (one script, which also returns the frequencies that
weigh the candidates) and `put` (one script).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from services.enrich.related.features import DOCS_FIELD, NORM_FRESH_GROWTH, IndexEntry, Rarity
from shared.connections import RedisClient
from shared.keys import Keys
from shared.scripts import LuaScript

_LUA = Path(__file__).with_name("lua")

PutOutcome = Literal["indexed", "killed", "stale"]


@dataclass(frozen=True)
class IndexPolicy:
    ttl_seconds: float
    posting_cap: int = 2000  # stories kept per term / entity posting (newest)
    read_per_posting: int = 64  # stories read from each posting per lookup
    max_candidates: int = 64  # entries fetched and scored per lookup
    expire_batch: int = 16  # expired entries dropped per write (amortised housekeeping)


_CANDIDATES = LuaScript.load(_LUA / "candidates.lua")

_PUT = LuaScript.load(_LUA / "put.lua")

_EXPIRED = LuaScript.load(_LUA / "expired.lua")


@dataclass(frozen=True)
class Prepared:
    """What one pipelined read before linking a story tells: the rarity of its fields, and
    what its write needs (the entry it replaces, expired entries to drop on the way)."""

    rarity: Rarity
    current: bytes | None
    expired: list[tuple[str, list[str]]]  # (id, posting keys) of entries past the ttl


@dataclass(frozen=True)
class Candidates:
    entries: list[IndexEntry]
    df: dict[str, int]  # frequencies of the terms and entities of entries whose norms are stale


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

    async def frequencies(self, fields: Iterable[str]) -> Rarity:
        """Document frequencies of the given terms / entity fields, and the number of stories."""
        names = list(dict.fromkeys(fields))
        return self._rarity(names, await self.redis.hmget(self.df, [DOCS_FIELD, *names]))

    @staticmethod
    def _rarity(names: list[str], values: Sequence[bytes | None]) -> Rarity:
        df = {name: int(v) for name, v in zip(names, values[1:], strict=True) if v}
        return Rarity(df, int(values[0] or 0))

    async def prepare(self, story_id: str, fields: Iterable[str], *, now: float) -> Prepared:
        """One round trip before linking: the fields' frequencies and the write's pre-read."""
        names = list(dict.fromkeys(fields))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self.df, [DOCS_FIELD, *names])
            pipe.hget(self.docs, story_id)
            _EXPIRED.queue(
                pipe, [self.docs, self.expiry], [now - self.policy.ttl_seconds, self.policy.expire_batch]
            )
            values, current, expired = await pipe.execute()
        return Prepared(self._rarity(names, values), current, self._expired(expired))

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
    ) -> Candidates:
        """Entries sharing postings with the query, most shared weight first, with the
        document frequencies of their terms and entities.

        With `earlier_than`, only stories first published in [since, earlier_than];
        otherwise the stories nearest in time on both sides, across the whole index.
        """
        if not weights:
            return Candidates([], {})
        mode = "earlier" if earlier_than is not None else "around"
        until = earlier_than if earlier_than is not None else query.first
        found, freqs = await _CANDIDATES.run(
            self.redis,
            [self.docs, self.embargoed, self.df, *weights],
            [
                query.story_id,
                now,
                self.policy.read_per_posting,
                self.policy.max_candidates,
                mode,
                "-inf" if since is None else since,
                until,
                NORM_FRESH_GROWTH,
                *weights.values(),
            ],
        )
        return Candidates(
            [IndexEntry.from_json(found[i + 1]) for i in range(0, len(found), 2)],
            {_text(freqs[i]): int(freqs[i + 1]) for i in range(0, len(freqs), 2)},
        )

    async def put(
        self, entry: IndexEntry, df_fields: Sequence[str], *, now: float, prepared: Prepared | None = None
    ) -> PutOutcome:
        """Index a story version (replacing the previous one); withheld stories are kept unposted.

        `prepared` (read by `prepare` for this story) saves the write its own pre-read.
        """
        return await self._write("put", entry.story_id, entry, df_fields, now, prepared)

    async def kill(self, story_id: str, *, now: float) -> PutOutcome:
        """Remove a story for good: it will never be offered again, whatever arrives later."""
        return await self._write("kill", story_id, None, (), now, None)

    async def _write(
        self,
        action: str,
        story_id: str,
        entry: IndexEntry | None,
        df_fields: Sequence[str],
        now: float,
        prepared: Prepared | None,
    ) -> PutOutcome:
        cutoff = now - self.policy.ttl_seconds
        for _ in range(self.MAX_CONFLICT_RETRIES):
            if prepared is None:  # the first try may use the caller's read; a retry reads again
                prepared = await self.prepare(story_id, (), now=now)
            raw, expired = prepared.current, prepared.expired
            prepared = None
            current = IndexEntry.from_json(raw) if raw else None
            if entry is not None and current is not None and current.version > entry.version:
                return "stale"  # a late older version never replaces a newer one
            expected = hashlib.sha1(raw, usedforsecurity=False).hexdigest() if raw else ""
            old_postings = self.postings_of(current) if current else []
            new_postings = self.postings_of(entry) if entry and entry.status == "usable" else []
            outcome = await _PUT.run(
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

    def _expired(self, reply: Sequence[bytes | str | None]) -> list[tuple[str, list[str]]]:
        """(id, posting keys) of entries past the ttl, so dropping them also clears their postings."""
        out = []
        for i in range(0, len(reply), 2):
            old_id, raw = reply[i], reply[i + 1]
            if old_id is not None:
                out.append((_text(old_id), self.postings_of(IndexEntry.from_json(raw)) if raw else []))
        return out
