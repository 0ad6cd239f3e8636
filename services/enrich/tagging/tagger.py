"""The entity tagger: the distinct people, organisations, places and events of each story, linked to the KB.

Detection combines the statistical NER model (English paragraphs only) with exact
matching of the KB's precise aliases (every paragraph, so a French caption still
yields "Nagorny-Karabakh"). Each found name is linked by `linking`, grouped into
one tag per entity, and scored by `relevance`. A batch of stories goes through
one `nlp.pipe` call; the model and KB are built once per process.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from services.enrich.tagging.kb import Kind, KnowledgeBase, KnownEntity
from services.enrich.tagging.linking import (
    LOCATIVE,
    Context,
    best_entry,
    candidates,
    government_of,
    half_of_divided_country,
    town_in_context,
)
from services.enrich.tagging.relevance import Seen, relevance
from services.enrich.tagging.text import Field, Paragraph, base_language, body_text, paragraphs, unwrap
from shared.story import EntityTag, Mention, Story

FoundKind = Literal["person", "organisation", "place", "event", "demonym"]

# spaCy's OntoNotes labels and CoNLL's, onto the four kinds editors tag.
NER_KINDS: dict[str, FoundKind] = {
    "PERSON": "person",
    "PER": "person",
    "ORG": "organisation",
    "GPE": "place",
    "LOC": "place",
    "FAC": "place",
    "EVENT": "event",
    "NORP": "demonym",
    "MISC": "demonym",
}
# Words the model takes for names in wire copy: sentence-initial quantities and
# time zones ("Dozens have been killed", "at 3am ET").
NOT_NAMES = frozenset(
    {"Dozens", "Hundreds", "Thousands", "Millions", "Scores", "Several", "Many", "Officials"}
    | {"ET", "GMT", "UTC", "EST", "EDT", "CET", "BST", "PT"}
)


def _display_name(surface: str) -> str:
    """An unlinked tag's name: its longest spelling, on one line, without the lower-case
    article NER sometimes takes in ("the U.S. Open"); "The Oval" keeps its own."""
    words = surface.split()
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def _event_name(surface: str) -> bool:
    """Whether an event NER found reads like one: a capitalised word besides the article
    and figures ("the 1998" is a date), and not a line of results ("ST LOUIS 9")."""
    words = [w for w in surface.split() if w not in ("the", "The")]
    if not any(w[:1].isupper() and w.isalpha() for w in words):
        return False
    return not (surface.isupper() and any(c.isdigit() for c in surface))


_TOKEN = re.compile(r"\w+(?:[.&\-]\w+)*\.?")
# "MOSCOW, Idaho (Reuters) -", "BRUSSELS 1996-08-22": the place, and what qualifies it.
_DATELINE = re.compile(r"^([A-Z][A-Z.'\- ]{2,}?)(?:,\s*([^(\n]{1,30}?))?\s*(?:\(|[-–—]|\d{4}-\d\d-\d\d)")
_FIELDS: tuple[Field, ...] = ("headline", "description", "body")


@dataclass(frozen=True)
class TextItem:
    """What the tagger reads of a story: plain-text fields and the declared language."""

    id: str
    headline: str = ""
    description: str = ""
    body: str = ""
    language: str | None = "en"
    located: str | None = None

    @classmethod
    def of_story(cls, story: Story) -> TextItem:
        return cls(
            id=story.id,
            headline=story.headline,
            description=story.description,
            body=body_text(story.body_html),
            language=story.language,
            located=story.located,
        )


@dataclass
class Tags:
    people: list[EntityTag] = field(default_factory=list)
    organisations: list[EntityTag] = field(default_factory=list)
    places: list[EntityTag] = field(default_factory=list)
    events: list[EntityTag] = field(default_factory=list)

    def ninjs(self) -> dict[str, Any]:
        """The ninjs 2.x `people`/`organisations`/`places`/`events` arrays, with offsets and provenance."""
        return {
            name: [tag.model_dump(exclude_none=True) for tag in getattr(self, name)]
            for name in ("people", "organisations", "places", "events")
        }


@dataclass
class _Layout:
    """One story as the tagger reads it: its fields joined, furniture blanked, offsets kept."""

    raw_text: str  # the fields as written, joined
    kb_text: str  # every paragraph but furniture, hard wrapping undone: KB matching
    ner_text: str  # English paragraphs only: NER
    starts: list[int]  # combined offset of each paragraph
    paragraphs: list[Paragraph]
    field_base: dict[str, int]
    lede: int  # index of the lede paragraph, -1 if none
    title: int  # index of the first paragraph that is not furniture (a plain-text story's headline)


@dataclass(frozen=True)
class _Found:
    start: int
    end: int
    kind: FoundKind
    source: Literal["ner", "kb"]


_LEGAL_FORMS = {"co", "inc", "corp", "plc", "ltd", "llc", "ag", "sa", "nv", "se", "group", "holdings"}
# Where NER runs two organisations into one span ("Johnson Controls Inc and Lear Corp.").
_COORDINATION = re.compile(r",? and |, ")
# A legal form, then "of" and a place: the company's name ends at the form ("Kia Motor Corp of South Korea").
_LEGAL_FORM_OF = re.compile(r"\b(?:Co|Inc|Corp|Plc|PLC|Ltd|LLC|AG|SA|NV|SE)\.?(?= of [A-Z])")


def run_on_parts(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """An organisation span NER ran on, cut into the names it holds; (start, end) when whole.

    Cut at an unbalanced bracket ("Proleter (Z" → "Proleter"), after a legal form followed by
    "of" ("Daniels Pharmaceuticals Inc of St. Petersburg" → the company), and at a coordination
    ("Banc One and First Chicago") when every part is a capitalised name that ends in a legal
    form or is written on its own elsewhere in the story: "Trade and Industry Ministry" is one
    name, and its parts are never found alone.
    """
    surface = text[start:end]
    if surface.count("(") != surface.count(")"):
        cut = surface.find("(") if "(" in surface else surface.find(")")
        surface = surface[:cut].rstrip()
    legal = _LEGAL_FORM_OF.search(surface)
    if legal:
        surface = surface[: legal.end()]
    if not surface:
        return [(start, end)]
    parts: list[tuple[int, int]] = []
    offset = 0
    for match in [*_COORDINATION.finditer(surface), None]:
        stop = match.start() if match else len(surface)
        parts.append((start + offset, start + stop))
        offset = match.end() if match else offset
    if len(parts) > 1:
        inside = set(range(start, end))

        def standalone(a: int, b: int) -> bool:
            name = text[a:b]
            if not name[:1].isupper():
                return False
            if name.rstrip(".").split()[-1].lower() in _LEGAL_FORMS:
                return True
            found = text.find(name)
            while found != -1:
                if found not in inside:
                    return True
                found = text.find(name, found + 1)
            return False

        if not all(standalone(a, b) for a, b in parts):
            parts = [(start, start + len(surface))]
    return parts


@dataclass(frozen=True)
class _Dateline:
    """Where a story's dateline starts (-1: none), the span of its place name, and that place."""

    start: int = -1
    name: tuple[int, int] | None = None
    place: KnownEntity | None = None


