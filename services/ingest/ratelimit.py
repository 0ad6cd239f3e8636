"""Per-partner token bucket in Redis, shared by every ingest replica.

The bucket refills at `rate` tokens per second up to `burst`; every item costs one
token, batches included. A request passes when the bucket holds its cost, or is full
(a batch larger than the burst), which then leaves the bucket in debt: 25,000 items
cost 25,000 tokens however they are packed. The accept script (accept.lua) charges
the bucket, so charging it and appending the items is one atomic step. It reads Redis' own clock, so replicas
with skewed clocks share one bucket.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    rate_per_second: float
    burst: int

    def cost(self, items: int) -> int:
        return max(items, 1)


def retry_after_seconds(wait_ms: int) -> int:
    return max(1, math.ceil(wait_ms / 1000))
