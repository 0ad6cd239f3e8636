"""Which outlets get a story, and why (pure).

Each configured filter must match (AND across filters, OR within one list); an
empty filter matches everything. Withheld and expired stories go nowhere; kills go
to every outlet that received any version, whatever its filters (the queue decides
that, since only it knows what each outlet received).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.config import Outlet, OutletFilters
from shared.events import StoryEnriched
from shared.story import EntityTag

RouteDecision = Literal["deliver", "hold", "kill", "skip"]


@dataclass(frozen=True)
class Decision:
    """Routing's decision for one outlet; the timeline keeps it as a `Route` (same fields)."""

    outlet: str
    decision: RouteDecision
    reason: str

    @property
    def enqueue(self) -> bool:
        return self.decision != "skip"


def route(outlet: Outlet, enriched: StoryEnriched, now: datetime) -> Decision:
    story = enriched.story
    if enriched.received_as == "kill" or story.pubstatus == "canceled":
        return Decision(outlet.name, "kill", "kill: sent to every outlet that received a version")
    if story.pubstatus == "withheld":
        return Decision(outlet.name, "skip", "withheld: not delivered until a later usable version")
    if story.expires is not None and story.expires <= now:
        return Decision(outlet.name, "skip", f"expired at {story.expires.isoformat()}")
    mismatch = filter_mismatch(outlet.filters, enriched)
    if mismatch:
        return Decision(outlet.name, "skip", mismatch)
    matched = describe_match(outlet.filters)
    if story.embargoed is not None and story.embargoed > now:
        return Decision(outlet.name, "hold", f"{matched}; embargoed until {story.embargoed.isoformat()}")
    return Decision(outlet.name, "deliver", matched)


def route_all(outlets: Iterable[Outlet], enriched: StoryEnriched, now: datetime) -> list[Decision]:
    return [route(outlet, enriched, now) for outlet in outlets]


def describe_match(filters: OutletFilters) -> str:
    active = [name for name, value in filters.model_dump().items() if value not in ([], None)]
    return "matches filters " + ", ".join(active) if active else "outlet takes every story"


def filter_mismatch(filters: OutletFilters, enriched: StoryEnriched) -> str | None:
    """The first filter the story fails, as a sentence; None when every filter matches."""
    story, tags = enriched.story, enriched.enrichment
    if filters.partners and story.partner not in filters.partners:
        return f"partner {story.partner!r} not in {filters.partners}"
    if filters.languages and not _language_matches(story.language, filters.languages):
        return f"language {story.language!r} not in {filters.languages}"
    if filters.max_urgency is not None and (story.urgency is None or story.urgency > filters.max_urgency):
        return f"urgency {story.urgency} is not {filters.max_urgency} or higher"
    for kind, wanted in (
        ("places", filters.places),
        ("people", filters.people),
        ("organisations", filters.organisations),
        ("events", filters.events),
    ):
        if wanted and not _ids(getattr(tags, kind)) & set(wanted):
            return f"no {kind} among {wanted}"
    if filters.subjects:
        have = {v for s in story.subjects for v in (s.code, s.uri, s.name) if v}
        if not have & set(filters.subjects):
            return f"no subject among {filters.subjects}"
    if filters.pubstatus and story.pubstatus not in filters.pubstatus:
        return f"pubstatus {story.pubstatus!r} not in {filters.pubstatus}"
    return None


def _ids(tags: list[EntityTag]) -> set[str]:
    return {value for tag in tags for value in (tag.uri, tag.literal) if value}


def _language_matches(language: str | None, wanted: list[str]) -> bool:
    if not language:
        return False
    primary = language.lower().split("-")[0]
    return any(w.lower() == language.lower() or w.lower() == primary for w in wanted)
