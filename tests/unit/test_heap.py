"""The start-up heap is frozen out of full collections, and the pauses that remain are measured."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from shared.heap import settle_start_up_heap
from shared.metrics import GC_FULL_PAUSE_SECONDS


def _observed_pauses() -> float:
    for metric in GC_FULL_PAUSE_SECONDS.collect():
        for sample in metric.samples:
            if sample.name.endswith("_count"):
                return sample.value
    raise AssertionError("histogram has no count")


@pytest.fixture
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()  # later tests see the collector as they found it


def test_start_up_objects_are_frozen_and_kept_out_of_full_collections(thawed: None) -> None:
    kept = [{"alias": str(n)} for n in range(5_000)]
    frozen = settle_start_up_heap()
    assert frozen >= len(kept)
    # The oldest generation a full collection scans no longer holds them.
    marker = kept[0]
    assert not any(obj is marker for obj in gc.get_objects(generation=2))


def test_a_full_collection_after_settling_is_measured(thawed: None) -> None:
    settle_start_up_heap()
    settle_start_up_heap()  # calling twice registers the observer once
    before = _observed_pauses()
    gc.collect()
    assert _observed_pauses() == before + 1
    gc.collect(generation=0)  # young collections are not counted
    assert _observed_pauses() == before + 1
