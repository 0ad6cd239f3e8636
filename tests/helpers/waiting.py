"""Waiting for an event in tests: poll a condition until it holds or a deadline passes.

The one way tests synchronise with real parts (services, Redis, receivers). A fixed sleep
waits too long on a fast machine and too little on a loaded one; a deadline only bounds
how long a test may take to notice something happened. For "nothing happened" a test
waits for a later positive event (a sentinel that would come after) and then asserts.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable

Check = Callable[[], object | Awaitable[object]]


async def wait_until(check: Check, timeout: float, interval: float = 0.1) -> bool:
    """True as soon as `check()` (sync or async) is truthy; False when `timeout` s pass first."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)  # the poll interval, not a wait for anything


async def until(check: Check, timeout: float = 10.0, what: str = "condition", interval: float = 0.02) -> None:
    """Like `wait_until`, but fails the test when the deadline passes."""
    if not await wait_until(check, timeout, interval):
        raise AssertionError(f"{what} not reached within {timeout} s")
