"""Atom feeds for outlets that pull: the entries (in Redis) and the feed document (pure).

One entry per story, replaced by each newer version (same Atom id, newer
`updated`), so a feed reader applies last-version-wins and sees kills as updates.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from shared.connections import RedisClient
from shared.keys import Keys
from shared.untrusted import safe_url, xml_text

ATOM_NS = "http://www.w3.org/2005/Atom"


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
    """The feed document, built by ElementTree: every attribute and text escaped, illegal characters
    dropped, links only to safe URLs, so no entry can make the feed ill-formed for everyone."""
    feed = Element("feed", xmlns=ATOM_NS)
    updated = entries[0]["updated"] if entries else now.isoformat()
    _child(feed, "title", f"{outlet} — newsroom wire")
    _child(feed, "id", f"urn:newsroom:feed:{outlet}")
    _link(feed, "self", self_url)
    _child(feed, "updated", str(updated))
    for entry in entries:
        killed = entry.get("type") == "story.killed"
        item = SubElement(feed, "entry")
        _child(item, "id", f"urn:newsroom:story:{entry['story_id']}")
        _child(item, "title", ("KILL: " if killed else "") + str(entry.get("headline", "")))
        _child(item, "updated", str(entry["updated"]))
        _child(item, "published", str(entry["published"]))
        _child(SubElement(item, "author"), "name", str(entry.get("author") or "newsroom"))
        _link(item, "alternate", entry.get("uri"))
        SubElement(item, "category", term=xml_text(str(entry.get("type", ""))))
        if entry.get("summary"):
            _child(item, "summary", str(entry["summary"]))
        for enclosure in entry.get("enclosures") or []:
            href = safe_url(enclosure.get("href"))
            if href is not None:  # RFC 4287 §4.2.7.2: a media file of the entry
                attributes = {"rel": "enclosure", "href": xml_text(href)}
                if enclosure.get("type"):
                    attributes["type"] = xml_text(str(enclosure["type"]))
                if enclosure.get("length"):
                    attributes["length"] = str(int(enclosure["length"]))
                SubElement(item, "link", attributes)
        _child(item, "content", str(entry.get("html", "")), type="html")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + tostring(feed, encoding="unicode") + "\n"


def _child(parent: Element, tag: str, text: str, **attributes: str) -> Element:
    element = SubElement(parent, tag, attributes)
    element.text = xml_text(text)
    return element


def _link(parent: Element, rel: str, url: str | None) -> None:
    href = safe_url(url)
    if href is not None:
        SubElement(parent, "link", rel=rel, href=xml_text(href))
