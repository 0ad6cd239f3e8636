"""Age label and editor flags: the rule table's boundaries, calendars, clocks, and states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import partial

import pytest

from shared import age
from shared.age import AgeLabel, age_days, age_label
from shared.config import NewsroomConfig
from shared.settings import Settings
from shared.story import Story

# The configured defaults, from the one place each lives.
story_age_label = partial(age.story_age_label, exempt_genres=NewsroomConfig().exempt_genres)
editor_flags = partial(age.editor_flags, stale_after=timedelta(hours=Settings().stale_after_hours))

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def phrase_of(label: AgeLabel | None) -> str | None:
    return label.phrase if label else None


def story(**fields: object) -> Story:
    base: dict[str, object] = {"partner": "p1", "uri": "urn:x:1", "headline": "h"}
    base.update(fields)
    return Story.model_validate(base)


@pytest.mark.parametrize(
    ("days", "phrase"),
    [
        (0, None),
        (30, None),
        (31, None),  # "up to 31 days" includes 31
        (32, "1 month"),
        (61, "1 month"),
        (62, "2 months"),
        (92, "2 months"),
        (93, "3 months"),
        (365, "11 months"),  # floor(365 / 31); a year only *after* 365 days
        (366, "1 year"),
        (729, "1 year"),
        (730, "2 years"),
        (1094, "2 years"),
        (1095, "3 years"),
        (3650, "10 years"),
    ],
)
def test_label_boundaries(days: int, phrase: str | None) -> None:
    label = age_label(NOW - timedelta(days=days), NOW)
    assert (label.phrase if label else None) == phrase
    if label:
        assert label.days == pytest.approx(days)


def test_just_past_a_boundary_counts() -> None:
    label = age_label(NOW - timedelta(days=31, seconds=1), NOW)
    assert phrase_of(label) == "1 month"
    label = age_label(NOW - timedelta(days=365, seconds=1), NOW)
    assert phrase_of(label) == "1 year"


@pytest.mark.parametrize(
    ("first", "now", "phrase"),
    [
        # 2024 is a leap year: 1 March 2023 → 1 March 2024 is 366 days, already "1 year".
        (datetime(2023, 3, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC), "1 year"),
        # Without a 29 February in between the same calendar year is 365 days: not yet.
        (datetime(2022, 3, 1, tzinfo=UTC), datetime(2023, 3, 1, tzinfo=UTC), "11 months"),
        # Published on 29 February: 28 February two years later is exactly 730 days.
        (datetime(2024, 2, 29, tzinfo=UTC), datetime(2026, 2, 27, tzinfo=UTC), "1 year"),
        (datetime(2024, 2, 29, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC), "2 years"),
        # The sample article: 5 April 2016, read ten years later.
        (datetime(2016, 4, 5, 14, 0, tzinfo=UTC), datetime(2021, 11, 1, tzinfo=UTC), "5 years"),
    ],
)
def test_leap_years(first: datetime, now: datetime, phrase: str) -> None:
    label = age_label(first, now)
    assert phrase_of(label) == phrase


def test_time_zones_compare_instants_not_wall_clocks() -> None:
    tokyo = timezone(timedelta(hours=9))
    new_york = timezone(timedelta(hours=-5))
    # 31 days and 1 hour as instants, though the wall clocks read 30 days and 10 hours.
    first = datetime(2026, 1, 1, 9, 0, tzinfo=tokyo)  # 00:00 UTC
    now = datetime(2026, 1, 31, 20, 0, tzinfo=new_york)  # 1 Feb 01:00 UTC
    label = age_label(first, now)
    assert phrase_of(label) == "1 month"
    assert age_days(first, now) == pytest.approx(31 + 1 / 24)


def test_naive_datetimes_are_read_as_utc() -> None:
    first = datetime(2026, 1, 1)
    assert age_days(first, datetime(2026, 3, 4, tzinfo=UTC)) == pytest.approx(62)


def test_missing_and_future_dates_get_no_label() -> None:
    assert age_label(None, NOW) is None
    assert age_days(None, NOW) is None
    assert age_label(NOW + timedelta(days=400), NOW) is None
    assert age_days(NOW + timedelta(days=400), NOW) == 0.0


def test_exempt_and_not_live_get_no_label() -> None:
    old = NOW - timedelta(days=800)
    assert age_label(old, NOW, exempt=True) is None
    assert age_label(old, NOW, live=False) is None


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("This article is more than {age} old.", "This article is more than 5 years old."),
        ("This story is over {age} old.", "This story is over 5 years old."),
    ],
)
def test_sentence_uses_the_outlets_wording(template: str, text: str) -> None:
    label = age_label(NOW - timedelta(days=5 * 365 + 10), NOW)
    assert label is not None
    assert label.sentence(template) == text


def test_story_label_uses_first_publication_not_last_edit() -> None:
    s = story(firstcreated=NOW - timedelta(days=800), versioncreated=NOW - timedelta(hours=1))
    label = story_age_label(s, NOW)
    assert phrase_of(label) == "2 years"


def test_story_label_falls_back_to_versioncreated() -> None:
    label = story_age_label(story(versioncreated=NOW - timedelta(days=40)), NOW)
    assert phrase_of(label) == "1 month"


@pytest.mark.parametrize(
    "fields",
    [
        {"pubstatus": "canceled"},
        {"pubstatus": "withheld"},
        {"embargoed": NOW + timedelta(hours=1)},
        {"genres": ["Evergreen"]},
    ],
)
def test_story_label_absent_when_not_live_or_exempt(fields: dict[str, object]) -> None:
    assert story_age_label(story(firstcreated=NOW - timedelta(days=800), **fields), NOW) is None


def test_embargo_passed_is_live_again() -> None:
    s = story(firstcreated=NOW - timedelta(days=800), embargoed=NOW - timedelta(minutes=1))
    label = story_age_label(s, NOW)
    assert phrase_of(label) == "2 years"


def test_a_held_story_ages_at_delivery_time() -> None:
    s = story(firstcreated=datetime(2026, 5, 10, tzinfo=UTC))
    assert story_age_label(s, datetime(2026, 6, 10, tzinfo=UTC)) is None  # 31 days at enrich
    later = story_age_label(s, datetime(2026, 6, 12, tzinfo=UTC))  # delivered two days later
    assert phrase_of(later) == "1 month"


@pytest.mark.parametrize(
    ("fields", "kwargs", "flags"),
    [
        ({}, {}, []),
        ({"pubstatus": "canceled"}, {}, ["KILLED"]),
        ({"pubstatus": "withheld"}, {}, ["WITHHELD"]),
        (
            {"embargoed": datetime(2026, 6, 15, 14, 0, tzinfo=timezone(timedelta(hours=2)))},
            {},
            [],  # 12:00 UTC: the embargo lifts exactly now
        ),
        (
            {"embargoed": datetime(2026, 6, 15, 16, 30, tzinfo=timezone(timedelta(hours=2)))},
            {},
            ["EMBARGOED until 2026-06-15T14:30:00+00:00"],
        ),
        ({"expires": NOW - timedelta(seconds=1)}, {}, ["EXPIRED"]),
        ({"expires": NOW + timedelta(days=1)}, {}, []),
        ({}, {"superseded": True}, ["SUPERSEDED"]),
        ({"versioncreated": NOW - timedelta(hours=49)}, {}, ["STALE"]),
        ({"versioncreated": NOW - timedelta(hours=47)}, {}, []),
        (
            {"versioncreated": NOW - timedelta(hours=49)},
            {"received_at": NOW - timedelta(hours=2)},
            [],  # it was 47 h old when it arrived; waiting in our queue does not make it stale
        ),
        ({"versioncreated": NOW - timedelta(hours=3)}, {"stale_after": timedelta(hours=2)}, ["STALE"]),
        ({"urgency": 1}, {}, ["FLASH"]),
        ({"urgency": 2}, {}, ["BULLETIN"]),
        ({"urgency": 3}, {}, ["URGENT"]),
        ({"urgency": 4}, {}, []),
        (
            {"pubstatus": "canceled", "expires": NOW - timedelta(days=1), "urgency": 1},
            {"superseded": True},
            ["KILLED", "EXPIRED", "SUPERSEDED", "FLASH"],
        ),
    ],
)
def test_editor_flags(fields: dict[str, object], kwargs: dict[str, object], flags: list[str]) -> None:
    assert editor_flags(story(**fields), NOW, **kwargs) == flags  # type: ignore[arg-type]
