"""Services import only `shared/` and themselves: never services/X from services/Y.

Where one process serves parts of two services, the composition roots at the top
of `services/` (bootstrap.py, cli.py) wire them; they are the only exception.
"""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[str] = []
    for node in ast.walk(tree):  # walk: function-level (lazy) imports count too
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def cross_service_imports() -> list[str]:
    crossings = []
    for service in sorted(p for p in SERVICES.iterdir() if (p / "__init__.py").is_file()):
        for path in sorted(service.rglob("*.py")):
            for module in _imported_modules(path):
                parts = module.split(".")
                if parts[0] == "services" and len(parts) > 1 and parts[1] != service.name:
                    crossings.append(f"{path.relative_to(SERVICES.parent)} imports {module}")
    return crossings


def test_no_service_imports_another() -> None:
    assert cross_service_imports() == []


def test_the_scan_sees_every_service_and_catches_a_crossing(tmp_path: Path) -> None:
    services = {p.name for p in SERVICES.iterdir() if (p / "__init__.py").is_file()}
    assert {"ingest", "enrich", "publish"} <= services
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from services.ingest.acceptance import Acceptor\n")
    assert _imported_modules(bad) == ["services.ingest.acceptance"]
