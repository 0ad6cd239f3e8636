"""Key layout: keys used together share a hash slot; unrelated keys spread."""

from __future__ import annotations

from redis.crc import key_slot

from shared.keys import Keys
from shared.streams import Streams

keys = Keys("nr")


def slot(key: str) -> int:
    return int(key_slot(key.encode()))


def test_ingest_registry_and_both_received_streams_share_a_slot() -> None:
    assert slot(keys.item_versions) == slot(keys.received) == slot(keys.received_priority)


def test_enriched_stream_and_its_ledger_share_a_slot() -> None:
    assert slot(keys.enriched) == slot(keys.enriched_ledger)


def test_failure_notes_live_beside_their_stream() -> None:
    for stream in Streams.for_keys(keys).all():
        assert slot(keys.failures(stream.name)) == slot(stream.name)


def test_a_storys_status_and_timeline_share_a_slot() -> None:
    assert slot(keys.story("ap-1")) == slot(keys.story_timeline("ap-1"))


def test_stories_and_outlets_spread_over_many_slots() -> None:
    story_slots = {slot(keys.story(f"ap-{n}")) for n in range(200)}
    outlet_slots = {slot(keys.outlet(f"outlet{n}", "queue")) for n in range(50)}
    assert len(story_slots) > 150
    assert len(outlet_slots) > 40
    assert slot(keys.outlet("web", "queue")) == slot(keys.outlet("web", "deliveries"))


def test_prefix_isolates_deployments() -> None:
    assert Keys("a").received != Keys("b").received


def test_each_stream_has_its_own_failure_notes() -> None:
    # Entry ids are unique only within one stream; the lanes share the `{P:in}` tag.
    streams = Streams.for_keys(keys, ["alpha", "beta", "failures"]).all()
    notes = {keys.failures(stream.name) for stream in streams}
    assert len(notes) == len(streams)
    assert not notes & {stream.name for stream in streams}
