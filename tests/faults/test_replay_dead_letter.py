"""`newsroom replay-dead-letter` puts a dead-lettered story back on its stream, and it arrives."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.connections import RedisClient
from shared.events import StoryReceived
from shared.settings import Settings
from shared.story import Story
from shared.streams import dead_letter, encode_event
from tests.faults.timings import FAULT_ENV
from tests.helpers.pipeline import (
    PARTNER_ID,
    Pipeline,
    delivered_versions,
    wait_until,
    write_config,
)
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.faults


async def test_replay_puts_dead_letters_back_and_they_are_delivered(
    settings: Settings, service_env: dict[str, str], redis: RedisClient, tmp_path: Path
) -> None:
    keys = settings.keys
    story = Story(
        partner=PARTNER_ID,
        uri="urn:test:story:42",
        headline="Story 42",
        body_html="<p>Delegates met in Geneva.</p>",
        language="en",
        firstcreated=datetime(2026, 11, 28, 10, tzinfo=UTC),
    )
    event = StoryReceived(story_id=story.id, trace_id="replay", received_at=datetime.now(UTC), story=story)
    # as if enrich had given up on it (e.g. a bug since fixed)
    await dead_letter(
        redis,
        keys,
        source=keys.received,
        entry_id="1-0",
        error="gave up after 5 attempts: RuntimeError('tagger crashed')",
        deliveries=6,
        payload=await encode_event(event, "replay"),
        story_id=story.id,
    )
    await dead_letter(
        redis, keys, source="publish:alpha", entry_id="d1", error="HTTP 500", deliveries=8, payload=b"{}"
    )
    with Receiver() as outlet:
        write_config(settings.config_path, {"alpha": outlet})
        env = {**service_env, **FAULT_ENV}
        with Pipeline(env, tmp_path):
            result = subprocess.run(
                [sys.executable, "-m", "services.cli", "replay-dead-letter"],
                env={**env, "PATH": "/usr/bin:/bin"},
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            )
            assert "replayed" in result.stderr, result.stderr
            assert await wait_until(lambda: delivered_versions(outlet).get(story.uri) == [1], 30)
        remaining = await redis.xrange(keys.dead_letter, "-", "+")
        assert [fields[b"source"] for _id, fields in remaining] == [b"publish:alpha"]
        print("\n" + result.stderr)
