"""The queue's Lua scripts (`lua/*.lua`), run through shared.scripts, with named arguments.

Each script file declares, in its header, the keys it touches (`-- KEYS:`, patterns
under the outlet's base such as `d:{id}`) and its named arguments in order
(`-- ARGV:`). A call names every argument; `Script.call` builds KEYS and ARGV in the
declared order and refuses a missing or unknown name, so Python and Lua cannot
disagree about positions. By convention ARGV starts with `base` and ends with
`retention_ms` (helpers.lua reads both). EVALSHA first; a server that lost its
script cache (restart, failover, a new cluster node) gets the source once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from shared.connections import RedisClient
from shared.redis_client import RedisPipeline
from shared.scripts import LuaScript

LUA = Path(__file__).with_name("lua")


@dataclass(frozen=True)
class Script:
    lua: LuaScript
    keys: tuple[str, ...]
    args: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.lua.name

    def arguments(self, base: str, named: dict[str, Any]) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV for one call, in the declared order."""
        values = {"base": base, **named}
        unknown = set(values) - set(self.args)
        missing = set(self.args) - set(values)
        if unknown or missing:
            raise TypeError(f"{self.name}.lua: unknown {sorted(unknown)}, missing {sorted(missing)}")
        keys = [base + pattern.format(**values) for pattern in self.keys]
        return keys, [values[name] for name in self.args]

    async def call(self, redis: RedisClient, base: str, **named: Any) -> Any:
        keys, args = self.arguments(base, named)
        return await self.lua.run(redis, keys, args)

    def queue(self, pipe: RedisPipeline, base: str, **named: Any) -> int:
        """`call` as one command of a pipeline (by source: see `LuaScript.queue`); returns 1, its
        number of replies, as a `Coalescer` adder does."""
        keys, args = self.arguments(base, named)
        self.lua.queue(pipe, keys, args)
        return 1


@cache
def script(name: str) -> Script:
    lua = LuaScript.load(LUA / f"{name}.lua", prelude=[LUA / "helpers.lua"])
    keys, args = lua.declared("KEYS"), lua.declared("ARGV")
    if args[0] != "base" or args[-1] != "retention_ms":
        raise ValueError(f"{name}.lua: ARGV must start with base and end with retention_ms")
    return Script(lua, keys, args)
