"""The services never use commands a Redis Cluster refuses or scatters (checked in the source).

Cross-slot work must go through one hash tag (see shared/keys.py); these would not:
KEYS and SCAN (scatter over every node, never used for correctness), SELECT and
FLUSHDB/FLUSHALL (databases other than 0 do not exist on a cluster; flushing is
never the pipeline's business), MULTI/transactional pipelines (cross-slot
transactions are refused). Tests may scan their own prefixes for cleanup; the
services may not.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "KEYS": re.compile(r"\.keys\(\s*[\"'bf]"),
    "SCAN": re.compile(r"\.scan(_iter)?\("),
    "SELECT": re.compile(r"\.select\(\s*\d"),
    "FLUSHDB/FLUSHALL": re.compile(r"\.flush(db|all)\(", re.IGNORECASE),
    "MULTI": re.compile(r"\.multi\(|transaction\s*=\s*True|\.pipeline\(\s*\)"),
    "database number": re.compile(r"redis://[^\"'\s]*/[1-9]"),
}


def _sources() -> list[Path]:
    return sorted(p for folder in ("services", "shared") for p in (ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("command", sorted(FORBIDDEN))
def test_services_do_not_use(command: str) -> None:
    pattern = FORBIDDEN[command]
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if pattern.search(line) and not line.lstrip().startswith("#")
    ]
    assert not hits, f"{command} is not cluster-safe:\n" + "\n".join(hits)
