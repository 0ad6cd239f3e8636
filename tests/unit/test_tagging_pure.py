"""The tagger's pure parts: story text, language guess, relevance, CoNLL rebuilding, scoring."""

from __future__ import annotations

from bench.tagger import normalise, score
from services.enrich.tagging.conll import rebuild
from services.enrich.tagging.kb import fold
from services.enrich.tagging.linking import name_forms
from services.enrich.tagging.relevance import Seen, relevance
from services.enrich.tagging.tagger import run_on_parts
from services.enrich.tagging.text import body_text, guess_language, paragraphs, unwrap


def test_body_text_keeps_paragraphs_and_unescapes() -> None:
    html = "<p>Talks in <b>Baku</b> &amp; Yerevan.</p><p>Second<br>line</p>"
    assert body_text(html) == "Talks in Baku & Yerevan.\n\nSecond\n\nline"


def test_language_guess_tells_a_french_caption_from_english_copy() -> None:
    assert guess_language("Azerbaijan said on Tuesday it was halting the fighting.", "en") == "en"
    caption = "Une position d'artillerie arménienne de l'armée du Nagorny-Karabakh. Le 3 avril 2016."
    assert guess_language(caption, "en") == "fr"
    assert guess_language("Baku, Yerevan", "fr") == "fr"  # too short to overrule the story's language


def test_outlet_furniture_is_skipped_and_offsets_kept() -> None:
    text = "This story is over 5 years old.\nAnkara backs Baku.\nRelated: Putin Tells Armenia to Cool It"
    found = paragraphs("body", text, "en")
    assert [(p.skip, text[p.start : p.start + len(p.text)]) for p in found] == [
        (True, "This story is over 5 years old."),
        (False, "Ankara backs Baku."),
        (True, "Related: Putin Tells Armenia to Cool It"),
    ]


def test_relevance_rewards_headline_lede_and_frequency() -> None:
    headline = Seen(in_headline=True, in_lede=False, position=0.0, inferred=False)
    lede = Seen(in_headline=False, in_lede=True, position=0.05, inferred=False)
    late = Seen(in_headline=False, in_lede=False, position=0.9, inferred=False)
    assert relevance([headline, lede, lede]) > relevance([lede]) > relevance([late]) > 0.0
    assert relevance([headline] * 10) <= 1.0
    demonym = Seen(in_headline=False, in_lede=True, position=0.05, inferred=True)
    assert relevance([demonym]) < relevance([lede])
    assert relevance([]) == 0.0


def test_conll_tokens_are_rebuilt_as_running_text_with_spans() -> None:
    sentences = [
        [("EU", "I-ORG"), ("rejects", "O"), ("German", "I-MISC"), ("call", "O"), (".", "O")],
        [('"', "O"), ("We", "O"), ("do", "O"), ("n't", "O"), ("agree", "O"), (",", "O"), ('"', "O")],
        [("Peter", "I-PER"), ("Blackburn", "I-PER"), ("met", "O"), ("Anna", "I-PER"), ("Ray", "B-PER")],
    ]
    document = rebuild(sentences)
    assert document.text == 'EU rejects German call.\n"We don\'t agree,"\nPeter Blackburn met Anna Ray'
    assert [(document.surface(s), s.label) for s in document.entities] == [
        ("EU", "ORG"),
        ("German", "MISC"),
        ("Peter Blackburn", "PER"),
        ("Anna", "PER"),
        ("Ray", "PER"),
    ]


def test_name_forms_and_folding() -> None:
    assert "England" in name_forms("ex-England")
    assert "St. Louis" in name_forms("St. Louis-based")
    assert "Netherlands" in name_forms("the Netherlands")
    assert "Calif." in name_forms("Calif")
    assert "Olympics" in name_forms("the 1936 Olympics")  # the series behind one edition
    assert fold("Michoacán") == "Michoacan"


def test_bench_scores_distinct_names_per_document() -> None:
    tokens = [("Moscow", "I-LOC"), ("and", "O"), ("MOSCOW", "I-LOC"), ("met", "O"), ("UN", "I-ORG")]
    document = rebuild([tokens])
    predicted = [[(0, 6, "LOC"), (11, 17, "LOC"), (22, 24, "LOC")]]
    scores = score([document], predicted)
    places = scores.document["LOC"]
    assert (places.hits, places.predicted, places.gold) == (1, 2, 1)
    assert scores.document["ORG"].prf() == (0.0, 0.0, 0.0)
    assert scores.mention.hits == 2
    assert normalise("The  United Nations") == "united nations"


def test_hard_wrapped_copy_is_unwrapped_in_place() -> None:
    wrapped = (
        "Standard Oil Co and the oil company BP North America\nInc said they plan to form a venture to\n"
        "manage money market borrowing and investment of both in New\nYork, where the two have offices.\n"
        "    BP North America is a subsidiary of British Petroleum."
    )
    flat = unwrap(wrapped)
    assert len(flat) == len(wrapped)
    assert "BP North America Inc said" in flat
    assert "in New York, where" in flat
    assert "\n    BP North America" in flat  # an indented line still starts a paragraph
    prose = "Azerbaijan said the fighting had stopped.\nArmenia said it had not.\nRussia urged calm."
    assert unwrap(prose) == prose


def test_run_on_organisation_names_are_cut_into_the_names_they_hold() -> None:
    def parts(text: str, name: str) -> list[str]:
        start = text.index(name)
        return [text[a:b] for a, b in run_on_parts(text, start, start + len(name))]

    story = "Magna, Johnson Controls Inc and Lear Corp. supply seats. Lear Corp. said nothing."
    assert parts(story, "Johnson Controls Inc and Lear Corp.") == ["Johnson Controls Inc", "Lear Corp."]
    banks = "Banc One and First Chicago do not comment. Banc One fell; First Chicago rose."
    assert parts(banks, "Banc One and First Chicago") == ["Banc One", "First Chicago"]
    # Parts never written alone are one name.
    ministry = "The Trade and Industry Ministry said exports rose."
    assert parts(ministry, "Trade and Industry Ministry") == ["Trade and Industry Ministry"]
    kia = "Cars made by Kia Motor Corp of South Korea arrived."
    assert parts(kia, "Kia Motor Corp of South Korea") == ["Kia Motor Corp"]
    table = "Hajduk 2 Proleter (Z) 0"
    assert parts(table, "Proleter (Z") == ["Proleter"]
