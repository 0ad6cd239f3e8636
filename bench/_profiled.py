"""Run one service under cProfile: `python -m bench._profiled OUT.prof ingest --port N`.

uvicorn re-raises SIGTERM after its graceful shutdown, which would kill the process
before cProfile writes; turning SIGTERM into SystemExit lets the profile be saved.
"""

from __future__ import annotations

import cProfile
import runpy
import signal
import sys
from types import FrameType


def _exit(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    out = sys.argv.pop(1)
    signal.signal(signal.SIGTERM, _exit)
    profile = cProfile.Profile()
    profile.enable()
    try:
        runpy.run_module("services.cli", run_name="__main__")
    except SystemExit:
        pass
    finally:
        profile.disable()
        profile.dump_stats(out)


if __name__ == "__main__":
    main()