# A found name with the kind, known entity (if any) and provenance it was linked with.
_Linked = tuple[_Found, Kind, KnownEntity | None, str]


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _layout(item: TextItem) -> _Layout:
    language = base_language(item.language)
    pieces: list[str] = []
    originals: list[str] = []  # as written, for the mentions' text
    starts: list[int] = []
    found: list[Paragraph] = []
    field_base: dict[str, int] = {}
    offset = 0
    for name in _FIELDS:
        value: str = getattr(item, name)
        if not value:
            continue
        if pieces:
            pieces.append("\n\n")
            originals.append("\n\n")
            offset += 2
        field_base[name] = offset
        flat = unwrap(value)
        for paragraph in paragraphs(name, flat, language):
            starts.append(offset + paragraph.start)
            found.append(paragraph)
        pieces.append(flat)
        originals.append(value)
        offset += len(value)
    kb_text = "".join(pieces)
    ner_text = kb_text
    for start, paragraph in zip(starts, found, strict=True):
        end = start + len(paragraph.text)
        if paragraph.skip:
            kb_text = _blank(kb_text, start, end)
        if paragraph.skip or paragraph.language != "en":
            ner_text = _blank(ner_text, start, end)
    lede = next(
        (i for i, p in enumerate(found) if p.field != "headline" and not p.skip and not p.title_case), -1
    )
    title = next((i for i, p in enumerate(found) if not p.skip), -1)
    return _Layout("".join(originals), kb_text, ner_text, starts, found, field_base, lede, title)


