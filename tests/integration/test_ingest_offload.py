"""Large bodies parsed in the parse processes read exactly as they do in the serving process."""

from __future__ import annotations

import json

import pytest

from services.ingest.intake import Intake, Refused
from services.ingest.offload import INLINE_BYTES, BodyReader
from services.ingest.schemas import NinjsSchemas
from shared.config import Partner
from shared.streams import decode_entry
from tests.conftest import shared_data
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
