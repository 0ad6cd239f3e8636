"""`decide`: what a story version is received as, given the registry's entry for its item."""

from __future__ import annotations

import pytest

from services.ingest.acceptance import Decision, decide


@pytest.mark.parametrize(
    ("current", "version", "pubstatus", "expected"),
    [
        (None, 1, "usable", Decision("accepted", "new", "1")),
        (None, 3, "withheld", Decision("accepted", "withheld", "3")),
        (None, 2, "canceled", Decision("accepted", "kill", "2:killed")),
        ("1", 2, "usable", Decision("accepted", "update", "2")),
        ("1", 2, "withheld", Decision("accepted", "withheld", "2")),
        ("2", 2, "usable", Decision("duplicate", current_version=2)),
        ("3", 2, "usable", Decision("superseded", current_version=3)),
        ("3", 2, "withheld", Decision("superseded", current_version=3)),
        ("3", 1, "canceled", Decision("accepted", "kill", "3:killed")),  # never lowers the version
        ("3", 5, "canceled", Decision("accepted", "kill", "5:killed")),
        ("3:killed", 4, "usable", Decision("killed", current_version=3)),
        ("3:killed", 1, "canceled", Decision("duplicate", current_version=3)),
    ],
)
def test_decide(current: str | None, version: int, pubstatus: str, expected: Decision) -> None:
    assert decide(current, version, pubstatus) == expected
