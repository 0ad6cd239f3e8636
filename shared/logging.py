"""structlog setup: readable on a terminal, JSON lines otherwise.

Handlers bind `story_id` and `trace_id` with `structlog.contextvars` so every
line about a story carries both, whichever service writes it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from shared.untrusted import terminal_text


def configure_logging(service: str, level: str = "INFO", json: bool | None = None) -> None:
    use_json = (not sys.stderr.isatty()) if json is None else json
    # JSON escapes control characters itself; the console renderer prints them as they are.
    renderer: list[structlog.types.Processor] = (
        [structlog.processors.JSONRenderer()]
        if use_json
        else [printable_values, structlog.dev.ConsoleRenderer()]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            *renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (uvicorn, faststream) log through stdlib; keep them terse and on stderr.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(PrintableFormatter("%(name)s %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def _stderr_logger(*_: Any) -> structlog.PrintLogger:
    # Whatever stderr is when a line is written, not when logging was set up (a CLI run under
    # a test runner's captured, later closed, stream must not break every later log line).
    return structlog.PrintLogger(file=sys.stderr)


def printable_values(_: object, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Drop terminal control characters from every string in a log line (a headline, a path)."""
    return {
        key: terminal_text(value, lines=key == "exception") if isinstance(value, str) else value
        for key, value in event.items()
    }


class PrintableFormatter(logging.Formatter):
    """Library log lines (uvicorn's request lines carry the caller's path) without control characters."""

    def format(self, record: logging.LogRecord) -> str:
        return terminal_text(super().format(record), lines=True)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
