"""The shapes ingest answers with, documented in OpenAPI with real examples."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events import IngestWarning, ReceivedAs
from shared.status import OutletStateName

ItemStatus = Literal["accepted", "duplicate", "superseded", "killed", "invalid", "skipped"]


class ProblemDetails(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    pointer: str | None = Field(None, description="JSON pointer or XPath of the offending field.")


class ItemResult(BaseModel):
    """What happened to one item."""

    index: int | None = Field(None, description="Position of the item in a batch.")
    status: ItemStatus
    code: int = Field(description="The HTTP status this item alone would have had.")
    id: str | None = Field(None, description="Story id: stable for all versions of the item.")
    uri: str | None = None
    version: int | None = None
    received_as: ReceivedAs | None = None
    current_version: int | None = Field(None, description="Newest version already held.")
    entry_id: str | None = Field(None, description="Entry on the received stream.")
    trace_id: str | None = None
    format: str | None = None
    problem: ProblemDetails | None = None
    detail: str | None = None
    warnings: list[IngestWarning] = Field(
        default_factory=list, description="Fields dropped or reinterpreted; the story was kept."
    )


class BatchResult(BaseModel):
    items: list[ItemResult]
    counts: dict[str, int]


class OutletState(BaseModel):
    """The latest state of the story's delivery to one outlet."""

    state: OutletStateName
    at: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class StoryStatus(BaseModel):
    """Where a story is in the pipeline, with ISO 8601 timestamps."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "reuters-5d0a3b1c2e4f6a7b8c9d",
                    "partner": "reuters",
                    "uri": "urn:newsml:example.com:20240501:quake-update",
                    "version": 2,
                    "headline": "Strong earthquake shakes central Chile",
                    "stage": "delivery delivered",
                    "received_as": "update",
                    "received_at": "2024-05-01T10:32:01.120000+00:00",
                    "enriched_at": "2024-05-01T10:32:01.410000+00:00",
                    "updated_at": "2024-05-01T10:32:02.050000+00:00",
                    "outlets": {
                        "site": {
                            "state": "delivered",
                            "at": "2024-05-01T10:32:02.050000+00:00",
                            "detail": {"status_code": 200, "attempt": 1},
                        },
                        "print": {"state": "skipped", "at": "2024-05-01T10:32:01.600000+00:00"},
                    },
                    "timeline": [
                        {"at": "2024-05-01T10:32:01.120000+00:00", "event": "received", "service": "ingest"}
                    ],
                }
            ]
        }
    )

    id: str
    partner: str | None = None
    uri: str | None = None
    version: int | None = None
    headline: str | None = None
    stage: str | None = None
    warnings: list[IngestWarning] = Field(
        default_factory=list, description="What ingest dropped or reinterpreted when it read the story."
    )
    received_as: str | None = None
    received_at: str | None = None
    enriched_at: str | None = None
    updated_at: str | None = None
    outlets: dict[str, OutletState] = Field(default_factory=dict)
    timeline: list[dict[str, Any]] = Field(default_factory=list)


NINJS_EXAMPLE: dict[str, Any] = {
    "uri": "urn:newsml:example.com:20240501:quake-update",
    "version": "2",
    "versioncreated": "2024-05-01T10:32:00Z",
    "firstcreated": "2024-05-01T09:58:00Z",
    "pubstatus": "usable",
    "urgency": 3,
    "language": "en",
    "headlines": [{"role": "main", "value": "Strong earthquake shakes central Chile"}],
    "bodies": [
        {"role": "main", "contenttype": "text/html", "value": "<p>A magnitude 6.8 quake struck...</p>"}
    ],
    "by": "Ana Ruiz",
    "located": "Santiago",
}
NINJS3_EXAMPLE: dict[str, Any] = {
    "uri": "urn:newsml:example.com:20240501:vote",
    "version": "1",
    "versionCreated": "2024-05-01T10:00:00Z",
    "pubStatus": "usable",
    "embargoedUntil": "2024-05-01T18:00:00Z",
    "language": "en",
    "headlines": [{"value": "Parliament votes on budget"}],
}
NEWSML_EXAMPLE = """<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/" guid="urn:newsml:example.com:1" \
version="3" standard="NewsML-G2" standardversion="2.35">
  <itemMeta><itemClass qcode="ninat:text"/><provider qcode="nprov:EXAMPLE"/>
    <versionCreated>2024-05-01T10:00:00Z</versionCreated><pubStatus qcode="stat:usable"/></itemMeta>
  <contentMeta><urgency>4</urgency><headline>Fed holds rates</headline><language tag="en"/></contentMeta>
  <contentSet><inlineXML contenttype="application/xhtml+xml">
    <html xmlns="http://www.w3.org/1999/xhtml"><body><p>The Fed held rates.</p></body></html>
  </inlineXML></contentSet>
</newsItem>"""
NDJSON_EXAMPLE = (
    '{"uri": "urn:example:1", "headlines": [{"value": "First"}]}\n'
    '{"uri": "urn:example:2", "headlines": [{"value": "Second"}]}\n'
)
ACCEPTED_EXAMPLE = {
    "index": None,
    "status": "accepted",
    "code": 202,
    "id": "reuters-5d0a3b1c2e4f6a7b8c9d",
    "uri": "urn:newsml:example.com:20240501:quake-update",
    "version": 2,
    "received_as": "update",
    "entry_id": "1714559520000-0",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "format": "ninjs2",
}

IPTC7901_EXAMPLE = (
    "\x01dpa0042 4 pol 78 \r\n"
    "Wahl/Niedersachsen/\r\n"
    "\x02Wahlbeteiligung in Niedersachsen gestiegen\n"
    "   Hannover (dpa) - Die Wahlbeteiligung lag am Sonntag bei 61 Prozent.\n"
    "\x03"
)
