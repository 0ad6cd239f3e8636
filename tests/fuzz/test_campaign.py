"""The campaign's CI slice: a few thousand mutated inputs per parser, none escaping unrefused.

`make fuzz` runs the same campaign with 100,000 inputs per parser and reports coverage.
"""

from __future__ import annotations

import pytest

from tests.fuzz.campaign import run_target
from tests.fuzz.targets import TARGETS, Target


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_a_short_campaign_finds_nothing(target: Target) -> None:
    report = run_target(target, inputs=1500, seed=14)
    assert report.inputs == 1500
    assert report.refused + report.accepted == report.inputs
    assert report.failures == {}, {sig: data[:200] for sig, data in report.failures.items()}
