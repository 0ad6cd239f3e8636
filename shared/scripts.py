"""The one way every service runs its Lua: a `.lua` file loaded once, called by SHA.

Each script lives in a `.lua` file beside the module that calls it; its header
documents, in order, the KEYS it touches and its ARGV (`-- KEYS:` and `-- ARGV:`
lines). Every key a script touches is passed in KEYS, all under one hash tag, so
the scripts run unchanged on Redis Cluster. EVALSHA first; a server that lost its
script cache (restart, failover, a new cluster node) gets the source once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from redis.exceptions import NoScriptError

from shared.connections import RedisClient
from shared.redis_client import RedisPipeline


@dataclass(frozen=True)
class LuaScript:
    name: str
    source: str

    @classmethod
    def load(cls, path: Path, *, prelude: Sequence[Path] = ()) -> LuaScript:
        """The script in `path`, after the files in `prelude` (shared Lua helpers)."""
        parts = [p.read_text() for p in prelude] + [path.read_text()]
        return cls(path.stem, "\n".join(parts))

    @cached_property
    def sha(self) -> str:
        return hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()

    def declared(self, label: str) -> tuple[str, ...]:
        """The names on the script's own `-- LABEL:` header line (its last, after any prelude)."""
        found: tuple[str, ...] | None = None
        for line in self.source.splitlines():
            if line.startswith(f"-- {label}:"):
                found = tuple(line.split(":", 1)[1].split())
        if found is None:
            raise ValueError(f"{self.name}.lua: no `-- {label}:` line")
        return found

    async def run(self, redis: RedisClient, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await redis.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await redis.eval(self.source, len(keys), *keys, *args)

    async def run_many(
        self, redis: RedisClient, calls: Sequence[tuple[Sequence[str], Sequence[Any]]]
    ) -> list[Any]:
        """Several calls in one round trip, in order (each atomic on its own); per call its
        reply or the error it met. By source, as `queue`: a cluster pipeline refuses EVALSHA,
        and Redis finds the compiled script by the source's SHA, so it is not compiled again."""
        if not calls:
            return []
        async with redis.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                self.queue(pipe, keys, args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies

    def queue(self, pipe: RedisPipeline, keys: Sequence[str], args: Sequence[Any]) -> None:
        """Add one call to a pipeline. By source, not SHA: a pipeline cannot fall back on
        NOSCRIPT per command, and a cluster pipeline refuses EVALSHA."""
        pipe.eval(self.source, len(keys), *keys, *args)
