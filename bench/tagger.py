"""Entity tagger against plain spaCy sm on CoNLL-2003 eng.testa: quality, place ids and speed.

    .venv/bin/python -m bench tagger

Quality: document-level entity-set precision/recall/F1 (distinct normalised names
per document and type, gold vs predicted) for PER, ORG, LOC and their micro
average, and mention-level exact-span F1. The tagger's demonym mentions
("Azeri" → Azerbaijan) are left out: CoNLL files them as MISC. Speed: words/s
and stories/s of the whole tagger (NER + KB matching + linking + scoring) and of
plain spaCy sm NER over the same documents, best of five alternating runs. The
corpus is read from ../shared (NEWSROOM_SHARED_DATA); absent, the bench says so.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.enrich.tagging.conll import Document, read_documents
from services.enrich.tagging.kbfile import open_kb
from services.enrich.tagging.model import STOCK_MODEL, load_nlp, resolve_model
from services.enrich.tagging.tagger import Tagger, Tags, TextItem

SHARED_DATA = Path(
    os.environ.get("NEWSROOM_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
TYPES = ("PER", "ORG", "LOC")
SM_TYPES = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC"}
TAG_TYPES = {"person": "PER", "organisation": "ORG", "place": "LOC"}

Mention = tuple[int, int, str]  # start, end, type


def normalise(name: str) -> str:
    words = name.casefold().split()
    if words[:1] == ["the"]:
        words = words[1:]
    return " ".join(words)


@dataclass
class Counts:
    hits: int = 0
    predicted: int = 0
    gold: int = 0

    def add(self, gold: set[Any], predicted: set[Any]) -> None:
        self.hits += len(gold & predicted)
        self.gold += len(gold)
        self.predicted += len(predicted)

    def prf(self) -> tuple[float, float, float]:
        p = self.hits / self.predicted if self.predicted else 0.0
        r = self.hits / self.gold if self.gold else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


@dataclass
class Scores:
    document: dict[str, Counts] = field(default_factory=lambda: {t: Counts() for t in (*TYPES, "micro")})
    mention: Counts = field(default_factory=Counts)


def score(documents: Sequence[Document], predicted: Sequence[list[Mention]]) -> Scores:
    scores = Scores()
    for document, mentions in zip(documents, predicted, strict=True):
        gold = [(s.start, s.end, s.label) for s in document.entities if s.label in TYPES]
        scores.mention.add(set(gold), set(mentions))
        for kind in TYPES:
            gold_names = {normalise(document.text[s:e]) for s, e, t in gold if t == kind}
            found_names = {normalise(document.text[s:e]) for s, e, t in mentions if t == kind}
            scores.document[kind].add(gold_names, found_names)
            scores.document["micro"].add({(kind, n) for n in gold_names}, {(kind, n) for n in found_names})
    return scores


def sm_mentions(docs: Iterable[Any]) -> list[list[Mention]]:
    return [
        [(e.start_char, e.end_char, SM_TYPES[e.label_]) for e in doc.ents if e.label_ in SM_TYPES]
        for doc in docs
    ]


def tag_mentions(tags: Sequence[Tags]) -> list[list[Mention]]:
    out = []
    for story in tags:
        found = []
        for tag in (*story.people, *story.organisations, *story.places):
            for m in tag.mentions:
                if m.provenance != "demonym":
                    found.append((m.start, m.end, TAG_TYPES[tag.kind]))
        out.append(found)
    return out


def place_id_share(tags: Sequence[Tags]) -> tuple[int, int, int]:
    """Place tags with a GeoNames or ISO id, with any id (curated kb:place/… too), and all."""
    places = [tag for story in tags for tag in story.places]
    standard = sum((tag.literal or "").startswith(("geonames:", "iso3166")) for tag in places)
    return standard, sum(tag.literal is not None for tag in places), len(places)


def best_times(runs: Sequence[Callable[[], object]], repeats: int = 5) -> list[float]:
    """Fastest wall time of each run; runs alternate so a busy machine slows them alike."""
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for index, run in enumerate(runs):
            started = time.perf_counter()
            run()
            best[index] = min(best[index], time.perf_counter() - started)
    return best


def print_quality(name: str, scores: Scores) -> None:
    cells = []
    for kind in (*TYPES, "micro"):
        p, r, f = scores.document[kind].prf()
        cells.append(f"{100 * p:5.1f} {100 * r:5.1f} {100 * f:5.1f}")
    mention_f1 = 100 * scores.mention.prf()[2]
    print(f"{name:<28} | {' | '.join(cells)} | {mention_f1:5.1f}")


def main() -> None:
    testa = SHARED_DATA / "conll2003" / "eng.testa"
    if not testa.exists():
        print(f"skipped: {testa} is absent (set NEWSROOM_SHARED_DATA to the shared data folder)")
        return
    documents = read_documents(testa)
    texts = [d.text for d in documents]
    items = [TextItem(id=str(i), body=d.text) for i, d in enumerate(documents)]
    words = sum(len(t.split()) for t in texts)
    kb = open_kb()
    sm = load_nlp(STOCK_MODEL)
    shipped = resolve_model(STOCK_MODEL)
    tagger_sm = Tagger(kb, sm)
    fine_tuned = load_nlp(shipped)
    tagger = Tagger(kb, fine_tuned)

    print(f"CoNLL-2003 eng.testa: {len(documents)} documents, {words} words; tagger model: {shipped}")
    print("document-level entity sets: P R F1 per type; last column mention-level exact-span F1")
    header = " | ".join(f"{t:^17}" for t in (*TYPES, "micro"))
    print(f"{'system':<28} | {header} | mention")
    print_quality("spaCy sm (plain NER)", score(documents, sm_mentions(sm.pipe(texts))))
    tagged_sm = tagger_sm.tag_texts(items)
    print_quality("tagger: sm NER + KB", score(documents, tag_mentions(tagged_sm)))
    print_quality("fine-tuned NER alone", score(documents, sm_mentions(fine_tuned.pipe(texts))))
    tagged = tagger.tag_texts(items)
    print_quality("tagger: fine-tuned NER + KB", score(documents, tag_mentions(tagged)))

    standard, with_id, places = place_id_share(tagged)
    total = max(1, places)
    print(f"\nplace tags with a GeoNames or ISO id: {standard}/{places} = {100 * standard / total:.1f} %")
    print(f"place tags with any id (incl. kb:place/…): {with_id}/{places} = {100 * with_id / total:.1f} %")
    for name, run in (("sm NER + KB", tagged_sm), ("fine-tuned NER + KB", tagged)):
        events = [tag for story in run for tag in story.events]
        linked = sum(tag.literal is not None for tag in events)
        print(f"event tags, {name} (CoNLL does not score them): {len(events)}, {linked} with a KB id")

    # The same nlp.pipe batch size for both: spaCy pads each batch to its longest document,
    # so the batch size alone moves throughput by a quarter on these documents.
    plain, whole = best_times(
        [lambda: list(sm.pipe(texts, batch_size=tagger.batch_size)), lambda: tagger.tag_texts(items)]
    )
    print(f"\nspeed (best of 5 alternating runs, whole eng.testa, one process, batch {tagger.batch_size})")
    print(f"{'system':<28} | {'words/s':>9} | {'stories/s':>9}")
    print(f"{'spaCy sm NER only':<28} | {words / plain:9.0f} | {len(items) / plain:9.1f}")
    print(f"{'tagger (NER+KB+link+score)':<28} | {words / whole:9.0f} | {len(items) / whole:9.1f}")
    print(f"tagger / plain spaCy throughput: {plain / whole:.2f}x (target >= 0.75x)")


if __name__ == "__main__":
    main()
