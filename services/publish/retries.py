"""What an outlet's answer means, and when to try again (pure).

Standard Webhooks: 2xx is success; 3xx is a failure (no redirects are followed);
410 disables the outlet; 429/502/503/504 throttle and their `Retry-After` is
honoured; anything else (and timeouts) is retried on a growing schedule with
jitter until the schedule is exhausted, then the delivery fails for good.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

Outcome = Literal["delivered", "retry", "failed", "disable"]
THROTTLING = frozenset({429, 502, 503, 504})
_DELTA_SECONDS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also takes '²'


@dataclass(frozen=True)
class Attempt:
    """The result of one attempt as the transport saw it."""

    status_code: int | None = None
    error: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Judgement:
    outcome: Outcome
    delay: float = 0.0
    error: str = ""


def judge(
    attempt: Attempt,
    attempts_made: int,
    schedule: Sequence[float],
    *,
    jitter: float,
    retry_after_max: float,
    rand: Callable[[], float] = random.random,
) -> Judgement:
    """Decide after attempt number `attempts_made` (1-based) of this round."""
    if attempt.ok:
        return Judgement("delivered")
    code = attempt.status_code
    error = attempt.error or describe(code)
    if code == 410:
        return Judgement("disable", error=f"{error}: outlet disabled")
    if attempts_made > len(schedule):
        return Judgement("failed", error=f"{error} (gave up after {attempts_made} attempts)")
    delay = retry_delay(attempts_made, schedule, jitter=jitter, rand=rand)
    if code in THROTTLING and attempt.retry_after is not None:
        delay = max(delay, min(attempt.retry_after, retry_after_max))
    return Judgement("retry", delay=delay, error=error)


def retry_delay(
    attempts_made: int, schedule: Sequence[float], *, jitter: float, rand: Callable[[], float]
) -> float:
    """The scheduled delay after attempt `attempts_made`, varied by ±jitter."""
    base = schedule[min(attempts_made, len(schedule)) - 1]
    return max(0.0, base * (1 + jitter * (2 * rand() - 1)))


def describe(status_code: int | None) -> str:
    if status_code is None:
        return "no answer"
    if 300 <= status_code < 400:
        return f"HTTP {status_code}: redirects are not followed"
    return f"HTTP {status_code}"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date), else None.

    Total: an outlet's header is untrusted text, so anything unreadable means "no
    advice", never an exception (one raised here once kept a delivered story sending).
    An HTTP date without a zone is read as GMT, the only zone RFC 9110 allows.
    """
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)  # may be inf for absurd lengths; judge() caps it
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return max(0.0, seconds) if math.isfinite(seconds) else None
