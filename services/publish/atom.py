"""Atom feeds for outlets that pull: the entries (in Redis) and the feed document (pure).

One entry per story, replaced by each newer version (same Atom id, newer
`updated`), so a feed reader applies last-version-wins and sees kills as updates.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from shared.connections import RedisClient
from shared.keys import Keys


class AtomStore:
    def __init__(self, redis: RedisClient, keys: Keys, keep: int) -> None:
        self.redis, self.keys, self.keep = redis, keys, keep

    async def put(self, outlet: str, story_id: str, entry: bytes, now: datetime) -> None:
        order, entries = self.keys.outlet(outlet, "atom:order"), self.keys.outlet(outlet, "atom:entries")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(entries, story_id, entry)
            pipe.zadd(order, {story_id: now.timestamp()})
            await pipe.execute()
        old = await self.redis.zrange(order, 0, -(self.keep + 1))
        if old:
            await self.redis.zrem(order, *old)
            await self.redis.hdel(entries, *old)

    async def entries(self, outlet: str) -> list[dict[str, Any]]:
        order, entries = self.keys.outlet(outlet, "atom:order"), self.keys.outlet(outlet, "atom:entries")
        ids = await self.redis.zrevrange(order, 0, self.keep - 1)
        if not ids:
            return []
        raw = await self.redis.hmget(entries, ids)
        return [json.loads(r) for r in raw if r]


def feed_xml(outlet: str, self_url: str, entries: list[dict[str, Any]], now: datetime) -> str:
    updated = entries[0]["updated"] if entries else now.isoformat()
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f"<title>{escape(outlet)} — newsroom wire</title>",
        f"<id>urn:newsroom:feed:{escape(outlet)}</id>",
        f'<link rel="self" href="{escape(self_url)}"/>',
        f"<updated>{escape(updated)}</updated>",
    ]
    for entry in entries:
        killed = entry.get("type") == "story.killed"
        title = ("KILL: " if killed else "") + entry.get("headline", "")
        parts += [
            "<entry>",
            f"<id>urn:newsroom:story:{escape(entry['story_id'])}</id>",
            f"<title>{escape(title)}</title>",
            f"<updated>{escape(entry['updated'])}</updated>",
            f"<published>{escape(entry['published'])}</published>",
            f"<author><name>{escape(entry.get('author') or 'newsroom')}</name></author>",
            f'<link rel="alternate" href="{escape(entry["uri"])}"/>',
            f'<category term="{escape(entry.get("type", ""))}"/>',
        ]
        if entry.get("summary"):
            parts.append(f"<summary>{escape(entry['summary'])}</summary>")
        parts += [f'<content type="html">{escape(entry.get("html", ""))}</content>', "</entry>"]
    parts.append("</feed>")
    return "\n".join(parts) + "\n"
