"""Pure parts of related links: words, MinHash sketches, index entries, scoring, ranking and publishing."""

from __future__ import annotations

import random
import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from services.enrich.related import minhash, text
from services.enrich.related.features import (
    MAX_ENTITIES,
    VECTOR_TERMS,
    Analysis,
    IndexEntry,
    Rarity,
    analyse,
    entities_from_tags,
    idf,
    term_weight,
    weigh,
)
from services.enrich.related.scoring import (
    Policy,
    Scored,
    Weighed,
    entity_overlap,
    explain,
    is_duplicate,
    publish,
    rank,
    score,
    split_duplicates,
    to_duplicate,
    to_link,
)
from shared.story import EntityTag, Story

DAY = 86400.0
T0 = datetime(2016, 4, 5, 12, 0, tzinfo=UTC).timestamp()


# --- text -------------------------------------------------------------------------------------


def test_plain_text_drops_markup_and_unescapes() -> None:
    s = Story(partner="p", uri="u", headline="Head", description="Stand", body_html="<p>A &amp; B</p>")
    assert text.plain_text(s).split() == ["Head", "Stand", "A", "&", "B"]


def test_words_fold_case_and_possessives() -> None:
    assert text.words("Azerbaijan's army, AZERBAIJAN’s army") == ["azerbaijan", "army", "azerbaijan", "army"]


@pytest.mark.parametrize(
    ("word", "term"),
    [
        ("ceasefires", "ceasefire"),
        ("countries", "country"),
        ("talks", "talk"),
        ("press", "press"),
        ("bus", "bus"),
    ],
)
def test_light_plural_fold(word: str, term: str) -> None:
    assert text.normalise_term(word) == term


def test_terms_skip_stop_words_and_numbers() -> None:
    assert text.terms(["the", "army", "said", "2016", "3rd", "x", "shelling"]) == ["army", "shelling"]


def test_figures_are_number_terms() -> None:
    assert text.numbers("16 of its 4,790,000 units, 3.5 pct, 5 men, in 1994.") == [
        "#16",
        "#4790000",
        "#3.5",
        "#1994",
    ]
    counts = text.term_counts(Story(partner="p", uri="u", headline="Truce", body_html="<p>46 killed</p>"))
    assert counts["#46"] == 1


def test_headline_terms_weigh_more() -> None:
    counts = text.term_counts(
        Story(partner="p", uri="u", headline="Ceasefire", body_html="<p>ceasefire army</p>")
    )
    assert counts["ceasefire"] == 1 + text.HEADLINE_WEIGHT
    assert counts["army"] == 1


def test_shingles() -> None:
    assert text.shingles(["a", "b", "c", "d", "e"], size=4) == {"a b c d", "b c d e"}
    assert text.shingles(["a", "b"], size=4) == {"a b"}
    assert text.shingles([], size=4) == set()


# --- minhash ----------------------------------------------------------------------------------


def shingle_set(n: int, seed: int) -> set[str]:
    rng = random.Random(seed)
    return {f"s{rng.getrandbits(40)}" for _ in range(n)}


@pytest.mark.parametrize("overlap", [0.0, 0.5, 0.8, 0.95, 1.0])
def test_sketch_estimates_jaccard(overlap: float) -> None:
    common = shingle_set(int(400 * overlap), 1)
    a = common | shingle_set(400 - len(common), 2)
    b = common | shingle_set(400 - len(common), 3)
    true = len(a & b) / len(a | b)
    estimate = minhash.jaccard(minhash.sketch(a), minhash.sketch(b))
    assert estimate == pytest.approx(true, abs=0.12)  # about 2 standard errors at k=64


def test_sketch_is_stable_and_round_trips() -> None:
    sk = minhash.sketch({"a b c d", "b c d e"})
    assert sk == minhash.sketch({"b c d e", "a b c d"})
    assert minhash.decode(minhash.encode(sk)) == sk
    big = minhash.sketch(shingle_set(500, 4))
    assert len(big) == minhash.SKETCH_SIZE
    assert len(minhash.encode(big)) <= 344


def test_jaccard_of_empty_sketches_is_zero() -> None:
    assert minhash.jaccard((), minhash.sketch({"x"})) == 0.0


# --- features ---------------------------------------------------------------------------------


def tag(name: str, uri: str | None, relevance: float = 0.5, kind: str = "place") -> EntityTag:
    return EntityTag.model_validate({"name": name, "uri": uri, "kind": kind, "relevance": relevance})


