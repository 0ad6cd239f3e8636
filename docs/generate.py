"""Write (or, with --check, verify) the API documents generated from the code.

- `docs/asyncapi.json`: the streams, from `shared.streams.channels` and `shared/events.py`
  (docs/asyncapi.py);
- `docs/openapi-<service>.json`: each service's HTTP API, as FastAPI describes it.

`make docs` regenerates them; `make docs-check` (run in CI) fails when the checked-in
files no longer match the code.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # this checkout's code, whatever is installed


def documents() -> dict[str, Any]:
    # Fixed names so the documents do not depend on the host, the pid or the environment.
    for name in list(os.environ):
        if name.startswith("NEWSROOM_") or name in ("REDIS_URL", "REDIS_CLUSTER_NODES"):
            del os.environ[name]
    from docs.asyncapi import document
    from services.bootstrap import ingest_app
    from services.enrich.worker import create_app as enrich_app
    from services.publish.worker import create_app as publish_app
    from shared.config import NewsroomConfig
    from shared.settings import Settings

    settings = Settings(consumer_name="docs", tagging=False)
    config = NewsroomConfig()
    ingest = ingest_app(settings, config)
    enrich = enrich_app(settings, config)
    publish = publish_app(settings, config)
    return {
        "asyncapi.json": document(settings.keys),
        "openapi-ingest.json": ingest.openapi(),
        "openapi-enrich.json": enrich.openapi(),
        "openapi-publish.json": publish.openapi(),
    }


def render(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, document in documents().items():
        path = HERE / name
        text = render(document)
        current = path.read_text() if path.exists() else ""
        if current == text:
            continue
        if check:
            stale.append(name)
            diff = difflib.unified_diff(
                current.splitlines(), text.splitlines(), f"docs/{name}", "generated", lineterm=""
            )
            print("\n".join(list(diff)[:40]), file=sys.stderr)
        else:
            path.write_text(text)
            print(f"wrote docs/{name}")
    if stale:
        print(f"out of date: {', '.join(stale)} — run `make docs` and commit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
