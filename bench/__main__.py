"""`python -m bench`: run every benchmark in turn, then every target beside its figure and baseline.

    python -m bench                                  # every benchmark
    python -m bench ingest pipeline                  # some of them, with their defaults
    python -m bench ingest --requests 500 --batches 20   # one of them, with its own options

Options after the names go to the benchmark as its command line (as `python -m bench.NAME
OPTIONS` would get them), so they need exactly one name. A benchmark's `main()` may return
its targets as (target, figure, baseline, threshold, met) rows; they are printed together at
the end, all from this one run.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from typing import Any

import bench


def split_arguments(argv: list[str], names: list[str]) -> tuple[list[str], list[str]]:
    """(benchmarks to run, options for the one benchmark) from `python -m bench`'s arguments."""
    first_option = next((n for n, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    selected, options = argv[:first_option], argv[first_option:]
    unknown = [name for name in selected if name not in names]
    if unknown:
        raise SystemExit(f"no benchmark {', '.join(unknown)}; there are: {', '.join(names)}")
    if options and len(selected) != 1:
        raise SystemExit("options go to one benchmark: python -m bench NAME [OPTIONS]")
    return selected or names, options


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    selected, options = split_arguments(sys.argv[1:], names)
    targets: list[tuple[str, Any]] = []
    for name in selected:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n=== bench.{name} ===", flush=True)
        sys.argv = [module.__file__ or name, *options]  # what `python -m bench.NAME OPTIONS` sees
        for row in module.main() or []:
            targets.append((name, row))
    if targets:
        print(f"\n=== targets (one run; load average now {os.getloadavg()[0]:.1f} on 2 shared cores) ===")
        print("| bench | target | figure | baseline (same run) | threshold | |")
        print("|---|---|---:|---:|---|---|")
        for name, (target, figure, baseline, threshold, met) in targets:
            verdict = "met" if met else "MISSED"
            print(f"| {name} | {target} | {figure} | {baseline} | {threshold} | {verdict} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
