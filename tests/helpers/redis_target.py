"""Which Redis the integration and end-to-end tests use.

Order: `TEST_REDIS_URL` / `REDIS_URL`; else a testcontainers Redis when a Docker
engine answers; else a clear failure. With `NEWSROOM_TEST_CLUSTER=1` the same
suites run against a three-node Redis Cluster started on loopback ports.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from shared.settings import Settings


@dataclass(frozen=True)
class RedisTarget:
    url: str = ""
    cluster_nodes: str = ""

    @property
    def is_cluster(self) -> bool:
        return bool(self.cluster_nodes)

    def env(self) -> dict[str, str]:
        if self.cluster_nodes:
            return {"REDIS_CLUSTER_NODES": self.cluster_nodes, "REDIS_URL": ""}
        return {"REDIS_URL": self.url, "REDIS_CLUSTER_NODES": ""}

    def settings(self, **overrides: Any) -> Settings:
        fields: dict[str, Any] = {
            "redis_url": self.url or "redis://unused",
            "redis_cluster_nodes": self.cluster_nodes,
        }
        fields.update(overrides)
        return Settings(**fields)


def single_redis_url() -> str | None:
    return os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or None
