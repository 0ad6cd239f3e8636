"""`python -m bench`: run every benchmark in turn, then every target beside its figure and baseline.

A benchmark's `main()` may return its targets as (target, figure, baseline, threshold, met)
rows; they are printed together at the end, all from this one run.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
from typing import Any

import bench


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    selected = sys.argv[1:] or names
    targets: list[tuple[str, Any]] = []
    for name in selected:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n=== bench.{name} ===", flush=True)
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
