"""Prometheus metrics of all services, named once (`newsroom_…`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI
from prometheus_client import Counter, Gauge, Histogram, make_asgi_app, start_http_server

STORIES_RECEIVED = Counter(
    "newsroom_stories_received_total", "Items answered by ingest", ["partner", "result"]
)
ENRICH_SECONDS = Histogram(
    "newsroom_enrich_seconds",
    "Enrichment time per story",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
# `status_code` as in the events, the timeline and the logs ("error": no answer); a delivery's
# status (queued, delivered, ...) is another word in the glossary.
DELIVERIES = Counter("newsroom_deliveries_total", "Delivery attempts by answer", ["outlet", "status_code"])
RETRIES = Counter("newsroom_delivery_retries_total", "Delivery retries scheduled", ["outlet"])
DEAD_LETTERS = Counter("newsroom_dead_letters_total", "Entries moved to dead letter", ["source"])
STREAM_LAG = Gauge("newsroom_stream_lag", "Entries not yet read by the group", ["stream", "group"])
STREAM_PENDING = Gauge("newsroom_stream_pending", "Entries read but not acknowledged", ["stream", "group"])
END_TO_END_SECONDS = Histogram(
    "newsroom_end_to_end_seconds",
    "From ingest acceptance to outlet acknowledgement",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
OUTLET_DISABLED = Gauge(
    "newsroom_outlet_disabled", "1 while an outlet is disabled (it answered 410 Gone)", ["outlet"]
)
RECLAIMED = Counter(
    "newsroom_stream_reclaimed_total",
    "Entries taken over after sitting idle in a consumer's pending list (a crash or a failure)",
    ["stream"],
)
STREAM_OLDEST_PENDING_SECONDS = Gauge(
    "newsroom_stream_oldest_pending_seconds",
    "Age of the oldest entry read but not acknowledged (0 when none is pending)",
    ["stream", "group"],
)
DEAD_LETTER_ENTRIES = Gauge(
    "newsroom_dead_letter_entries", "Entries in the dead-letter stream (to replay or discard)"
)
GC_FULL_PAUSE_SECONDS = Histogram(
    "newsroom_gc_full_pause_seconds",
    "Pauses of the interpreter's full (oldest-generation) garbage collections",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)


def mount_metrics(app: FastAPI, port: int | None) -> None:
    """`/metrics` on the service's own port, unless the operator gave metrics a port of their own."""
    if port is None:
        app.mount("/metrics", make_asgi_app())


@contextmanager
def metrics_listener(port: int | None, host: str) -> Iterator[None]:
    """For a service's lifespan: the separate metrics listener (`metrics_port`), when there is one."""
    if port is None:
        yield
        return
    server, thread = start_http_server(port, addr=host)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
