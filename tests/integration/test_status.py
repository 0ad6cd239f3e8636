"""A story's status record on a real Redis: fields, timeline (capped, newest kept), expiry."""

from __future__ import annotations

import pytest

from shared import status
from shared.connections import RedisClient
from shared.events import IngestWarning
from shared.settings import Settings
from shared.timeline import Enriched, Received

pytestmark = pytest.mark.integration


def _received(n: int) -> Received:
    return Received(
        partner="p",
        uri=f"urn:x:{n}",
        version=n,
        headline=f"headline {n}",
        trace_id=f"t{n}",
        received_as="new",
        pubstatus="usable",
        format="ninjs2",
        warnings=[IngestWarning(field="/urgency", value="x", action="dropped")],
    )


async def test_records_set_fields_cap_the_timeline_and_expire(settings: Settings, redis: RedisClient) -> None:
    keys = settings.keys
    busy = [status.Record("p-busy", _received(n), "ingest") for n in range(status.TIMELINE_MAX + 5)]
    errors = await status.record_many(redis, keys, [*busy, status.Record("p-calm", _received(1), "ingest")])
    assert errors == [None] * (len(busy) + 1)
    await status.record(redis, keys, "p-calm", Enriched(version=1), service="enrich")

    busy_read = await status.read(redis, keys, "p-busy")
    assert busy_read is not None
    timeline = busy_read["timeline"]
    assert len(timeline) == status.TIMELINE_MAX
    assert timeline[-1]["version"] == status.TIMELINE_MAX + 4  # the newest are kept
    assert busy_read["status"]["version"] == str(status.TIMELINE_MAX + 4)
    assert busy_read["status"]["warnings"].startswith("[{")  # non-scalar fields as JSON

    calm = await status.read(redis, keys, "p-calm")
    assert calm is not None
    assert [e["kind"] for e in calm["timeline"]] == ["received", "enriched"]
    assert calm["status"]["stage"] == "enriched"
    assert {"received_at", "enriched_at", "updated_at"} <= set(calm["status"])
    for key in (keys.story("p-calm"), keys.story_timeline("p-calm")):
        ttl = await redis.eval("return redis.call('TTL', KEYS[1])", 1, key)
        assert 0 < int(ttl) <= status.STATUS_TTL_SECONDS
