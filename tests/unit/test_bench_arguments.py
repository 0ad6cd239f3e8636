"""`python -m bench`'s command line: benchmark names first, then one benchmark's own options."""

from __future__ import annotations

import pytest

from bench.__main__ import split_arguments

NAMES = ["ingest", "pipeline", "startup"]


def test_no_names_runs_every_benchmark() -> None:
    assert split_arguments([], NAMES) == (NAMES, [])


def test_options_after_one_name_reach_that_benchmark() -> None:
    argv = ["ingest", "--requests", "500", "--batches", "20"]
    assert split_arguments(argv, NAMES) == (["ingest"], ["--requests", "500", "--batches", "20"])


def test_options_need_exactly_one_benchmark() -> None:
    with pytest.raises(SystemExit, match="one benchmark"):
        split_arguments(["ingest", "pipeline", "--requests", "5"], NAMES)
    with pytest.raises(SystemExit, match="one benchmark"):
        split_arguments(["--requests", "5"], NAMES)


def test_an_unknown_name_is_refused_with_the_known_ones() -> None:
    with pytest.raises(SystemExit, match="no benchmark ingst; there are: ingest, pipeline, startup"):
        split_arguments(["ingst"], NAMES)
