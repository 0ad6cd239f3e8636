"""`python -m bench`: run every benchmark in turn and print their tables."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main() -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    selected = sys.argv[1:] or names
    for name in selected:
        module = importlib.import_module(f"bench.{name}")
        print(f"\n=== bench.{name} ===", flush=True)
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
