"""A story's timeline: what happened to it, as typed entries every service writes.

Each entry is stored as JSON in the story's timeline list (shared/status.py),
with its `kind` (which model reads it back), its `event` (the name people see:
`received`, `routed`, `delivery:<outlet>`, `editor:<action>`…) and the service
that wrote it. Readers parse entries with `parse`, never by matching on names.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from shared.events import IngestWarning, ReceivedAs


class TimelineEvent(BaseModel):
    """Fields every entry has; `at` and `service` are set when it is recorded."""

    at: float | None = None
    service: str | None = None

    @property
    def event(self) -> str:
        raise NotImplementedError

    def status_fields(self) -> dict[str, Any]:
        """What the entry sets in the story's status hash (besides `<event>_at`)."""
        return {}


class Received(TimelineEvent):
    kind: Literal["received"] = "received"
    partner: str
    uri: str
    version: int
    headline: str
    trace_id: str
    received_as: ReceivedAs
    pubstatus: str
    format: str
    embargoed: str | None = None
    expires: str | None = None
    warnings: list[IngestWarning] | None = None  # what was wrong but could be read

    @property
    def event(self) -> str:
        return "received"

    def status_fields(self) -> dict[str, Any]:
        fields = self.model_dump(exclude={"kind", "at", "service"}, exclude_none=True)
        return {**fields, "stage": "received"}


class Enriched(TimelineEvent):
    kind: Literal["enriched"] = "enriched"
    version: int | None = None

    @property
    def event(self) -> str:
        return "enriched"

    def status_fields(self) -> dict[str, Any]:
        return {"stage": "enriched"} | ({"version": self.version} if self.version is not None else {})


class Route(BaseModel):
    outlet: str
    decision: str = Field(description="`skip` when the outlet gets nothing, else how it is sent.")
    reason: str


class Routed(TimelineEvent):
    kind: Literal["routed"] = "routed"
    version: int | None = None
    routing: list[Route]

    @property
    def event(self) -> str:
        return "routed"

    def status_fields(self) -> dict[str, Any]:
        return {"stage": "routed", "version": self.version, "routing": [r.model_dump() for r in self.routing]}


class Queued(TimelineEvent):
    kind: Literal["queued"] = "queued"
    version: int
    queued: dict[str, str] = Field(description="Outlet -> what the queue answered (`created`, …).")

    @property
    def event(self) -> str:
        return "queued"

    def status_fields(self) -> dict[str, Any]:
        return {"stage": "queued", "version": self.version, "queued": self.queued}


class DeliveryAttempted(TimelineEvent):
    kind: Literal["delivery"] = "delivery"
    outlet: str
    delivery_id: str | None = None
    version: int | None = None
    attempt: int | None = None
    result: str = Field(
        description="`delivered`, `retrying`, `failed` or `canceled` (the delivery's status)."
    )
    status_code: int | None = None
    error: str | None = None

    @property
    def event(self) -> str:
        return f"delivery:{self.outlet}"

    def status_fields(self) -> dict[str, Any]:
        fields = self.model_dump(exclude={"kind", "at", "service"}, exclude_none=True)
        return {**fields, "stage": f"delivery {self.result}"}


class EditorActed(TimelineEvent):
    kind: Literal["editor"] = "editor"
    action: str = Field(description="`kill`, or the delivery action: `retry`, `hold`, `release`, `cancel`.")
    editor: str | None = None
    outlet: str | None = None
    delivery_id: str | None = None
    result: str | None = None

    @property
    def event(self) -> str:
        return f"editor:{self.action}"

    def status_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"kind", "at", "service", "action"}, exclude_none=True)


AnyTimelineEvent = Annotated[
    Received | Enriched | Routed | Queued | DeliveryAttempted | EditorActed, Field(discriminator="kind")
]
_ENTRY: TypeAdapter[AnyTimelineEvent] = TypeAdapter(AnyTimelineEvent)


def stored(entry: TimelineEvent) -> dict[str, Any]:
    """The entry as the timeline keeps it: its fields, with `kind` and `event`."""
    return {"event": entry.event, **entry.model_dump(exclude_none=True)}


def parse(raw: dict[str, Any]) -> AnyTimelineEvent | None:
    """The typed entry, or None for one no model reads (written before entries were typed)."""
    try:
        return _ENTRY.validate_python(raw)
    except ValidationError:
        return None
