"""docs/asyncapi.json describes every stream the services write, with its real payload, and nothing else."""

from __future__ import annotations

from docs.asyncapi import document
from shared.keys import Keys
from shared.streams import Streams

KEYS = Keys("nr")
# Every stream key the pipeline has (shared/keys.py), consumed or not.
ALL_STREAMS = {
    KEYS.received_lane("{partner}"),  # one per partner; the document names the pattern
    KEYS.received,
    KEYS.received_priority,
    KEYS.kill_requested,
    KEYS.enriched,
    KEYS.delivery_events,
    KEYS.delivery_changes,
    KEYS.dead_letter,
}


def test_every_stream_and_nothing_else_with_a_payload_schema() -> None:
    doc = document(KEYS)
    addresses = {channel["address"] for channel in doc["channels"].values()}
    assert addresses == ALL_STREAMS
    assert {s.name for s in Streams.for_keys(KEYS).all()} <= addresses
    schemas = doc["components"]["schemas"]
    for channel in doc["channels"].values():
        assert channel["messages"], channel["address"]
        for ref in channel["messages"].values():
            message = doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]
            schema = schemas[message["payload"]["$ref"].rsplit("/", 1)[1]]
            assert schema["properties"], message["name"]


def test_each_stream_has_a_sender_and_a_receiver() -> None:
    doc = document(KEYS)
    for name in doc["channels"]:
        actions = {
            op["action"] for op in doc["operations"].values() if op["channel"]["$ref"].endswith("/" + name)
        }
        assert actions == {"send", "receive"}, name
