"""Per-partner token bucket in Redis, shared by every ingest replica.

The bucket refills at `rate` tokens per second up to `burst`; a request costs one
token per item (capped at `burst`, so a batch larger than the burst still passes
a full bucket). The Lua below is a fragment of the accept script (acceptance.py):
charging the bucket and appending the items is one atomic step and one round
trip. It reads Redis' own clock, so replicas with skewed clocks share one bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Expects `bucket`, `rate`, `burst`, `cost` as locals; sets `allowed` and `wait_ms`.
TAKE_TOKENS = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', bucket, 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed = tokens >= cost
local wait_ms = 0
if allowed then
  tokens = tokens - cost
else
  wait_ms = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', bucket, 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', bucket, math.ceil(burst * 1000 / rate) + 1000)
"""


@dataclass(frozen=True)
class RateLimit:
    rate_per_second: float
    burst: int

    def cost(self, items: int) -> int:
        return min(max(items, 1), self.burst)


def retry_after_seconds(wait_ms: int) -> int:
    return max(1, math.ceil(wait_ms / 1000))
