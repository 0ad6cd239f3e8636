"""The composition root: the one place that wires one service's parts into another's.

Services import only `shared/` and themselves; where a process serves parts of two
services, they are put together here (and in `services/cli.py`, the CLI's root).
"""

from __future__ import annotations

from fastapi import FastAPI

from services.enrich.related.api import related_router
from services.ingest.app import create_app
from shared.config import NewsroomConfig
from shared.settings import Settings


def ingest_app(settings: Settings | None = None, config: NewsroomConfig | None = None) -> FastAPI:
    """The partners' API: ingest's routes and enrich's related query (enrich owns the index)."""
    return create_app(settings, config, routers=[related_router])
