"""Strict date-time reading for every format.

Embargo, expiry and age all depend on these values, so anything that is not an
ISO 8601 date or date-time ("Last Tuesday", "Next Monday", 2019) is refused with
the field's location rather than silently dropped. A date without a time means
midnight UTC; a time without an offset is taken as UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from services.ingest.items import ItemError

# NITF and some agencies send ISO 8601 basic format: 20210516T090004(+0200|Z)?
_BASIC = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")


def parse_datetime(value: object, where: str) -> datetime | None:
    """An aware datetime, None for an absent/empty value, or ItemError naming `where`."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ItemError(where, f"expected an ISO 8601 date-time string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    parsed = _extended(text) or _basic(text)
    if parsed is None:
        raise ItemError(where, f"{_quote(text)} is not an ISO 8601 date-time (e.g. 2024-05-01T12:00:00Z)")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _extended(text: str) -> datetime | None:
    if not re.match(r"^\d{4}-\d{2}-\d{2}", text):
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


def _quote(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
