"""Entity tagger against plain spaCy sm on CoNLL-2003: quality on the development split and an
untouched one, false tags by kind, place ids and speed.

    .venv/bin/python -m bench tagger
    .venv/bin/python -m bench tagger --model /tmp/ner/fold0 --no-speed   # a --fold model on its fold

Two splits, side by side: eng.testa, where the rules were developed (its errors were
read), and the untouched split, 150 eng.train documents fixed by seed
(`conll.split_untouched`) that the shipped model was neither trained nor stopped on
and whose errors nobody reads: only the counts below are printed for it.

Quality: document-level entity-set precision/recall/F1 (distinct normalised names
per document and type, gold vs predicted) for PER, ORG, LOC and their micro
average, and mention-level exact-span F1. The tagger's demonym mentions
("Azeri" → Azerbaijan) are left out: CoNLL files them as MISC. Speed: words/s
and stories/s of the whole tagger (NER + KB matching + linking + scoring) and of
plain spaCy sm NER over the same documents, best of five alternating runs. The
corpus is read from ../shared (NEWSROOM_SHARED_DATA); absent, the bench says so.

`--model DIR` measures another model in the tagger's place; when it was trained with
`scripts/train_ner.py --fold K/N` (a `held-fold.txt` beside it), the split it left out
replaces the untouched one: copy neither that model nor the rules were made from, whose
false tags may be read (`--list-false` prints them), unlike the untouched split's.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.enrich.tagging.conll import Document, read_documents, split_untouched
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


FALSE_KINDS = ("other type", "partial name", "MISC in gold", "headline only", "KB alias only", "not a name")


def false_tags(documents: Sequence[Document], tags: Sequence[Tags]) -> dict[str, dict[str, int]]:
    """Document-level false tags (predicted name not in gold for its type) by type and kind.

    Kinds, first that applies: the name is gold under another type (a club called by
    its city's name as a place); it overlaps a gold name of its type (partial or run-on
    name); gold calls it MISC; every mention is in the headline line; every mention
    came from a KB alias without NER; else not an entity at all.
    """
    out = {t: dict.fromkeys(FALSE_KINDS, 0) for t in TYPES}
    for document, story in zip(documents, tags, strict=True):
        gold: dict[str, set[str]] = {t: set() for t in (*TYPES, "MISC")}
        for span in document.entities:
            gold[span.label].add(normalise(document.surface(span)))
        headline_end = document.text.find("\n")
        for tag in (*story.people, *story.organisations, *story.places):
            kind = TAG_TYPES[tag.kind]
            mentions = [m for m in tag.mentions if m.provenance != "demonym"]
            names = {normalise(document.text[m.start : m.end]) for m in mentions}
            for name in names - gold[kind]:
                if any(name in gold[t] for t in TYPES if t != kind):
                    why = "other type"
                elif any(name in g or g in name for g in gold[kind]):
                    why = "partial name"
                elif name in gold["MISC"]:
                    why = "MISC in gold"
                elif all(m.start < headline_end for m in mentions):
                    why = "headline only"
                elif all(m.provenance.startswith("kb") for m in mentions):
                    why = "KB alias only"
                else:
                    why = "not a name"
                out[kind][why] += 1
    return out


def print_false_tags(name: str, counts: dict[str, dict[str, int]]) -> None:
    print(
        f"{name:<28} | "
        + " | ".join(f"{t} " + " ".join(f"{counts[t][k]:3d}" for k in FALSE_KINDS) for t in TYPES)
    )


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


def list_false(documents: Sequence[Document], tags: Sequence[Tags]) -> None:
    """Each false tag once per document, with its provenances and first context, for reading a fold."""
    for number, (document, story) in enumerate(zip(documents, tags, strict=True)):
        gold: dict[str, set[str]] = {t: set() for t in (*TYPES, "MISC")}
        for span in document.entities:
            gold[span.label].add(normalise(document.surface(span)))
        for tag in (*story.people, *story.organisations, *story.places):
            kind = TAG_TYPES[tag.kind]
            mentions = [m for m in tag.mentions if m.provenance != "demonym"]
            for name in sorted({normalise(document.text[m.start : m.end]) for m in mentions} - gold[kind]):
                first = next(m for m in mentions if normalise(document.text[m.start : m.end]) == name)
                how = sorted({m.provenance for m in mentions})
                other = [t for t in (*TYPES, "MISC") if name in gold[t]]
                around = document.text[max(0, first.start - 40) : first.end + 30].replace("\n", " / ")
                print(f"FALSE {number:3d} {kind} {name!r} {','.join(how)} gold={other} | {around}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.tagger", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a model directory to measure in the shipped model's place")
    parser.add_argument("--no-speed", action="store_true", help="quality only")
    parser.add_argument("--list-false", action="store_true", help="print each false tag (fold only)")
    args = parser.parse_args()
    testa = SHARED_DATA / "conll2003" / "eng.testa"
    train = SHARED_DATA / "conll2003" / "eng.train"
    if not testa.exists() or not train.exists():
        print(f"skipped: {testa} or {train} is absent (set NEWSROOM_SHARED_DATA to the shared data folder)")
        return
    rest, untouched = split_untouched(read_documents(train))
    splits = {"eng.testa (dev)": read_documents(testa), "untouched": untouched}
    held_fold = Path(args.model or "", "held-fold.txt")
    if args.model and held_fold.exists():
        del splits["untouched"]
        splits["held fold"] = [rest[int(i)] for i in held_fold.read_text().split()]
    kb = open_kb()
    sm = load_nlp(STOCK_MODEL)
    shipped = args.model or resolve_model(STOCK_MODEL)
    tagger_sm = Tagger(kb, sm)
    fine_tuned = load_nlp(shipped)
    tagger = Tagger(kb, fine_tuned)
    print(f"tagger model: {shipped}")
    falses = {}
    for split, documents in splits.items():
        texts = [d.text for d in documents]
        items = [TextItem(id=str(i), body=d.text) for i, d in enumerate(documents)]
        words = sum(len(t.split()) for t in texts)
        print(f"\n{split}: {len(documents)} documents, {words} words")
        print("document-level entity sets: P R F1 per type; last column mention-level exact-span F1")
        header = " | ".join(f"{t:^17}" for t in (*TYPES, "micro"))
        print(f"{'system':<28} | {header} | mention")
        print_quality("spaCy sm (plain NER)", score(documents, sm_mentions(sm.pipe(texts))))
        print_quality("tagger: sm NER + KB", score(documents, tag_mentions(tagger_sm.tag_texts(items))))
        print_quality("fine-tuned NER alone", score(documents, sm_mentions(fine_tuned.pipe(texts))))
        tagged = tagger.tag_texts(items)
        print_quality("tagger: fine-tuned NER + KB", score(documents, tag_mentions(tagged)))
        falses[split] = false_tags(documents, tagged)
        if args.list_false and split == "held fold":
            list_false(documents, tagged)
        standard, with_id, places = place_id_share(tagged)
        total = max(1, places)
        print(f"place tags with a GeoNames or ISO id: {standard}/{places} = {100 * standard / total:.1f} %")
        print(
            f"place tags with any id (incl. kb:place/…): {with_id}/{places} = {100 * with_id / total:.1f} %"
        )
        events = [tag for story in tagged for tag in story.events]
        linked = sum(tag.literal is not None for tag in events)
        print(f"event tags (CoNLL does not score them): {len(events)}, {linked} with a KB id")

    print("\nfalse tags of the tagger (fine-tuned NER + KB), document level, by kind:")
    print(f"{'':<28} | " + "; ".join(f"{i + 1} {k}" for i, k in enumerate(FALSE_KINDS)))
    for split, counts in falses.items():
        print_false_tags(split, counts)
    if args.no_speed:
        return

    documents = splits["eng.testa (dev)"]
    texts = [d.text for d in documents]
    items = [TextItem(id=str(i), body=d.text) for i, d in enumerate(documents)]
    words = sum(len(t.split()) for t in texts)
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
