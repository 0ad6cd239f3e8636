"""Large bodies parsed in the parse processes read exactly as they do in the serving process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from services.ingest.intake import Intake, Refused
from services.ingest.offload import INLINE_BYTES, BodyReader
from services.ingest.schemas import NinjsSchemas
from shared.config import Partner
from shared.streams import decode_entry
from tests.conftest import shared_data
from tests.helpers.waiting import until
from tests.integration.ingest_support import ninjs

pytestmark = pytest.mark.integration
SCHEMAS = shared_data("iptc/ninjs/specification")
PARTNER = Partner.model_validate({"id": "alpha", "keys_sha256": ["0" * 64]})
NDJSON = {"content-type": "application/x-ndjson", "x-trace-id": "t-1"}


def _body(extra: bytes = b"") -> bytes:
    long_body = {"bodies": [{"role": "main", "contenttype": "text/html", "value": "<p>Words.</p>" * 100}]}
    items = [ninjs(f"urn:o:{n}", **long_body) for n in range(20)]
    items[4] = ninjs("urn:o:4", embargoed="Last Tuesday", **long_body)
    items[6] = ninjs("urn:o:6", pubstatus="canceled", **long_body)
    items[8] = ninjs("urn:o:8", extension_field=["not in the schema"], **long_body)
    body = "\n".join(json.dumps(item) for item in items).encode() + extra
    assert len(body) > INLINE_BYTES
    return body


def _readable(intake: Intake | Refused) -> object:
    """What the routes use of an intake, minus the per-request trace ids and clock."""
    if isinstance(intake, Refused):
        return intake
    return (
        [(i.source_format, i.story, i.error and str(i.error), i.warnings) for i in intake.parsed.items],
        [e.model_dump(exclude={"trace_id", "received_at"}) for e in intake.events],  # originals too
        [json.loads(decode_entry({b"__data__": p}))["story_id"] for p in intake.payloads],
    )


async def test_the_parse_processes_read_a_large_body_as_the_serving_process_does() -> None:
    schemas = NinjsSchemas.load(SCHEMAS)
    in_processes = BodyReader(schemas, SCHEMAS, processes=1, retry_after_seconds=5)
    here = BodyReader(schemas, SCHEMAS, processes=0, retry_after_seconds=5)
    try:
        assert await in_processes.warm()
        assert not await here.warm()
        for body in (_body(), _body(b"\n{oops")):
            there = await in_processes.intake(body, NDJSON, PARTNER, 4096)
            local = await here.intake(body, NDJSON, PARTNER, 4096)
            assert _readable(there) == _readable(local)
    finally:
        in_processes.close()
    assert isinstance(there, Refused)
    assert (there.status, there.pointer) == (400, "line 21, column 2")
    good = await here.intake(_body(), NDJSON, PARTNER, 4096)
    assert isinstance(good, Intake)
    assert [e.received_as for e in good.events][4:6] == ["new", "kill"]  # item 4 is no event
    assert good.parsed.items[4].error is not None
    assert good.parsed.items[8].warnings  # not strict: the schema violation is a warning


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_parse_processes_end_when_the_serving_process_is_killed() -> None:
    serving = textwrap.dedent(
        f"""
        import asyncio
        from pathlib import Path
        from services.ingest.offload import BodyReader
        from services.ingest.schemas import NinjsSchemas

        async def main() -> None:
            schema_dir = Path({str(SCHEMAS)!r})
            reader = BodyReader(NinjsSchemas.load(schema_dir), schema_dir, processes=1, retry_after_seconds=5)
            assert await reader.warm()
            print("ready", flush=True)
            await asyncio.Event().wait()

        asyncio.run(main())
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", serving], stdout=subprocess.PIPE, cwd=Path(__file__).parents[2]
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        workers = _children(proc.pid)
        assert workers  # the parse process (and multiprocessing's resource tracker)
        os.kill(proc.pid, signal.SIGKILL)  # no shutdown: the pool is never told
        proc.wait()
        await until(lambda: not any(_running(pid) for pid in workers), 15, "the parse processes ending")
    finally:
        if proc.poll() is None:
            proc.kill()
