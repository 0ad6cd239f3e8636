"""What the index keeps about a story, and how it is computed (pure).

An `IndexEntry` is the compact representation that scoring needs: identity,
language, first-publication time, status, embargo, the entity ids (with their
rarity weight at index time), the top terms with tf-idf weights, and the
MinHash sketch. It is stored as one small JSON value, so memory per story is
bounded by the caps below whatever the story's length.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from services.enrich.related import minhash, text
from shared.story import EntityTag, Story

VECTOR_TERMS = 32  # terms kept per story for lexical similarity
POSTED_TERMS = 12  # of those, the ones that make a story findable (postings per story)
MAX_ENTITIES = 16  # entity ids kept (and posted) per story
UNKNOWN_LANGUAGE = "und"
DOCS_FIELD = "#docs"  # the document count beside the term frequencies


@dataclass(frozen=True)
class Entity:
    id: str
    name: str


def entities_from_tags(tags: Iterable[EntityTag]) -> list[Entity]:
    """Entity ids from tags: the knowledge-base uri when the tagger found one, else kind + name.

    Ordered by relevance so the cap keeps the entities the story is about.
    """
    seen: dict[str, Entity] = {}
    for tag in sorted(tags, key=lambda t: -t.relevance):
        entity_id = tag.uri or f"{tag.kind}:{' '.join(tag.name.casefold().split())}"
        seen.setdefault(entity_id, Entity(entity_id, tag.name))
    return list(seen.values())[:MAX_ENTITIES]


def entity_df_field(entity_id: str) -> str:
    # Terms never contain ':' (see text.words), so this cannot collide with a term.
    return f"e:{entity_id}"


def idf(df: int, docs: int) -> float:
    return math.log((docs + 1) / (df + 1)) + 1.0


@dataclass(frozen=True)
class Analysis:
    """A story before the index's statistics are applied."""

    story_id: str
    partner: str
    uri: str
    version: int
    headline: str
    language: str
    first: float  # first publication, unix seconds
    status: str
    embargo: float | None
    counts: Counter[str]
    entities: list[Entity]
    sketch: minhash.Sketch

    def df_fields(self) -> list[str]:
        return [*self.counts, *(entity_df_field(e.id) for e in self.entities)]


def analyse(story: Story, entities: Iterable[EntityTag], received_at: datetime) -> Analysis:
    first = story.first_published() or received_at
    # The copy itself, not its headline: rewrites and re-sends often change only the headline.
    copy_words = text.words(text.copy_text(story)) or text.words(story.headline)
    return Analysis(
        story_id=story.id,
        partner=story.partner,
        uri=story.uri,
        version=story.version,
        headline=story.headline,
        language=(story.language or UNKNOWN_LANGUAGE).split("-")[0].casefold(),
        first=first.timestamp(),
        status=story.pubstatus,
        embargo=story.embargoed.timestamp() if story.embargoed else None,
        counts=text.term_counts(story),
        entities=entities_from_tags(entities),
        sketch=minhash.sketch(text.shingles(copy_words)),
    )


@dataclass(frozen=True)
class IndexEntry:
    story_id: str
    partner: str
    uri: str
    version: int
    headline: str
    language: str
    first: float
    status: str
    embargo: float | None
    terms: dict[str, float]  # top terms, tf-idf, unit length
    entities: dict[str, tuple[str, float]]  # id -> (name, idf at index time)
    sketch_b64: str

    @cached_property
    def sketch(self) -> minhash.Sketch:
        # Decoded only for the few candidates compared as possible duplicates.
        return minhash.decode(self.sketch_b64)

    def word_terms(self) -> list[str]:
        """The terms that are words, strongest first: figures score but never find a story
        (a posting per distinct figure would be a key per number ever printed)."""
        return [t for t in self.terms if not t.startswith(text.NUMBER_PREFIX)]

    def posted_terms(self) -> list[str]:
        return self.word_terms()[:POSTED_TERMS]

    def usable_at(self, now: float) -> bool:
        return self.status == "usable" and (self.embargo is None or self.embargo <= now)

    def to_json(self) -> str:
        return json.dumps(
            {
                "i": self.story_id,
                "p": self.partner,
                "u": self.uri,
                "v": self.version,
                "h": self.headline,
                "l": self.language,
                "t": round(self.first, 3),
                "s": self.status,
                "x": self.embargo,
                "w": {term: round(weight, 3) for term, weight in self.terms.items()},
                "e": [[eid, name, round(w, 3)] for eid, (name, w) in self.entities.items()],
                "m": self.sketch_b64,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> IndexEntry:
        data = json.loads(raw)
        return cls(
            story_id=data["i"],
            partner=data["p"],
            uri=data["u"],
            version=data["v"],
            headline=data["h"],
            language=data["l"],
            first=data["t"],
            status=data["s"],
            embargo=data["x"],
            terms=data["w"],
            entities={eid: (name, w) for eid, name, w in data["e"]},
            sketch_b64=data["m"],
        )


def weigh(analysis: Analysis, df: Mapping[str, int], docs: int) -> IndexEntry:
    """Apply the index's document frequencies: top tf-idf terms (unit length) and entity rarity."""
    scored = {
        term: (1.0 + math.log(count)) * idf(df.get(term, 0), docs) for term, count in analysis.counts.items()
    }
    top = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:VECTOR_TERMS]
    norm = math.sqrt(sum(w * w for _, w in top)) or 1.0
    return IndexEntry(
        story_id=analysis.story_id,
        partner=analysis.partner,
        uri=analysis.uri,
        version=analysis.version,
        headline=analysis.headline,
        language=analysis.language,
        first=analysis.first,
        status=analysis.status,
        embargo=analysis.embargo,
        terms={term: w / norm for term, w in top},
        entities={e.id: (e.name, idf(df.get(entity_df_field(e.id), 0), docs)) for e in analysis.entities},
        sketch_b64=minhash.encode(analysis.sketch),
    )