NER_PIECE_CHARS = 50_000
"""Longest text NER reads at once. spaCy refuses texts over its `max_length` (1,000,000) and
needs about 1 GB per 100,000 characters, so a long body (5 MiB is accepted) goes in pieces."""
NER_MAX_CHARS = 100_000
"""How much of one story NER reads (the pieces starting before it). NER costs seconds per
100,000 characters and the model is shared, so past this a story's names come from the
KB's exact aliases alone: a 1.2 MB transcript is tagged in seconds and delays nobody for minutes."""


def ner_pieces(text: str, size: int = NER_PIECE_CHARS) -> list[tuple[int, str]]:
    """`text` as (offset, piece) of at most `size` characters, cut at a paragraph break
    (else a space) so no name is cut in two; a text that fits is one piece."""
    pieces: list[tuple[int, str]] = []
    start = 0
    while len(text) - start > size:
        cut = text.rfind("\n\n", start + 1, start + size)
        if cut == -1:
            cut = text.rfind(" ", start + 1, start + size)
        if cut == -1:
            cut = start + size
        pieces.append((start, text[start:cut]))
        start = cut
    pieces.append((start, text[start:]))
    return pieces


@dataclass(frozen=True)
class _Entity:
    start_char: int
    end_char: int
    label_: str


@dataclass(frozen=True)
class _PiecedDoc:
    """The entities of a text NER read in pieces, at their offsets in the whole text."""

    ents: list[_Entity]

    @classmethod
    def of(cls, pieces: list[tuple[int, Any]]) -> _PiecedDoc:
        return cls(
            [
                _Entity(offset + ent.start_char, offset + ent.end_char, ent.label_)
                for offset, doc in pieces
                for ent in doc.ents
            ]
        )