def test_entities_use_uris_when_present_else_kind_and_name() -> None:
    entities = entities_from_tags(
        [tag("Armenia", "wd:Q399", 0.4), tag("Nagorno  Karabakh", None, 0.9), tag("Armenia", "wd:Q399", 0.2)]
    )
    assert [(e.id, e.name) for e in entities] == [
        ("place:nagorno karabakh", "Nagorno  Karabakh"),
        ("wd:Q399", "Armenia"),
    ]
    many = entities_from_tags([tag(f"P{i}", f"u{i}", i / 100) for i in range(40)])
    assert len(many) == MAX_ENTITIES
    assert many[0].id == "u39"  # the most relevant are kept


def analysis(story_id: str, counts: dict[str, int], *, first: float = T0, **fields: object) -> Analysis:
    base: dict[str, object] = {
        "story_id": story_id,
        "partner": story_id.split("-")[0],
        "uri": f"urn:{story_id}",
        "version": 1,
        "headline": story_id,
        "language": "en",
        "first": first,
        "status": "usable",
        "embargo": None,
        "counts": Counter(counts),
        "entities": [],
        "sketch": minhash.sketch(set(counts)),
    }
    base.update(fields)
    return Analysis(**base)  # type: ignore[arg-type]


def test_weigh_keeps_the_counts_of_the_rarest_terms() -> None:
    counts = {f"t{i}": 1 for i in range(VECTOR_TERMS + 10)} | {"rare": 2, "common": 1}
    entry = weigh(analysis("a-1", counts), {"common": 99, "t0": 50}, 100)
    assert len(entry.terms) == VECTOR_TERMS
    assert next(iter(entry.terms)) == "rare"  # rarest (and most frequent) first
    assert entry.terms["rare"] == 2  # counts, not weights: rarity is applied when compared
    assert "common" not in entry.terms


def test_rarity_weights_are_term_weight_times_idf() -> None:
    rarity = Rarity({"karabakh": 3, "government": 900}, 1000)
    counts = {"karabakh": 4, "government": 1, "unseen": 2}
    assert rarity.weights(counts) == pytest.approx(
        {t: term_weight(c) * idf(rarity.df.get(t, 0), rarity.docs) for t, c in counts.items()}
    )


def test_rarity_weighs_with_the_frequencies_of_the_moment() -> None:
    counts = {"karabakh": 2, "government": 2}
    young = Rarity({"karabakh": 1, "government": 1}, 2).vector(counts)
    grown = Rarity({"karabakh": 3, "government": 900}, 1000).vector(counts)
    assert young["karabakh"] == pytest.approx(young["government"])
    assert grown["karabakh"] > 2 * grown["government"]
    assert sum(w * w for w in grown.values()) == pytest.approx(1.0)


def test_entry_round_trips_through_json() -> None:
    a = analysis(
        "a-1", {"ceasefire": 3, "karabakh": 2}, entities=entities_from_tags([tag("Armenia", "wd:Q399")])
    )
    entry = weigh(a, {}, 0)
    back = IndexEntry.from_json(entry.to_json().encode())
    assert back.story_id == entry.story_id
    assert list(back.entities) == ["wd:Q399"]
    assert back.entities["wd:Q399"] == "Armenia"
    assert back.terms == entry.terms == {"ceasefire": 3, "karabakh": 2}
    assert back.sketch == entry.sketch


def test_weighed_docs_lead_the_stored_entry_where_the_candidates_script_scans_for_them() -> None:
    # candidates.lua takes the first '"d":<digits>' of each candidate's JSON: it must be
    # the weighed-docs field, and found at once, whatever the terms and headline hold.
    a = analysis("a-1", {"d": 7, "karabakh": 2})
    raw = weigh(a, {"karabakh": 3}, 41).to_json()
    assert raw.startswith('{"d":41,')
    first = re.search(r'"d":(\d+)', raw)
    assert first is not None
    assert first.group(1) == "41"


def test_entry_written_before_counts_were_kept_still_reads() -> None:
    old = (
        '{"i":"a-1","p":"a","u":"u","v":1,"h":"H","l":"en","t":1.0,"s":"usable","x":null,'
        '"w":{"karabakh":0.71,"#1994":0.2},"e":[["wd:Q399","Armenia",2.3]],"m":""}'
    )
    entry = IndexEntry.from_json(old)
    assert entry.terms == {"karabakh": 1, "#1994": 1}
    assert entry.entities == {"wd:Q399": "Armenia"}


def test_analyse_uses_first_publication_language_and_status() -> None:
    when = datetime(2016, 4, 2, tzinfo=UTC)
    s = Story(
        partner="p", uri="u", firstcreated=when, language="en-GB", pubstatus="withheld", headline="Ceasefire"
    )
    a = analyse(s, [], received_at=datetime(2016, 4, 5, tzinfo=UTC))
    assert a.first == when.timestamp()
    assert a.language == "en"
    assert a.status == "withheld"
    undated = analyse(Story(partner="p", uri="v"), [], received_at=when)
    assert undated.first == when.timestamp()
    assert undated.language == "und"


