"""Where each story is in the pipeline: a status hash and a timeline per story.

Written by all three services (received, enriched, per-outlet delivery), read by
`GET /v1/stories/{id}` and the editors' queue page. Both keys share the story's
hash tag, so one pipeline updates them together on a cluster too.
"""

from __future__ import annotations

import json
import time
from typing import Any

from shared.connections import RedisClient
from shared.keys import Keys

TIMELINE_MAX = 200
STATUS_TTL_SECONDS = 90 * 24 * 3600


async def record(
    redis: RedisClient,
    keys: Keys,
    story_id: str,
    event: str,
    fields: dict[str, Any],
    *,
    service: str,
) -> None:
    """Set status fields and append one timeline event, atomically for this story."""
    now = time.time()
    status_key, timeline_key = keys.story(story_id), keys.story_timeline(story_id)
    entry = json.dumps({"at": now, "event": event, "service": service, **fields}, default=str)
    flat = {
        k: (json.dumps(v, default=str) if not isinstance(v, str | int | float) else v)
        for k, v in fields.items()
    }
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hset(status_key, mapping={**flat, f"{event}_at": now, "updated_at": now})
        pipe.rpush(timeline_key, entry)
        pipe.ltrim(timeline_key, -TIMELINE_MAX, -1)
        pipe.expire(status_key, STATUS_TTL_SECONDS)
        pipe.expire(timeline_key, STATUS_TTL_SECONDS)
        await pipe.execute()


async def read(redis: RedisClient, keys: Keys, story_id: str) -> dict[str, Any] | None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.story(story_id))
        pipe.lrange(keys.story_timeline(story_id), 0, -1)
        raw_status, raw_timeline = await pipe.execute()
    if not raw_status:
        return None
    status = {k.decode(): v.decode() for k, v in raw_status.items()}
    return {"status": status, "timeline": [json.loads(item) for item in raw_timeline]}