class Tagger:
    """Tags batches of stories; `nlp=None` runs on KB matching alone (no model installed)."""

    def __init__(
        self,
        kb: KnowledgeBase,
        nlp: Any | None = None,
        batch_size: int = 64,
        piece_chars: int = NER_PIECE_CHARS,
        ner_chars: int = NER_MAX_CHARS,
    ) -> None:
        self.kb = kb
        self.nlp = nlp
        self.batch_size = batch_size
        self.piece_chars = piece_chars
        self.ner_chars = ner_chars
        # One spaCy pipeline is not safe to run from two threads at once (the worker
        # tags the priority and normal streams' batches off the event loop).
        self._lock = threading.Lock()
        # First word of every precise alias → its longest length in words, so the
        # scan only looks further at words that can start a name.
        self._first: dict[str, int] = {}
        for alias in [*kb.detect, *kb.demonyms]:
            self._index(self._first, alias)
        self._caps_first: dict[str, int] = {}
        for alias in kb.caps_places:
            self._index(self._caps_first, alias)

    @staticmethod
    def _index(table: dict[str, int], alias: str) -> None:
        words = _TOKEN.findall(alias)
        if words:
            table[words[0]] = max(table.get(words[0], 0), len(words))

    def tag_many(self, stories: Sequence[Story]) -> list[Tags]:
        """Tags per story, in order; killed stories get none."""
        live = [story for story in stories if story.pubstatus != "canceled"]
        tagged = iter(self.tag_texts([TextItem.of_story(story) for story in live]))
        return [Tags() if story.pubstatus == "canceled" else next(tagged) for story in stories]

    def tag_texts(self, items: Sequence[TextItem]) -> list[Tags]:
        layouts = [_layout(item) for item in items]
        with self._lock:
            if self.nlp is None:
                docs: list[Any] = [None] * len(items)
            else:
                docs = self._ner(self.nlp, [layout.ner_text for layout in layouts])
        return [self._tag(item, layout, doc) for item, layout, doc in zip(items, layouts, docs, strict=True)]

    def _ner(self, nlp: Any, texts: list[str]) -> list[Any]:
        """One doc per text from one `nlp.pipe` over every piece read; a long text's pieces are joined."""
        split = [
            [
                (offset, piece)
                for offset, piece in ner_pieces(text, self.piece_chars)
                if offset < self.ner_chars
            ]
            for text in texts
        ]
        read = iter(nlp.pipe((piece for pieces in split for _, piece in pieces), batch_size=self.batch_size))
        docs: list[Any] = []
        for pieces in split:
            found = [(offset, next(read)) for offset, _ in pieces]
            docs.append(found[0][1] if len(found) == 1 else _PiecedDoc.of(found))
        return docs

    # Detection

    def _paragraph_at(self, layout: _Layout, offset: int) -> int:
        return max(0, bisect.bisect_right(layout.starts, offset) - 1)

    def _match_kb(self, layout: _Layout) -> list[_Found]:
        """The KB's precise aliases in the text, longest first, left to right."""
        text = layout.kb_text
        tokens = list(_TOKEN.finditer(text))
        found: list[_Found] = []
        # Words the story writes in lower case: in capitals they are not names ("LAST SALE",
        # "RUGBY UNION", "STOCKS GOLD METALS" beside "the sale", "gold").
        ordinary = {t.group() for t in tokens if t.group().islower()}
        i = 0
        while i < len(tokens):
            word = tokens[i].group()
            # ALL-CAPS words are looked up lower-cased: datelines, "GERMANY - Bunds ..." market lines.
            caps = word.isupper() and (len(word) >= 4 or self._caps_paragraph(layout, tokens[i].start()))
            table, lookup = (self._caps_first, self._caps_lookup) if caps else (self._first, self._lookup)
            longest = table.get(word.lower() if caps else word) or table.get(word.rstrip("."), 0)
            step = 1
            for size in range(min(longest, len(tokens) - i), 0, -1):
                start, end = tokens[i].start(), tokens[i + size - 1].end()
                hit = lookup(text[start:end]) or (
                    lookup(text[start : end - 1]) if text[end - 1] == "." else None
                )
                if hit is not None and not (caps and size == 1 and word.lower() in ordinary):
                    kind, length = hit
                    found.append(_Found(start, start + length, kind, "kb"))
                    step = size
                    break
            i += step
        return found

    def _lookup(self, key: str) -> tuple[FoundKind, int] | None:
        entry = self.kb.detect.get(key)
        if entry is not None:
            return entry.kind, len(key)
        if key in self.kb.demonyms:
            return "demonym", len(key)
        return None

    def _caps_lookup(self, key: str) -> tuple[FoundKind, int] | None:
        return ("place", len(key)) if key.lower() in self.kb.caps_places else None

    def _caps_paragraph(self, layout: _Layout, offset: int) -> bool:
        paragraph = layout.paragraphs[self._paragraph_at(layout, offset)]
        letters = [c for c in paragraph.text if c.isalpha()]
        return bool(letters) and sum(c.isupper() for c in letters) >= 0.7 * len(letters)

    def _resolvable(self, surface: str) -> bool:
        return bool(candidates(self.kb, surface, surface.isupper())) or surface in self.kb.demonyms

    def _detect(self, layout: _Layout, doc: Any) -> list[_Found]:
        """NER's names, corrected by the KB's, plus the KB's names NER missed."""
        text = layout.kb_text
        from_kb = self._match_kb(layout)
        kept: list[_Found] = []
        # Names NER saw that are not tags ("U.S. Open", "Fed Cup"): no KB match inside them
        # either, except a demonym ("Christian Armenian").
        blocked: list[tuple[int, int]] = []
        for ent in doc.ents if doc is not None else ():
            kind = NER_KINDS.get(ent.label_)
            span = _Found(ent.start_char, ent.end_char, kind or "demonym", "ner")
            surface = text[span.start : span.end]
            resolvable = kind is not None and self._resolvable(surface)
            if kind is None or (kind == "demonym" and not resolvable):
                blocked.append((span.start, span.end))
                continue
            if surface in NOT_NAMES or (kind == "event" and not resolvable and not _event_name(surface)):
                continue
            if any(
                k.start <= span.start and k.end >= span.end and k.end - k.start > span.end - span.start
                for k in from_kb
            ):
                continue  # the KB knows a longer name here ("OSCE Minsk Group" around "Minsk")
            if not resolvable:
                inner = [k for k in from_kb if k.start >= span.start and k.end <= span.end]
                headline = self._is_headline(layout, self._paragraph_at(layout, span.start))
                guessed = headline and not self._named_elsewhere(layout, surface, span.start)
                # A people's name as the head noun ("Muslim Azeris"), not as a modifier
                # ("Palestinian Authority") or inside a person's name ("Richard Finn").
                heads = [k for k in inner if k.kind == "demonym" and k.end == span.end]
                named_head = kind != "person" and bool(heads)
                # An event the KB knows, qualified by a place or year NER ran into ("the Paris
                # Olympics" read as an organisation): the event is the name.
                named_head = named_head or any(k.kind == "event" and k.end == span.end for k in inner)
                if inner and (guessed or " - " in surface or named_head):
                    # "Putin Tells" in a headline, "GERMANY - Bunds": NER ran past a name the KB knows.
                    kept.extend(inner)
                    continue
                if guessed:
                    continue  # headline capitals make NER see names in ordinary words
            if kind == "organisation":
                kept.extend(_Found(a, b, kind, "ner") for a, b in run_on_parts(text, span.start, span.end))
            else:
                kept.append(span)
        taken = sorted((k.start, k.end) for k in kept)
        for k in from_kb:
            if k.kind != "demonym" and any(s <= k.start and k.end <= e for s, e in blocked):
                continue
            position = bisect.bisect_left(taken, (k.start, k.end))
            overlaps = any(s < k.end and k.start < e for s, e in taken[max(0, position - 1) : position + 1])
            if not overlaps:
                kept.append(k)
                bisect.insort(taken, (k.start, k.end))
        return sorted(kept, key=lambda k: k.start)

    @staticmethod
    def _is_headline(layout: _Layout, index: int) -> bool:
        """The headline field, or a plain-text story's first line when written in headline style."""
        paragraph = layout.paragraphs[index]
        if paragraph.field == "headline":
            return True
        return "headline" not in layout.field_base and index == layout.title and paragraph.title_case

    @staticmethod
    def _named_elsewhere(layout: _Layout, surface: str, start: int) -> bool:
        """Written the same way outside this span."""
        text = layout.kb_text
        # An ALL-CAPS headline word counts when the copy capitalises it too ("BAHIA" →
        # "Bahia"), not when it is an ordinary word there ("REVIEW" → "weekly review").
        needles = {surface, surface.title()} if surface.isupper() else {surface}
        for needle in needles:
            first = text.find(needle)
            if first != -1 and (first != start or text.find(needle, start + 1) != -1):
                return True
        return False

    # Linking and grouping

    def _context(self, layout: _Layout, found: list[_Found], item: TextItem) -> tuple[Context, _Dateline]:
        countries: set[str] = set()
        named: set[str] = set()
        for span in found:
            surface = layout.kb_text[span.start : span.end]
            if span.kind == "demonym":
                demonym = self.kb.demonyms.get(surface)
                if demonym is not None and demonym.country:
                    countries.add(demonym.country)
                continue
            # A name whose every reading lies in one country puts that country in context
            # ("Atlanta" → US, so "Georgia" is then the state).
            pairs = candidates(self.kb, surface, surface.isupper())
            homes = {entry.country for _, entry in pairs}
            if len(homes) == 1 and None not in homes:
                countries |= {country for country in homes if country}
                if any(entry.level in ("country", "region") for _, entry in pairs):
                    named |= {country for country in homes if country}
        dateline: set[str] = set()
        dateline_at = _Dateline()
        within: set[str] = set()  # countries of the dateline's qualifier ("Idaho" → US)
        if item.located:
            place = self._dateline_place(item.located, set())
            if place is not None:
                dateline.add(place.id)
                countries |= {place.country} if place.country else set()
        for start in self._dateline_starts(layout):
            match = _DATELINE.match(layout.kb_text[start : start + 80])
            if not match:
                continue
            qualifier = (match.group(2) or "").strip()
            qualified = {e.country for _, e in candidates(self.kb, qualifier, False) if e.country}
            name = match.group(1).strip()
            place = self._dateline_place(name, qualified)
            # A name the KB does not know is still the dateline's place when its qualifier is
            # one ("TOFTIR, Faroe Islands", "AL-RAM, West Bank").
            if place is None and not qualified:
                continue  # a plain-text story's headline ("CYCLING - …") or byline
            dateline_at, within = _Dateline(start, (start, start + len(name)), place), qualified
            if place is not None:
                dateline.add(place.id)
                countries |= {place.country} if place.country else set()
            break
        return Context(frozenset(countries | within), frozenset(dateline), frozenset(named)), dateline_at

    def _dateline_starts(self, layout: _Layout) -> list[int]:
        """Where a dateline may stand: the body's start, and in plain text (no headline
        field) the two lines after the first, which may be the headline and a byline."""
        body = layout.field_base.get("body")
        if body is None:
            return []
        starts = [body]
        if "headline" not in layout.field_base:
            first = self._paragraph_at(layout, body)
            starts += layout.starts[first + 1 : first + 3]
        return starts

    def _dateline_place(self, name: str, within: set[str]) -> KnownEntity | None:
        """The place a dateline names; a town the KB holds only as a small town counts
        when the qualifier names its country ("LANDGRAAF, Netherlands")."""
        pairs = candidates(self.kb, name, name.isupper())
        places = [entry for _, entry in pairs if entry.kind == "place"]
        if within:
            places = [entry for entry in places if entry.country in within] or places
        if places:
            return max(places, key=lambda e: (e.level == "country", e.population))
        forms = {name, name.title()} if name.isupper() else {name}
        towns = [e for form in forms for e in self.kb.towns.get(form, []) if e.country in within]
        return max(towns, key=lambda entry: entry.population) if towns else None

    def _tag(self, item: TextItem, layout: _Layout, doc: Any) -> Tags:
        text = layout.kb_text
        found = self._detect(layout, doc)
        context, dateline = self._context(layout, found, item)
        dateline_at = dateline.start
        linked: list[_Linked] = []
        for span in found:
            surface = text[span.start : span.end]
            paragraph = layout.paragraphs[self._paragraph_at(layout, span.start)]
            how = "ner" if span.source == "ner" else "kb"
            if paragraph.language != "en":
                how = f"kb-only ({paragraph.language}: no English NER)"
            entry: KnownEntity | None
            if span.kind == "demonym" or (surface in self.kb.demonyms and not self.kb.candidates(surface)):
                # NER sometimes calls a demonym a person ("Azeri Deputy Foreign Minister ...").
                entry = self.kb.demonyms.get(surface)
                if entry is None:
                    pairs = [p for p in candidates(self.kb, surface, False) if p[1].level != "city"]
                    entry = best_entry(pairs, "organisation", context)
                    if entry is None:
                        continue  # an adjective or event name, not an entity editors tag
                else:
                    how = "demonym"
                kind: Kind = entry.kind
            else:
                kind = span.kind
                entry = best_entry(candidates(self.kb, surface, surface.isupper()), kind, context)
                if entry is None and kind == "place" and span.source == "ner":
                    entry = town_in_context(self.kb, surface, context) or half_of_divided_country(
                        self.kb, surface, context
                    )
                if entry is not None:
                    kind = entry.kind
                    if span.source == "ner" and not how.startswith("kb-only"):
                        how = "ner+kb"
                    if entry.level == "city":
                        before = text[max(0, span.start - 30) : span.start].split()
                        in_dateline = dateline_at != -1 and span.start - dateline_at < 40
                        government = government_of(self.kb, entry, before[-1] if before else "", in_dateline)
                        if government is not None:
                            entry, how = government, "capital-as-government"
            if (span.start, span.end) == dateline.name and kind != "place":
                # NER reads a dateline's capitals as a club or a person ("LA CORUNA", "TOFTIR").
                kind, entry, how = "place", dateline.place, f"{how}+dateline"
            linked.append((span, kind, entry, how))
        return self._tags(layout, self._group(text, self._one_sense(layout, linked)))

    def _one_sense(self, layout: _Layout, linked: list[_Linked]) -> list[_Linked]:
        """One name, one kind per story: where NER calls the same words a person in one
        sentence and an organisation or place in another ("Pirelli", "Rotor", a club named
        after its city), every mention takes the kind most of them have, headline mentions
        counting half (capitals there mislead NER); a tie leaves each as it is."""
        text = layout.kb_text
        votes: dict[str, Counter[Kind]] = defaultdict(Counter)
        donors: dict[tuple[str, Kind], tuple[KnownEntity | None, str]] = {}
        for span, kind, entry, how in linked:
            if how == "demonym":
                continue
            surface = text[span.start : span.end]
            headline = self._is_headline(layout, self._paragraph_at(layout, span.start))
            votes[surface][kind] += 1 if headline else 2
            donors.setdefault((surface, kind), (entry, how))
        out: list[_Linked] = []
        for span, kind, entry, how in linked:
            counted = votes.get(text[span.start : span.end])
            if how != "demonym" and counted is not None and len(counted) > 1:
                (first, top), (_, second) = counted.most_common(2)
                if top > second and first != kind:
                    entry, donor_how = donors[(text[span.start : span.end], first)]
                    kind, how = first, f"{donor_how}+one-sense"
            out.append((span, kind, entry, how))
        return out

    @staticmethod
    def _group(text: str, linked: list[_Linked]) -> dict[str, list[_Linked]]:
        """One group per entity. A lone word that ends a longer name in the story is that
        entity, whatever NER called it: "Khalafov" after "Khalaf Khalafov", "Shearer" the
        striker, "Eagles" after "Philadelphia Eagles" (one sense per story). Headline capitals
        count ("SHEARER NAMED AS CAPTAIN"), and a person's surname wins over a place the KB
        has by that name unless it follows a locative word: copy names a person in full, then
        by surname ("Neil Jordan ... Jordan defends his film", "MaliVai Washington ... before
        Washington came back"), while "in Washington" stays the city."""

        def key_of(kind: Kind, entry: KnownEntity | None, surface: str) -> str:
            if entry is not None:
                return entry.id
            words = surface.casefold().replace(".", "").split()
            while kind == "organisation" and len(words) > 1 and words[-1] in _LEGAL_FORMS:
                words.pop()  # "Standard Oil Co" and "Standard Oil" are one company
            return f"{kind}:{' '.join(words)}"

        longer: dict[str, tuple[Kind, str, KnownEntity | None]] = {}
        # People first: a surname that also ends an organisation's name is the person's.
        for wanted in ("person", "organisation"):
            for span, kind, entry, _ in linked:
                name = text[span.start : span.end]
                if kind == wanted and " " in name:
                    longer.setdefault(name.split()[-1], (kind, key_of(kind, entry, name), entry))
        groups: dict[str, list[_Linked]] = defaultdict(list)
        for span, kind, entry, how in linked:
            surface = text[span.start : span.end]
            key = key_of(kind, entry, surface)
            known = None
            if " " not in surface:
                known = longer.get(surface) or (longer.get(surface.title()) if surface.isupper() else None)
            if known is not None and entry is not None:
                before = text[max(0, span.start - 30) : span.start].split()
                surname = known[0] == "person" and entry.kind == "place"
                if not surname or (before and before[-1].lower() in LOCATIVE):
                    known = None
            # NER's person stays a person: only places and organisations are re-read.
            if known is not None and (kind != "person" or known[0] == "person"):
                if entry is not None and entry.kind == "place":
                    how = f"{'ner' if span.source == 'ner' else 'kb'}+surname"  # the KB's place is not it
                kind, key, entry = known
            groups[key].append((span, kind, entry, how))
        return groups

    def _tags(self, layout: _Layout, groups: dict[str, list[_Linked]]) -> Tags:
        tags = Tags()
        length = max(1, len(layout.kb_text))
        for members in groups.values():
            mentions: list[Mention] = []
            seen: list[Seen] = []
            for span, _, _, how in members:
                index = self._paragraph_at(layout, span.start)
                paragraph = layout.paragraphs[index]
                base = layout.field_base[paragraph.field]
                mentions.append(
                    Mention(
                        start=span.start - base,
                        end=span.end - base,
                        field=paragraph.field,
                        text=layout.raw_text[span.start : span.end],
                        provenance=how,
                    )
                )
                headline_like = self._is_headline(layout, index)
                seen.append(
                    Seen(
                        in_headline=headline_like,
                        in_lede=paragraph.field == "description" or index == layout.lede,
                        position=span.start / length,
                        inferred=how == "demonym" or how.startswith("kb-only"),
                    )
                )
            _, kind, entry, _ = members[0]
            surfaces = [m.text for m in mentions]
            score = relevance(seen)
            tag = EntityTag(
                name=entry.name if entry else _display_name(max(surfaces, key=len)),
                # Every linked tag has a URI (related-story links key on it): GeoNames where
                # there is one, else a URN of the stable KB id.
                uri=(entry.uri or f"urn:newsroom:{entry.id}") if entry else None,
                literal=entry.id if entry else None,
                rel="about" if score >= 0.5 else "mentions",
                kind=kind,
                relevance=score,
                mentions=mentions,
                provenance=",".join(sorted({m.provenance for m in mentions})),
            )
            buckets = {"person": tags.people, "organisation": tags.organisations, "place": tags.places}
            buckets.get(kind, tags.events).append(tag)
        for bucket in (tags.people, tags.organisations, tags.places, tags.events):
            bucket.sort(key=lambda t: (-t.relevance, t.mentions[0].start))
        return tags
