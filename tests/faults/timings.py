"""Fast, bounded timings for the fault tests (seconds instead of production's minutes)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import FAST_TIMINGS

# Outlet retries every half second (Retry-After: 1 makes it 1 s) for long enough to
# outlast every scripted outage; a delivery whose worker died is requeued after 2 s.
# Entries left by a dead consumer are reclaimed after 3 s: longer than one batch takes
# to enrich on a busy 2-core machine, or the reclaimer would take over entries that
# are still being worked on (redundant work, which append-once keeps from counting).
FAULT_ENV: dict[str, str] = {
    **{f"NEWSROOM_{name.upper()}": str(value) for name, value in FAST_TIMINGS.items()},
    "NEWSROOM_TAGGING": "false",
    "NEWSROOM_RATE_PER_SECOND": "100000",
    "NEWSROOM_RATE_BURST": "100000",
    "NEWSROOM_MAX_ATTEMPTS": "1000",
    "NEWSROOM_RECLAIM_IDLE_MS": "3000",
    "NEWSROOM_RETRY_SCHEDULE_SECONDS": json.dumps([0.5] * 400),
    "NEWSROOM_RETRY_JITTER": "0",
    "NEWSROOM_DELIVERY_LEASE_SECONDS": "2",
    "NEWSROOM_OUTLET_TIMEOUT_SECONDS": "2",
    "NEWSROOM_PUBLISH_POLL_MS": "100",
}


def own_redis_env(config: Path, prefix: str, redis_url: str = "", cluster_nodes: str = "") -> dict[str, str]:
    """Service environment for a fault test that runs its own Redis (or cluster): only that
    server, its own key prefix and config, and the fault timings."""
    return {
        "REDIS_URL": redis_url,
        "REDIS_CLUSTER_NODES": cluster_nodes,
        "NEWSROOM_KEY_PREFIX": prefix,
        "NEWSROOM_CONFIG": str(config),
        **FAULT_ENV,
    }
