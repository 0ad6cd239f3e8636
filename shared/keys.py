"""Every Redis key the pipeline uses, built in one place.

Redis Cluster routes a key by the part inside `{…}` (its hash tag). Keys that one
command, transaction or Lua script touches together share a tag, so no command
ever crosses slots; everything else gets its own tag so load spreads across nodes:

- `{P:in}`        the received streams and the item-version registry that ingest
                  checks and appends to atomically, and the editors' kill requests.
- `{P:enriched}`  the enriched stream and enrich's publish-once ledger.
- `{P:dlq}`       the dead-letter stream.
- `{P:events}`    the delivery-events stream.
- `{P:story:ID}`  one story's pipeline status (spread per story).
- `{P:outlet:N}`  one outlet's queue and its deliveries (spread per outlet).
- `{P:index}`     the related-story index (one tag: its scripts read postings and
                  entries together).

`P` is the key prefix (setting `key_prefix`), which also isolates test runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "nr"

    def _tag(self, name: str) -> str:
        return "{" + f"{self.prefix}:{name}" + "}"

    # --- streams (names double as FastStream channel names) -------------------
    @property
    def received(self) -> str:
        """Routine stories accepted by ingest, waiting for enrich."""
        return f"{self._tag('in')}:stories.received"

    def received_lane(self, partner: str) -> str:
        """One partner's routine stories. Enrich reads every partner's lane side by side,
        so a flood from one partner never queues another partner's stories behind it."""
        return f"{self.received}:{partner}"

    @property
    def received_priority(self) -> str:
        """Kills and flashes: enrich drains this before routine traffic."""
        return f"{self._tag('in')}:stories.received.priority"

    @property
    def item_versions(self) -> str:
        """Hash: partner + item uri -> newest version seen (ingest dedup)."""
        return f"{self._tag('in')}:item-versions"

    @property
    def kill_requested(self) -> str:
        """Editors' kills (`KillRequested`), for ingest to record where versions are decided."""
        return f"{self._tag('in')}:kills.requested"

    @property
    def enriched(self) -> str:
        return f"{self._tag('enriched')}:stories.enriched"

    @property
    def enriched_ledger(self) -> str:
        """Sorted set of (story, version) already published onward by enrich."""
        return f"{self._tag('enriched')}:published"

    @property
    def dead_letter(self) -> str:
        return f"{self._tag('dlq')}:dead-letter"

    @property
    def delivery_events(self) -> str:
        """Delivery done/failed events, for the queue page and operators."""
        return f"{self._tag('events')}:deliveries"

    @property
    def delivery_changes(self) -> str:
        """Every delivery state change (capped notification feed for the live queue page)."""
        return f"{self._tag('events')}:delivery-changes"

    def failures(self, stream: str) -> str:
        """Hash: entry id -> last error, one per stream, in the stream's slot.

        Per stream, not per hash tag: entry ids are only unique within a stream, and the
        partners' lanes, the priority stream and the kill requests all share `{P:in}`,
        so two of them often hold the same id (same millisecond, sequence 0).
        """
        tag_end = stream.index("}") + 1
        return f"{stream[:tag_end]}:failures{stream[tag_end:]}"

    # --- per-story state ---------------------------------------------------------
    def story(self, story_id: str) -> str:
        return f"{self._tag('story:' + story_id)}:status"

    def story_timeline(self, story_id: str) -> str:
        return f"{self._tag('story:' + story_id)}:timeline"

    def story_versions(self, story_id: str) -> str:
        """Hash: version -> the enriched story publish received (for the story view)."""
        return f"{self._tag('story:' + story_id)}:versions"

    def story_deliveries(self, story_id: str) -> str:
        """Hash: delivery id -> outlet, every delivery publish created for the story."""
        return f"{self._tag('story:' + story_id)}:deliveries"

    # --- publish -------------------------------------------------------------------
    def outlet(self, outlet: str, part: str) -> str:
        return f"{self._tag('outlet:' + outlet)}:{part}"

    # --- related-story index -----------------------------------------------------
    def index(self, part: str) -> str:
        return f"{self._tag('index')}:{part}"

    # --- ingest rate limit ---------------------------------------------------------
    def ingest_bucket(self, partner: str) -> str:
        """Hash: one partner's ingest token bucket, in the `{P:in}` slot so the accept
        script charges the bucket and appends the items in one atomic step."""
        return f"{self._tag('in')}:rate:{partner}"