def test_usable_at_respects_status_and_embargo() -> None:
    entry = weigh(analysis("a-1", {"x": 1}, embargo=T0 + 60), {}, 0)
    assert not entry.usable_at(T0)
    assert entry.usable_at(T0 + 60)
    assert not weigh(analysis("a-2", {"x": 1}, status="withheld"), {}, 0).usable_at(T0)


# --- scoring ----------------------------------------------------------------------------------


def entry_of(
    story_id: str,
    counts: dict[str, int],
    *,
    days: float = 0.0,
    entities: tuple[str, ...] = (),
    df: dict[str, int] | None = None,
    headline: str | None = None,
) -> IndexEntry:
    tags = [tag(e.title(), f"wd:{e}") for e in entities]
    found = analysis(
        story_id,
        counts,
        first=T0 - days * DAY,
        entities=entities_from_tags(tags),
        headline=headline or story_id,
    )
    return weigh(found, df or {}, 100 if df else 0)


FLAT = Rarity({}, 0)


def score_of(query: IndexEntry, other: IndexEntry, rarity: Rarity = FLAT) -> Scored:
    q = Weighed.query(query, rarity)
    return score(q, Weighed.candidate(other, q, rarity))


FIGHTING = {"ceasefire": 3, "karabakh": 3, "azerbaijan": 2, "armenia": 2, "fighting": 1}
QUERY = entry_of("a-q", FIGHTING, headline="Ceasefire in Karabakh")


def test_lexical_similarity_drives_the_score() -> None:
    close = score_of(QUERY, entry_of("b-1", {"karabakh": 2, "azerbaijan": 2, "fighting": 2}, days=1))
    far = score_of(QUERY, entry_of("b-2", {"stocks": 2, "oil": 2}, days=1))
    assert close.score > 0.3
    assert far.score == 0.0


def test_shared_entities_rank_higher_but_never_create_a_link() -> None:
    words = {"karabakh": 2, "shelling": 2, "village": 2}
    plain = score_of(QUERY, entry_of("b-1", words, days=1))
    q = entry_of("a-q", {"ceasefire": 3, "karabakh": 3}, entities=("Q399", "Q227"))
    boosted = score_of(q, entry_of("b-1", words, days=1, entities=("Q399", "Q227")))
    half = score_of(q, entry_of("b-1", words, days=1, entities=("Q399", "Q1")))
    disjoint = score_of(q, entry_of("b-1", words, days=1, entities=("Q1", "Q2")))
    assert boosted.score > half.score > disjoint.score
    # sharing every entity leaves the lexical score as it is: one scale with and without tags
    assert boosted.score == pytest.approx(score_of(q, entry_of("b-1", words, days=1)).score)
    assert sorted(boosted.shared) == ["Q227", "Q399"]
    only_entities = score_of(q, entry_of("b-3", {"stocks": 1}, entities=("Q399", "Q227")))
    assert only_entities.score == 0.0
    assert plain.entity is None  # no tags on either side: the scorer runs without a tagger


def test_rare_shared_entities_count_more() -> None:
    rarity = Rarity({"e:wd:usa": 90, "e:wd:karabakh": 1}, 100)
    q = Weighed.query(entry_of("a-q", {"x": 1}, entities=("karabakh", "usa")), rarity)
    rare, _ = entity_overlap(
        q, Weighed.candidate(entry_of("b-1", {"x": 1}, entities=("karabakh",)), q, rarity)
    )
    common, _ = entity_overlap(q, Weighed.candidate(entry_of("b-2", {"x": 1}, entities=("usa",)), q, rarity))
    assert rare is not None
    assert common is not None
    assert rare > 2 * common


def test_time_prior_prefers_the_nearer_of_two_equal_stories() -> None:
    words = {"karabakh": 2, "azerbaijan": 2}
    assert (
        score_of(QUERY, entry_of("b-1", words, days=1)).score
        > score_of(QUERY, entry_of("b-2", words, days=20)).score
    )


def test_dates_never_push_a_much_closer_story_below_a_weaker_one() -> None:
    # Shuffled arrival, reports dated days apart: time settles close calls only (scoring's docstring).
    close = score_of(QUERY, entry_of("b-1", {"karabakh": 2, "azerbaijan": 2, "ceasefire": 1}, days=365))
    weaker = score_of(QUERY, entry_of("b-2", {"karabakh": 2, "azerbaijan": 2, "shelling": 1}, days=0))
    assert close.lexical > 1.25 * weaker.lexical
    assert close.score > weaker.score


