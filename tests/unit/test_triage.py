"""What a consumer does with an entry before its handler runs."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from shared.consuming import GiveUp, Poison, triage
from shared.streams import encode_event


class Ping(BaseModel):
    story_id: str


def fields_of(event: BaseModel) -> dict[bytes, bytes]:
    return {b"__data__": asyncio.run(encode_event(event))}


def test_a_valid_entry_is_handed_to_the_handler() -> None:
    triaged = triage(Ping, fields_of(Ping(story_id="a")), deliveries=1, max_attempts=3)
    assert triaged == Ping(story_id="a")


def test_an_entry_without_a_data_field_is_poison() -> None:
    triaged = triage(Ping, {b"other": b"x"}, deliveries=1, max_attempts=3)
    assert isinstance(triaged, Poison)
    assert "__data__" in triaged.error


def test_an_entry_that_does_not_match_the_model_is_poison_naming_the_field() -> None:
    triaged = triage(Ping, {b"__data__": b'{"story": 1}'}, deliveries=1, max_attempts=3)
    assert isinstance(triaged, Poison)
    assert "story_id" in triaged.error


def test_undecodable_bytes_are_poison() -> None:
    triaged = triage(Ping, {b"__data__": b"\xff\xfe\x00"}, deliveries=1, max_attempts=3)
    assert isinstance(triaged, Poison)


def test_an_entry_is_handled_max_attempts_times_then_given_up() -> None:
    fields = fields_of(Ping(story_id="a"))
    assert triage(Ping, fields, deliveries=3, max_attempts=3) == Ping(story_id="a")
    triaged = triage(Ping, fields, deliveries=4, max_attempts=3)
    assert isinstance(triaged, GiveUp)
    assert triaged.event == Ping(story_id="a")
