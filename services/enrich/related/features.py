"""What the index keeps about a story, and how it is computed (pure).

An `IndexEntry` is the compact representation that scoring needs: identity,
language, first-publication time, status, embargo, the entity ids, the story's
term counts over its whole copy (up to VECTOR_TERMS terms, the rarest first),
and the MinHash sketch. It is stored as one small JSON value, so memory per
story is bounded by the caps below whatever the story's length.

The entry keeps *counts*, not weights: rarity (`Rarity`) is applied when two
stories are compared, with the index's document frequencies at that moment.
Weights frozen at index time were wrong for every story indexed while the index
was young (with ten stories every term looks rare), and two entries weighed at
different times were not on one scale.
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

# Terms kept per story for lexical similarity: enough to cover the whole copy of a
# wire story (Reuters-21578's median story has 40 distinct terms, its 90th percentile
# 108, 4 % more than 160); only the longest features lose their commonest words.
VECTOR_TERMS = 160
# Of those, the ones that make a story findable (postings per story). They are chosen by
# the rarity of the day it was indexed, which in a young index is little more than how
# often the story repeats a word: with 16, the candidates missed 2.4 % of plain TF-IDF's
# event mates on the dev half of the reports set (bench/related.py), with 32 0.1 %.
POSTED_TERMS = 32
MAX_ENTITIES = 16  # entity ids kept (and posted) per story
UNKNOWN_LANGUAGE = "und"
DOCS_FIELD = "#docs"  # the document count beside the term frequencies
# An entry's stored norms were computed with the frequencies of the index it was weighed
# in; they stand while the index has at most grown by this factor since (idf moves by
# at most log(2) then). Older norms are recomputed from the frequencies of the moment.
NORM_FRESH_GROWTH = 2


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


def term_weight(count: int) -> float:
    """Sublinear term frequency: the tenth mention of a word says less than the second."""
    return 1.0 + math.log(count) if count > 0 else 0.0


@dataclass(frozen=True)
class Rarity:
    """The index's document frequencies at one moment, and the weights they give."""

    df: Mapping[str, int]
    docs: int

    def idf(self, field: str) -> float:
        return idf(self.df.get(field, 0), self.docs)

    def weights(self, counts: Mapping[str, int]) -> dict[str, float]:
        """tf-idf of the given counts (not normalised): term_weight × idf, written out in
        one expression because it runs for every term of every candidate (a unit test
        holds it to the two functions)."""
        df, above, log = self.df, self.docs + 1, math.log
        return {
            term: (1.0 + log(count) if count > 0 else 0.0) * (log(above / (df.get(term, 0) + 1)) + 1.0)
            for term, count in counts.items()
        }

    def vector(self, counts: Mapping[str, int]) -> dict[str, float]:
        """tf-idf over the given counts, unit length."""
        vec = self.weights(counts)
        norm = length_of(vec.values()) or 1.0
        return {term: w / norm for term, w in vec.items()}

    def entity_weights(self, entity_ids: Iterable[str]) -> dict[str, float]:
        """Rarity of each entity id: a story's country says little, its town says a lot."""
        return {e: self.idf(entity_df_field(e)) for e in entity_ids}

    def fresh(self, entry: IndexEntry) -> bool:
        """Whether the entry's stored norms still hold in the index of this moment."""
        return entry.weighed_docs > 0 and self.docs <= NORM_FRESH_GROWTH * entry.weighed_docs


def length_of(weights: Iterable[float]) -> float:
    return math.sqrt(sum(w * w for w in weights))


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
    terms: dict[str, int]  # term -> count in the copy, rarest first (at index time)
    entities: dict[str, str]  # id -> name, most relevant first
    sketch_b64: str
    weighed_docs: int = 0  # stories in the index when it was weighed (0: norms unknown)
    term_norm: float = 0.0  # length of its tf-idf vector then
    entity_norm: float = 0.0  # length of its entity weights then

    @cached_property
    def sketch(self) -> minhash.Sketch:
        # Decoded only for the few candidates compared as possible duplicates.
        return minhash.decode(self.sketch_b64)

    def df_fields(self) -> list[str]:
        """The document-frequency fields that weigh this entry: its terms and its entities."""
        return [*self.terms, *(entity_df_field(e) for e in self.entities)]

    def word_terms(self, weights: Mapping[str, float] | None = None) -> list[str]:
        """The terms that are words, strongest first (by `weights`, the entry's tf-idf of the
        moment, else as stored): figures score but never find a story (a posting per distinct
        figure would be a key per number ever printed)."""
        words = [t for t in self.terms if not t.startswith(text.NUMBER_PREFIX)]
        if weights is None:
            return words
        return sorted(words, key=lambda t: (-weights[t], t))

    def posted_terms(self) -> list[str]:
        return self.word_terms()[:POSTED_TERMS]

    def usable_at(self, now: float) -> bool:
        return self.status == "usable" and (self.embargo is None or self.embargo <= now)

    def to_json(self) -> str:
        return json.dumps(
            {
                # First: candidates.lua reads it with a pattern scan for every candidate, which
                # stops at the first match; at the end of a ~3 KB entry that scan cost Redis
                # ~0.9 ms per lookup of 64 candidates, at the start 0.01 ms.
                "d": self.weighed_docs,
                "i": self.story_id,
                "p": self.partner,
                "u": self.uri,
                "v": self.version,
                "h": self.headline,
                "l": self.language,
                "t": round(self.first, 3),
                "s": self.status,
                "x": self.embargo,
                "w": self.terms,
                "e": [[eid, name] for eid, name in self.entities.items()],
                "m": self.sketch_b64,
                "z": round(self.term_norm, 4),
                "y": round(self.entity_norm, 4),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> IndexEntry:
        data = json.loads(raw)
        terms = data["w"]
        if "d" not in data:  # written before counts were kept: weights below 1, a count of 1 each
            terms = {term: max(1, round(count)) for term, count in terms.items()}
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
            terms=terms,
            entities={item[0]: item[1] for item in data["e"]},
            sketch_b64=data["m"],
            weighed_docs=data.get("d", 0),
            term_norm=data.get("z", 0.0),
            entity_norm=data.get("y", 0.0),
        )


def weigh(analysis: Analysis, df: Mapping[str, int], docs: int) -> IndexEntry:
    """The entry: the story's VECTOR_TERMS strongest terms by tf-idf now (with their counts)."""
    rarity = Rarity(df, docs)
    scored = rarity.weights(analysis.counts)
    top = sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:VECTOR_TERMS]
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
        terms={term: analysis.counts[term] for term, _ in top},
        entities={e.id: e.name for e in analysis.entities},
        sketch_b64=minhash.encode(analysis.sketch),
        weighed_docs=docs,
        term_norm=length_of(w for _, w in top),
        entity_norm=length_of(rarity.entity_weights(e.id for e in analysis.entities).values()),
    )
