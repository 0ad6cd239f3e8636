"""The one gate: may this copy of this story go to this outlet now? (pure)

Every path that sends asks it — first send, retry, release, backfill, replay, an
editor's resend, recovery after a lost worker — at queueing time and again at the
last moment before the bytes leave, from three facts:

- the story as it is now (`StoryState`: its latest version, kill, withhold, embargo,
  expiry), folded from every version publish has seen, not the copy's own version;
- the outlet's filters;
- what the outlet already has (`OutletHas`: the newest version delivered, a copy in flight).

The answer is `send`, `wait` (until a moment: the embargo) or `never` (with the
reason an editor reads). The queue's scripts keep the per-outlet ordering atomic;
this module decides what may leave at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.publish.routing import filter_mismatch
from shared.config import Outlet
from shared.events import StoryEnriched

Verdict = Literal["send", "wait", "never"]
# Why a copy never leaves, as the flag the queue page shows beside it.
Refusal = Literal["KILLED", "WITHHELD", "SUPERSEDED", "EXPIRED", "FILTERED", "NOTHING-TO-KILL"]


@dataclass(frozen=True)
class StoryState:
    """The story as it stands: what every later decision must respect."""

    latest_version: int
    killed: bool
    withheld: bool
    embargoed_until: datetime | None
    expires: datetime | None

    @classmethod
    def fold(cls, versions: Iterable[StoryEnriched]) -> StoryState | None:
        """The current state from every version seen, in any order; None for an unknown story."""
        seen = list(versions)
        if not seen:
            return None
        killed = any(is_kill(v) for v in seen)
        # The newest version decides withhold, embargo and expiry; at equal numbers a
        # withhold or kill was sent after the copy it replaces.
        latest = max(seen, key=lambda v: (v.story.version, is_kill(v), is_withheld(v)))
        return cls(
            latest_version=latest.story.version,
            killed=killed,
            withheld=is_withheld(latest),
            embargoed_until=latest.story.embargoed,
            expires=latest.story.expires,
        )


@dataclass(frozen=True)
class OutletHas:
    """What one outlet already has of one story (from the queue's per-story markers)."""

    delivered_version: int | None = None
    in_flight: bool = False  # another copy of the story is being sent to it right now
    tried: bool = False  # a copy was attempted: a timeout may still have delivered it

    @property
    def anything(self) -> bool:
        """It has, or may have, a copy: a kill notice too many is harmless, a missing one is not."""
        return self.delivered_version is not None or self.in_flight or self.tried


@dataclass(frozen=True)
class Gate:
    verdict: Verdict
    reason: str
    until: datetime | None = None  # for `wait`: the moment it may leave
    refusal: Refusal | None = None  # for `never`: the flag

    @property
    def sends(self) -> bool:
        return self.verdict == "send"


def is_kill(enriched: StoryEnriched) -> bool:
    return enriched.received_as == "kill" or enriched.story.pubstatus == "canceled"


def is_withheld(enriched: StoryEnriched) -> bool:
    return enriched.received_as == "withheld" or enriched.story.pubstatus == "withheld"


def never(refusal: Refusal, reason: str) -> Gate:
    return Gate("never", reason, refusal=refusal)


def decide(
    copy: StoryEnriched, story: StoryState | None, outlet: Outlet, has: OutletHas, now: datetime
) -> Gate:
    """May `copy` (one version, or the kill notice) go to `outlet` now?"""
    state = story or StoryState.fold([copy])
    assert state is not None
    if is_kill(copy):
        # A kill notice only retracts what the outlet has; one that never had the story gets nothing.
        if not has.anything:
            return never("NOTHING-TO-KILL", "outlet never received the story")
        return Gate("send", "kill notice to an outlet that received (or may have received) the story")
    version = copy.story.version
    if state.killed:
        return never("KILLED", "story was killed")
    if is_withheld(copy):
        return never("WITHHELD", f"version {version} is withheld")
    if state.withheld and version <= state.latest_version:
        return never("WITHHELD", f"story withheld at version {state.latest_version}")
    if has.delivered_version is not None and has.delivered_version >= version:
        return never("SUPERSEDED", f"version {has.delivered_version} already delivered")
    if version < state.latest_version:
        return never("SUPERSEDED", f"superseded by version {state.latest_version}")
    if state.expires is not None and state.expires <= now:
        return never("EXPIRED", f"expired at {state.expires.isoformat()}")
    mismatch = filter_mismatch(outlet.filters, copy)
    if mismatch:
        return never("FILTERED", mismatch)
    embargo = state.embargoed_until
    if copy.story.embargoed is not None and (embargo is None or copy.story.embargoed > embargo):
        embargo = copy.story.embargoed
    if embargo is not None and embargo > now:
        return Gate("wait", f"embargoed until {embargo.isoformat()}", until=embargo)
    return Gate("send", "the story's current version")


def outlet_has(markers: Mapping[str, str], delivery_id: str | None = None) -> OutletHas:
    """Read the queue's per-story markers; the copy being decided does not count as in flight."""
    sent = markers.get("sent")
    inflight = markers.get("inflight")
    return OutletHas(
        delivered_version=int(sent) if sent not in (None, "") else None,
        in_flight=bool(inflight) and inflight != delivery_id,
        tried=bool(markers.get("tried")),
    )
