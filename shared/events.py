"""The messages on the streams, named for what happened.

story received (ingest) → story enriched (enrich) → delivery done / failed (publish);
and one command, kill requested (publish → ingest), for an editor's kill. Each
carries the story id and a trace id that follows the story through all three
services and every log line about it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from shared.story import EntityTag, Story

ReceivedAs = Literal["new", "update", "kill", "withheld"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class IngestWarning(BaseModel):
    """A field ingest could not use as sent: what it was and what was done instead."""

    field: str = Field(description="JSON pointer or XPath of the field in the partner's payload.")
    value: str = Field("", description="The value as sent (shortened).")
    action: str = Field(description="What ingest did, e.g. 'dropped', 'read in Pacific/Auckland'.")


class StoryReceived(BaseModel):
    story_id: str
    trace_id: str
    received_at: AwareDatetime
    received_as: ReceivedAs = "new"
    story: Story
    source_format: str = "ninjs2"
    original: str | None = Field(None, description="The partner's payload, truncated for audit.")
    warnings: list[IngestWarning] = Field(
        default_factory=list, description="Fields ingest dropped or reinterpreted (the story was kept)."
    )


class KillRequested(BaseModel):
    """An editor killed a story: ingest records the kill where versions are decided, so no
    later version resurrects the item, and forwards it like a partner's kill."""

    story_id: str
    trace_id: str
    story: Story = Field(description="The latest version publish holds, with pubstatus canceled.")
    editor: str | None = None
    requested_at: AwareDatetime = Field(default_factory=utcnow)


class RelatedLink(BaseModel):
    story_id: str
    uri: str
    headline: str
    score: float
    shared_entities: list[str] = Field(default_factory=list)
    days_apart: float = 0.0
    reason: str = ""


class Enrichment(BaseModel):
    people: list[EntityTag] = Field(default_factory=list)
    organisations: list[EntityTag] = Field(default_factory=list)
    places: list[EntityTag] = Field(default_factory=list)
    events: list[EntityTag] = Field(default_factory=list)
    related: list[RelatedLink] = Field(default_factory=list)
    duplicates: list[RelatedLink] = Field(default_factory=list)
    age_days: float | None = Field(None, description="Days since first publication at enrich time.")
    age_label: str | None = None
    flags: list[str] = Field(default_factory=list)


class StoryEnriched(BaseModel):
    story_id: str
    trace_id: str
    received_at: AwareDatetime
    enriched_at: AwareDatetime
    received_as: ReceivedAs = "new"
    story: Story
    enrichment: Enrichment = Field(default_factory=Enrichment)


class DeliveryDone(BaseModel):
    delivery_id: str
    story_id: str
    trace_id: str
    outlet: str
    version: int
    status_code: int
    attempts: int
    at: AwareDatetime = Field(default_factory=utcnow)
    outcome: Literal["done"] = "done"


class DeliveryFailed(BaseModel):
    delivery_id: str
    story_id: str
    trace_id: str
    outlet: str
    version: int
    error: str
    status_code: int | None = None
    attempts: int
    final: bool = Field(False, description="True when no further attempt will be made.")
    at: AwareDatetime = Field(default_factory=utcnow)
    outcome: Literal["failed"] = "failed"


class DeadLettered(BaseModel):
    """An entry no handler could take (poison, or given up on after `max_attempts`); its fields
    are stream fields, not an envelope. `newsroom dead-letters` lists and replays them."""

    source: str = Field(description="The stream the entry came from.")
    entry_id: str = Field(description="Its id there.")
    error: str
    deliveries: int = Field(description="How many times it was handed to a handler.")
    at: float = Field(description="When it was dead-lettered (epoch seconds).")
    payload: str = Field(description="The entry's encoded event, as it was.")
    story_id: str | None = None


class DeliveryChanged(BaseModel):
    """A delivery's state changed (the queue page's live feed, capped). The one stream field
    `data` holds the delivery as `GET /v1/deliveries/{id}` answers it, as JSON text."""

    data: str
