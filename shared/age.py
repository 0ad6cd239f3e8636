"""How old a story is, for readers (the age label) and for editors (wire flags).

Pure and clock-injected: enrich computes it when a story arrives, and publish
recomputes it at delivery time, because a story held in the queue keeps ageing.

Reader label (the Guardian's published rules, measured from *first* publication,
days counted as elapsed time, not calendar dates):
- up to and including 31 days: no label;
- more than 31 days: "1 month"; from 62 days: "N months", N = floor(days / 31);
- more than 365 days: "1 year"; from 730 days: "N years", N = floor(days / 365).
Exempt genres (evergreen, recipes, puzzles…) and anything not publicly live
(killed, withheld, still under embargo) get no label. The wording around the
age ("This story is over {age} old.") belongs to each outlet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.story import Story

DAY_SECONDS = 86400.0
NO_LABEL_UP_TO_DAYS = 31.0
MONTH_DAYS = 31.0
YEAR_DAYS = 365.0

# AP's mapping of ninjs urgency; 4 and below are routine and carry no flag.
URGENCY_FLAGS = {1: "FLASH", 2: "BULLETIN", 3: "URGENT"}


@dataclass(frozen=True)
class AgeLabel:
    days: float
    phrase: str

    def sentence(self, template: str) -> str:
        """The outlet's wording with the age filled in, e.g. "This story is over {age} old."."""
        return template.format(age=self.phrase)


def _aware(moment: datetime) -> datetime:
    # Partners' feeds are validated as timezone-aware; a naive value can only come
    # from our own code, where UTC is the convention.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def age_days(first_published: datetime | None, now: datetime) -> float | None:
    """Elapsed days since first publication; None when unknown, 0 when in the future."""
    if first_published is None:
        return None
    elapsed = (_aware(now) - _aware(first_published)).total_seconds() / DAY_SECONDS
    return max(0.0, elapsed)


def age_phrase(days: float) -> str | None:
    """The Guardian's rule table: the phrase for an age in days, or None below a month."""
    years = days / YEAR_DAYS
    months = days / MONTH_DAYS
    if years >= 2:
        return f"{int(years)} years"
    if years > 1:
        return "1 year"
    if months >= 2:
        return f"{int(months)} months"
    if months > 1:
        return "1 month"
    return None


def age_label(
    first_published: datetime | None,
    now: datetime,
    *,
    exempt: bool = False,
    live: bool = True,
) -> AgeLabel | None:
    """The reader-facing age label at `now`, or None (young, exempt, not live, undated)."""
    if exempt or not live:
        return None
    days = age_days(first_published, now)
    if days is None:
        return None
    phrase = age_phrase(days)
    return AgeLabel(days, phrase) if phrase else None


def is_exempt(story: Story, exempt_genres: Iterable[str]) -> bool:
    exempt = {genre.casefold() for genre in exempt_genres}
    return any(genre.casefold() in exempt for genre in story.genres)


def is_publicly_live(story: Story, now: datetime) -> bool:
    """Readers may see it: not killed, not withheld, embargo (if any) passed."""
    if story.pubstatus != "usable":
        return False
    return story.embargoed is None or _aware(story.embargoed) <= _aware(now)


def story_age_label(story: Story, now: datetime, *, exempt_genres: Iterable[str]) -> AgeLabel | None:
    """`age_label` for a whole story: first publication, exempt genres, live status."""
    return age_label(
        story.first_published(),
        now,
        exempt=is_exempt(story, exempt_genres),
        live=is_publicly_live(story, now),
    )


def editor_flags(
    story: Story,
    now: datetime,
    *,
    superseded: bool = False,
    received_at: datetime | None = None,
    stale_after: timedelta,
) -> list[str]:
    """Every wire flag that applies at `now`, in a fixed order (severity first).

    STALE compares the story's last version time with when it arrived
    (`received_at`, default `now`): a 3-day-old item pushed today is stale even
    though it is new to us.
    """
    now = _aware(now)
    flags: list[str] = []
    if story.pubstatus == "canceled":
        flags.append("KILLED")
    if story.pubstatus == "withheld":
        flags.append("WITHHELD")
    if story.embargoed is not None and _aware(story.embargoed) > now:
        flags.append(f"EMBARGOED until {_aware(story.embargoed).astimezone(UTC).isoformat()}")
    if story.expires is not None and _aware(story.expires) <= now:
        flags.append("EXPIRED")
    if superseded:
        flags.append("SUPERSEDED")
    last_version = story.versioncreated or story.firstcreated
    arrived = _aware(received_at) if received_at is not None else now
    if last_version is not None and arrived - _aware(last_version) > stale_after:
        flags.append("STALE")
    if story.urgency in URGENCY_FLAGS:
        flags.append(URGENCY_FLAGS[story.urgency])
    return flags
