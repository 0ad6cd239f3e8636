"""Date-time reading for every format: lenient about form, strict about meaning.

Agencies send ISO 8601 extended (`2024-05-01T12:00:00Z`) and basic
(`20240501T120000+0200`, NewsML 1.2's `20240501T120000Z`), 14-digit stamps
(`20240501120000`), RFC 2822 (`Wed, 01 May 2024 12:00:00 +0000`) and times with no
offset at all. A time without an offset is read in the partner's configured
timezone (a warning says so); a date alone is midnight there. Template
placeholders (`YYYYMMDD000000-HHMM`) and unreadable values ("Last Tuesday") are
dropped with a warning — except an embargo: dropping it would release the story
early, so an unreadable embargo refuses the item (`required=True`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from services.ingest.items import ItemError, Reading

# ISO 8601 basic format and 14-digit stamps: 20210516T090004(+0200|Z)?, 20210516090004
_BASIC = re.compile(
    r"^(\d{4})(\d{2})(\d{2})(?:T?(\d{2})(\d{2})(\d{2})?(?:[.,]\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$", re.ASCII
)
# A template left unfilled: runs of the letters that stand for digits in date masks.
_PLACEHOLDER = re.compile(r"YYYY|MM|DD|HH")


def read_datetime(value: object, where: str, reading: Reading, *, required: bool = False) -> datetime | None:
    """An aware datetime, or None (absent, or dropped with a warning on `reading`).

    `required` fields (the embargo) refuse the item with ItemError rather than drop
    a value that is present but unreadable.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        _unreadable(
            where, value, reading, required, f"expected a date-time string, got {type(value).__name__}"
        )
        return None
    text = value.strip()
    if not text:
        return None
    if _PLACEHOLDER.search(text):
        reading.warn(where, text, "a template placeholder, not a date; dropped")
        return None
    parsed = _extended(text) or _basic(text) or _rfc2822(text)
    if parsed is None:
        _unreadable(
            where, text, reading, required, f"{_quote(text)} is not a date-time (e.g. 2024-05-01T12:00:00Z)"
        )
        return None
    if parsed.tzinfo is None:
        zone = str(reading.timezone)
        reading.warn(where, text, f"no UTC offset; read as {zone} time")
        parsed = parsed.replace(tzinfo=reading.timezone)
    try:
        parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-05:00 exists, but not in UTC
        _unreadable(where, text, reading, required, "the date is outside what can be held in UTC")
        return None
    return parsed


def _unreadable(where: str, value: object, reading: Reading, required: bool, detail: str) -> None:
    if required:
        raise ItemError(where, f"{detail}; an embargo must be readable, so the item is refused")
    reading.warn(where, value, f"not a date-time; dropped ({detail})")


def _extended(text: str) -> datetime | None:
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text, re.ASCII):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _basic(text: str) -> datetime | None:
    match = _BASIC.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    offset = "" if zone is None else ("+00:00" if zone == "Z" else zone[:3] + ":" + zone[-2:])
    iso = f"{year}-{month}-{day}T{hour or '00'}:{minute or '00'}:{second or '00'}{offset}"
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        return None


def _rfc2822(text: str) -> datetime | None:
    if not re.search(r"[A-Za-z]{3}", text):
        return None
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):  # Overflow: a 25-digit "hour"
        return None


def _quote(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
