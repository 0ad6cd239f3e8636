"""Where request bodies are parsed: small ones on the event loop, large ones in processes.

Reading a ninjs item (JSON, schema check, sanitising, the story, its encoded event)
costs about 0.3 ms of CPU. A thread does not take that off the event loop: the thread
holds the GIL the loop needs, so a partner posting big batches back to back stalled
every other partner's request and `/healthz` for hundreds of milliseconds. Bodies over
`INLINE_BYTES` go to a pool of `parse_processes` processes (spawned on first use, so a
process that never sees a big body never starts one); they hand back the parsed items,
the events and their encoded payloads, and the loop only decides, appends and answers.
A small body (a single story) is parsed on the loop: that takes about a millisecond,
less than the hop to another process would add.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

from services.ingest.intake import Intake, Refused, prepare
from services.ingest.schemas import NinjsSchemas
from shared.config import Partner
from shared.heap import settle_start_up_heap
from shared.logging import configure_logging, get_logger
from shared.problems import Problem

log = get_logger(__name__)

INLINE_BYTES = 16 * 1024
"""Bodies up to this size are parsed on the event loop (a few items: ~1 ms of CPU at most)."""


class BodyReader:
    """Parses request bodies where they cost the event loop least."""

    def __init__(
        self, schemas: NinjsSchemas, schema_dir: Path | None, processes: int, retry_after_seconds: int
    ) -> None:
        self.schemas = schemas
        self.schema_dir = schema_dir
        self.processes = processes
        self.retry_after_seconds = retry_after_seconds
        self._pool: ProcessPoolExecutor | None = None
        self._warm: Future[bool] | None = None

    async def intake(
        self, body: bytes, headers: Mapping[str, str], partner: Partner, max_original: int
    ) -> Intake | Refused:
        if len(body) <= INLINE_BYTES:
            return await prepare(body, headers, partner, self.schemas, max_original)
        pool = self._started()
        if pool is None:  # no processes, or still starting: a thread meanwhile
            return await asyncio.to_thread(
                _prepare_here, body, dict(headers), partner, self.schemas, max_original
            )
        for _ in range(2):  # a pool whose process died is replaced, once per request
            pool = pool or self._started(wait=True)
            assert pool is not None  # processes > 0 here
            try:
                return await asyncio.get_running_loop().run_in_executor(
                    pool, _prepare_in_worker, body, dict(headers), partner, max_original
                )
            except BrokenProcessPool:
                log.warning("parse process died; starting a new pool", partner=partner.id, bytes=len(body))
                if self._pool is pool:
                    self._pool = self._warm = None
                pool.shutdown(wait=False, cancel_futures=True)
                pool = None
        raise Problem(
            503,
            "parse-unavailable",
            "Parsing unavailable",
            "The processes that parse large bodies stopped while reading this one; nothing was stored. "
            "Retry later.",
            headers={"Retry-After": str(self.retry_after_seconds)},
        )

    def _started(self, wait: bool = False) -> ProcessPoolExecutor | None:
        """The pool once a process of it is ready (or at once, with `wait`); started on first use.

        A process takes seconds to start (imports, schemas); the bodies that come meanwhile
        are parsed in a thread, as they would be without processes."""
        if self.processes == 0:
            return None
        if self._pool is None:
            # spawn, not fork: the serving process has threads and open sockets a fork would copy.
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.schema_dir,),
            )
            self._warm = self._pool.submit(_ready)
        return self._pool if wait or (self._warm is not None and self._warm.done()) else None

    async def warm(self) -> bool:
        """Start the processes now and wait until one is ready; False when there are none."""
        if self._started(wait=True) is None or self._warm is None:
            return False
        return await asyncio.wrap_future(self._warm)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._warm = None


PARSE_NICENESS = 10
_worker_schemas: NinjsSchemas | None = None
_worker_loop: asyncio.AbstractEventLoop | None = None


PARENT_CHECK_SECONDS = 0.5


def _exit_with(parent: int) -> None:
    """End this process once `parent` is gone. A pool's process waits on its call queue
    forever, so a serving process that was SIGKILLed (a crash, the OOM killer, a test) would
    leave its parse processes running with no one to hand them work."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _start_worker(schema_dir: Path | None) -> None:
    global _worker_schemas, _worker_loop
    threading.Thread(target=_exit_with, args=(os.getppid(),), name="parent-watch", daemon=True).start()
    # Below the serving process: when CPU is short, answering (health checks, other
    # partners' single stories) goes before parsing a flood's next batch.
    os.nice(PARSE_NICENESS)
    configure_logging("ingest-parse")
    _worker_schemas = NinjsSchemas.load(schema_dir)
    _worker_loop = asyncio.new_event_loop()
    settle_start_up_heap()


def _ready() -> bool:
    return _worker_schemas is not None


def _prepare_in_worker(
    body: bytes, headers: dict[str, str], partner: Partner, max_original: int
) -> Intake | Refused:
    if _worker_schemas is None or _worker_loop is None:
        raise RuntimeError("a parse process runs without its initializer")
    # One loop for the process's life, not asyncio.run per body: in a main thread asyncio.run
    # swaps the SIGINT handler back on exit, and signal.signal() then builds the repr of the
    # old handler, whose task holds the finished Intake: every parsed story's repr, ~30 % of
    # a parse process's CPU (py-spy) thrown away.
    intake = _worker_loop.run_until_complete(prepare(body, headers, partner, _worker_schemas, max_original))
    if isinstance(intake, Refused):
        return intake
    # A story's original travels in its event; not twice through the pipe.
    items = [replace(item, original=b"") if item.story is not None else item for item in intake.parsed.items]
    return replace(intake, parsed=replace(intake.parsed, items=items))


def _prepare_here(
    body: bytes, headers: dict[str, str], partner: Partner, schemas: NinjsSchemas, max_original: int
) -> Intake | Refused:
    return asyncio.run(prepare(body, headers, partner, schemas, max_original))