def test_duplicates_are_split_off_and_self_is_skipped() -> None:
    same = entry_of("c-1", FIGHTING, headline="Karabakh ceasefire declared")
    other = entry_of("b-1", {"karabakh": 2, "azerbaijan": 2, "shelling": 2})
    related, duplicates = split_duplicates(QUERY, [QUERY, same, other], FLAT)
    assert [d.entry.story_id for d in duplicates] == ["c-1"]
    assert [r.entry.story_id for r in related] == ["b-1"]
    dup = to_duplicate(duplicates[0])
    assert dup.score == 1.0
    assert "same story" in dup.reason


def test_short_boilerplate_of_another_company_is_not_a_duplicate() -> None:
    boilerplate = {"qtly": 1, "div": 1, "cts": 2, "prior": 1, "pay": 1, "record": 1}
    quaker = entry_of("a-1", boilerplate, headline="Quaker Oats Co regular dividend")
    unibancorp = entry_of("b-1", boilerplate, headline="Unibancorp Inc regular dividend set")
    resent = entry_of("a-2", boilerplate, headline="Quaker Oats Co sets regular dividend")
    assert not is_duplicate(quaker, unibancorp, 1.0)
    assert is_duplicate(quaker, resent, 1.0)


def scored(story_id: str, value: float, counts: dict[str, int], headline: str | None = None) -> Scored:
    entry = entry_of(story_id, counts, headline=headline)
    return Scored(entry=entry, score=value, lexical=value, entity=None)


def test_ranking_is_relevance_order_above_the_floor() -> None:
    thread = {"karabakh": 3, "shelling": 3}
    pool = [
        scored("b-3", 0.8, {"karabakh": 1, "minsk": 3, "talks": 3}),
        scored("b-1", 0.9, thread),
        scored("b-2", 0.89, thread | {"village": 1}),
        scored("b-4", 0.01, {"karabakh": 1}),
    ]
    # no diversification: b-2 resembles b-1 and still ranks second
    assert [s.entry.story_id for s in rank(pool, 2)] == ["b-1", "b-2"]
    assert [s.entry.story_id for s in rank(pool, 5)] == ["b-1", "b-2", "b-3"]  # b-4 below the floor


def test_publishing_takes_only_links_above_its_threshold() -> None:
    pool = [
        scored("b-1", 0.9, {"karabakh": 3}),
        scored("b-2", 0.5, {"minsk": 3}),
        scored("b-3", 0.2, {"x": 1}),
    ]
    policy = Policy(publish_threshold=0.4, publish_relative=0.0)
    assert [s.entry.story_id for s in publish(pool, 5, policy)] == ["b-1", "b-2"]
    assert [s.entry.story_id for s in publish(pool, 1, policy)] == ["b-1"]


def test_publishing_takes_only_links_close_to_the_best() -> None:
    pool = [
        scored("b-1", 0.9, {"karabakh": 3}),
        scored("b-2", 0.8, {"minsk": 3}),
        scored("b-3", 0.5, {"x": 1}),
    ]
    policy = Policy(publish_threshold=0.2, publish_relative=0.75)
    assert [s.entry.story_id for s in publish(pool, 5, policy)] == ["b-1", "b-2"]
    assert [s.entry.story_id for s in publish(pool[2:], 5, policy)] == ["b-3"]  # alone it is the best


def test_publishing_skips_near_duplicates_of_a_chosen_link() -> None:
    words = {"karabakh": 3, "shelling": 3, "village": 2}
    first, copy = scored("b-1", 0.9, words, "Shelling"), scored("c-1", 0.88, words, "Shelling")
    assert [s.entry.story_id for s in publish([first, copy], 5, Policy(publish_threshold=0.1))] == ["b-1"]
    # the editors' ranking lists both: it orders, it does not judge
    assert [s.entry.story_id for s in rank([first, copy], 5)] == ["b-1", "c-1"]


def test_link_carries_its_reason() -> None:
    q = entry_of("a-q", {"ceasefire": 3, "karabakh": 3}, entities=("Q399",))
    s = score_of(q, entry_of("b-1", {"karabakh": 2, "ceasefire": 1}, days=2.4, entities=("Q399",)))
    link = to_link(s, q.first)
    assert link.story_id == "b-1"
    assert link.uri == "urn:b-1"
    assert link.shared_entities == ["Q399"]
    assert link.days_apart == pytest.approx(2.4)
    assert link.reason == explain(s, q.first)
    assert "shares Q399" in link.reason
    assert "2 days earlier" in link.reason
    assert f"score {s.score:.2f}" in link.reason
    later = score_of(q, entry_of("b-2", {"karabakh": 1}, days=-1.0))
    assert "1 day later" in explain(later, q.first)
