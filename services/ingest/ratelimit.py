"""Per-partner token bucket in Redis, shared by every ingest replica.

The bucket refills at `rate` tokens per second up to `burst`; a request costs
one token per item. The script reads Redis' own clock, so replicas with skewed
clocks still share one consistent bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.connections import RedisClient

# KEYS: bucket.  ARGV: rate per second, burst, cost.  Returns {allowed, wait_ms}.
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after_seconds: int


async def take(redis: RedisClient, bucket: str, rate: float, burst: int, cost: int) -> Decision:
    """Spend `cost` tokens (capped at `burst`, so a large batch can pass a full bucket)."""
    allowed, wait_ms = await redis.eval(_TAKE, 1, bucket, rate, burst, min(max(cost, 1), burst))
    return Decision(bool(int(allowed)), max(1, math.ceil(int(wait_ms) / 1000)))
