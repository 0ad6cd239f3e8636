"""Editors' kills, recorded where versions are decided.

Publish asks with a `KillRequested` command on ingest's kill stream; ingest accepts
it like a partner's kill: the registry marks the item killed (no later version
resurrects it) and a `kill` goes onto the priority stream (enrich drops the story
from the related index; publish finds its kill deliveries already there and sends
nothing twice). An editor's kill is not charged to the partner's rate bucket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.ingest.acceptance import Acceptor
from shared.connections import Broker, RedisClient
from shared.consuming import Entry, StreamConsumer
from shared.events import KillRequested, StoryReceived, utcnow
from shared.logging import get_logger
from shared.settings import Settings
from shared.streams import Streams

log = get_logger(__name__)


def kill_consumer(
    broker: Broker, redis: RedisClient, settings: Settings, acceptor: Acceptor
) -> StreamConsumer[KillRequested]:
    async def on_kill_requested(entries: Sequence[Entry[KillRequested]]) -> Mapping[str, BaseException]:
        failed: dict[str, BaseException] = {}
        for entry in entries:
            kill = entry.event
            received = StoryReceived(
                story_id=kill.story_id,
                trace_id=kill.trace_id,
                received_at=utcnow(),
                received_as="kill",
                story=kill.story,
                source_format="editor-kill",
            )
            try:
                result = await acceptor.accept(kill.story.partner, [received], limit=None)
            except Exception as exc:  # left pending, retried by the reclaimer
                failed[entry.entry_id] = exc
                continue
            log.info(
                "editor's kill recorded", story_id=kill.story_id, editor=kill.editor, result=repr(result)
            )
        return failed

    return StreamConsumer(
        broker=broker,
        redis=redis,
        settings=settings,
        stream=Streams.for_keys(settings.keys).kill_requested,
        model=KillRequested,
        handle=on_kill_requested,
    )
