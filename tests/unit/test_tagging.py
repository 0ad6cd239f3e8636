"""Entity tagger behaviour on self-written copy: linking, demonyms, ambiguity, offsets, languages.

Runs the real tagger (the repository's NER pipeline and the full KB), no ../shared
data needed. The acceptance test on the published sample article is at the end
and skips when ../shared is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.enrich.pipeline import Enricher
from services.enrich.tagging import Tagger, Tags, TextItem
from services.enrich.tagging.kb import Kind, KnownEntity
from services.enrich.tagging.kbfile import open_kb
from services.enrich.tagging.model import load_tagger
from services.enrich.tagging.tagger import _Found
from services.enrich.tagging.text import body_text
from shared.config import NewsroomConfig
from shared.events import StoryReceived, utcnow
from shared.settings import Settings
from shared.story import EntityTag, Story
from tests.conftest import shared_data

pytest.importorskip("spacy")

# A short story in the shape of the published sample: headline-case title, a French
# photo caption, capitals standing for governments, a "Related:" link line.
FIXTURE = """Truce Declared in Nagorno-Karabakh After Clashes

Azerbaijan and the breakaway region of Nagorno-Karabakh said on Tuesday they were halting hostilities.
Une position d'artillerie arménienne près du Nagorny-Karabakh. Photo de Anna Petrosyan/AFP
Reuters could not verify whether the fighting had stopped between Azeri troops and Armenian forces.
Moscow has a defence alliance with Armenia, while Ankara backs Azerbaijan.
Related: Putin Tells Armenia and Azerbaijan to Cool It After Fighting Erupts
Envoys of the Minsk Group will travel to the region, French Foreign Minister Jean-Marc Ayrault said in Paris.
"Responsibility rests with Armenia," Azeri Deputy Foreign Minister Khalaf Khalafov told a meeting in Baku."""


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return load_tagger(Settings())


def tag_one(tagger: Tagger, body: str = "", headline: str = "", language: str = "en") -> Tags:
    return tagger.tag_texts([TextItem(id="t", headline=headline, body=body, language=language)])[0]


def by_id(tags: list[EntityTag]) -> dict[str | None, EntityTag]:
    return {tag.literal: tag for tag in tags}


def names(tags: list[EntityTag]) -> set[str]:
    return {tag.name for tag in tags}


def test_demonyms_possessives_and_names_resolve_to_one_place(tagger: Tagger) -> None:
    tags = tag_one(
        tagger, "Azerbaijan's defence ministry said Azeri troops held the line. Azerbaijan denied it."
    )
    azerbaijan = by_id(tags.places)["iso3166-1:AZ"]
    assert [m.text for m in azerbaijan.mentions] == ["Azerbaijan", "Azeri", "Azerbaijan"]
    assert azerbaijan.uri == "https://sws.geonames.org/587116/"
    assert {m.provenance for m in azerbaijan.mentions if m.text == "Azeri"} == {"demonym"}
    assert len([t for t in tags.places if t.name == "Azerbaijan"]) == 1


def test_capitals_stand_for_governments_unless_named_as_locations(tagger: Tagger) -> None:
    tags = tag_one(
        tagger,
        "Moscow has a defence alliance with Armenia, while Ankara backs Azerbaijan. Talks were held in Baku.",
    )
    places = by_id(tags.places)
    assert [m.text for m in places["iso3166-1:RU"].mentions] == ["Moscow"]
    assert places["iso3166-1:RU"].mentions[0].provenance == "capital-as-government"
    assert [m.text for m in places["iso3166-1:TR"].mentions] == ["Ankara"]
    assert places["geonames:587084"].name == "Baku"  # "in Baku": the city itself
    assert [m.text for m in places["iso3166-1:AZ"].mentions] == ["Azerbaijan"]


def test_ambiguous_names_follow_the_story_context(tagger: Tagger) -> None:
    us = tag_one(
        tagger, "Storms flooded Atlanta and Savannah in Georgia, the U.S. National Weather Service said."
    )
    caucasus = tag_one(tagger, "Georgia's government in Tbilisi protested to Russia over the border.")
    assert "geonames:4197000" in by_id(us.places)  # the US state
    assert "iso3166-1:GE" in by_id(caucasus.places)  # the country
    dateline = tag_one(
        tagger, "MOSCOW, Idaho (Reuters) - Students returned to the university in Moscow on Monday."
    )
    assert "geonames:5601538" in by_id(dateline.places)  # Moscow, Idaho, not the Russian capital
    assert "iso3166-1:RU" not in by_id(dateline.places)


def test_every_mention_offset_points_at_its_words(tagger: Tagger) -> None:
    story = Story(
        partner="p",
        uri="u1",
        headline="Turkey Backs Azerbaijan",
        description="Ankara's support for Baku was one-sided, Russia said.",
        body_html="<p>Turkish premier Ahmet Davutoglu spoke.</p><p>Reuters &amp; others, in Paris.</p>",
    )
    (tags,) = tagger.tag_many([story])
    fields = {
        "headline": story.headline,
        "description": story.description,
        "body": body_text(story.body_html),
    }
    mentions = [m for tag in (*tags.people, *tags.organisations, *tags.places) for m in tag.mentions]
    assert len(mentions) >= 8
    for mention in mentions:
        assert fields[mention.field][mention.start : mention.end] == mention.text
    assert {m.field for m in mentions} == {"headline", "description", "body"}


def test_non_english_text_is_matched_against_the_kb_only(tagger: Tagger) -> None:
    tags = tag_one(
        tagger,
        "Le président Emmanuel Macron a rencontré Vladimir Putin à Moscou avec une délégation.",
        language="fr",
    )
    people = by_id(tags.people)
    assert set(people) == {"kb:person/emmanuel-macron", "kb:person/vladimir-putin"}
    assert all(
        m.provenance == "kb-only (fr: no English NER)" for tag in people.values() for m in tag.mentions
    )


def test_french_caption_in_an_english_story_gets_no_ner(tagger: Tagger) -> None:
    tags = tag_one(tagger, FIXTURE)
    karabakh = by_id(tags.places)["kb:place/nagorno-karabakh"]
    caption = [m for m in karabakh.mentions if m.text == "Nagorny-Karabakh"]
    assert [m.provenance for m in caption] == ["kb-only (fr: no English NER)"]
    assert not any("Une" in m.text or "Petrosyan" in m.text for t in tags.people for m in t.mentions)


def test_the_fixture_is_tagged_as_an_editor_would(tagger: Tagger) -> None:
    tags = tag_one(tagger, FIXTURE)
    places = by_id(tags.places)
    for place in (
        "iso3166-1:AZ",
        "iso3166-1:AM",
        "kb:place/nagorno-karabakh",
        "iso3166-1:RU",
        "iso3166-1:TR",
    ):
        assert place in places
    assert {"kb:org/reuters", "kb:org/osce-minsk-group"} <= set(by_id(tags.organisations))
    assert {"kb:person/jean-marc-ayrault", "kb:person/khalaf-khalafov"} <= set(by_id(tags.people))
    assert "Putin" not in " ".join(names(tags.people))  # only in the "Related:" link line
    assert places["kb:place/nagorno-karabakh"].relevance > places["iso3166-1:TR"].relevance
    assert all(0.0 <= t.relevance <= 1.0 for t in (*tags.people, *tags.organisations, *tags.places))


def test_headline_capitals_do_not_invent_people(tagger: Tagger) -> None:
    tags = tag_one(
        tagger,
        headline="Putin Tells Armenia and Azerbaijan to Cool It After Fighting Erupts",
        body="Russian President Vladimir Putin urged both sides to stop fighting, the Kremlin said.",
    )
    people = by_id(tags.people)
    assert list(people) == ["kb:person/vladimir-putin"]
    assert {m.text for m in people["kb:person/vladimir-putin"].mentions} == {"Putin", "Vladimir Putin"}


def test_a_surname_is_the_person_named_in_full_not_the_place_of_that_name(tagger: Tagger) -> None:
    body = (
        "MaliVai Washington lost to Alex O'Brien 6-3 6-4 on Friday. Washington, who saved two "
        "match points, said he was tired. He flies home to Washington on Monday."
    )
    tags = tag_one(tagger, body=body)
    player = next(tag for tag in tags.people if tag.name == "MaliVai Washington")
    assert [m.start for m in player.mentions] == [0, body.index("Washington, who")]
    # After a locative word the name is still the place.
    (place,) = [tag for tag in tags.places if tag.name == "Washington"]
    assert [m.start for m in place.mentions] == [body.index("to Washington") + 3]
    # The same grouping when NER reads the lone surname as the place (as some models do).
    city = KnownEntity("geonames:4140963", "place", "Washington", "city", country="US")
    person = _Found(0, len("MaliVai Washington"), "person", "ner")
    lone = body.index("Washington, who")
    flown = body.index("to Washington") + 3
    linked: list[tuple[_Found, Kind, KnownEntity | None, str]] = [
        (person, "person", None, "ner"),
        (_Found(lone, lone + 10, "place", "ner"), "place", city, "ner+kb"),
        (_Found(flown, flown + 10, "place", "ner"), "place", city, "ner+kb"),
    ]
    groups = Tagger._group(body, linked)
    assert [(s.start, kind, how) for s, kind, _, how in groups["person:malivai washington"]] == [
        (0, "person", "ner"),
        (lone, "person", "ner+surname"),
    ]
    assert [s.start for s, *_ in groups[city.id]] == [flown]


def test_unknown_names_are_tagged_without_an_id(tagger: Tagger) -> None:
    tags = tag_one(
        tagger, "Jane Whitcombe, chief executive of Brackenfield Holdings, said on Monday that sales rose."
    )
    person = [t for t in tags.people if t.name == "Jane Whitcombe"]
    assert len(person) == 1
    assert (person[0].uri, person[0].literal) == (None, None)
    assert person[0].provenance == "ner"
    assert [t.name for t in tags.organisations] == ["Brackenfield Holdings"]
    assert tags.organisations[0].uri is None


def test_regions_and_waters_link_to_geonames_ids(tagger: Tagger) -> None:
    tags = tag_one(
        tagger,
        "Tankers left the Gulf on Monday as talks on the West Bank and the Gaza Strip resumed. "
        "Diplomats from across the Middle East and the Balkans attended, and shipping in the "
        "Arabian Gulf was calm.",
    )
    places = by_id(tags.places)
    # Ids as GeoNames' dump files have them (no-country.txt, admin1CodesASCII.txt).
    for geonameid in (235616, 285153, 281132, 6269133, 12216908):
        assert f"geonames:{geonameid}" in places, (geonameid, sorted(map(str, places)))
    gulf = places["geonames:235616"]
    assert gulf.uri == "https://sws.geonames.org/235616/"
    assert {m.text for m in gulf.mentions} == {"Gulf", "Arabian Gulf"}  # one tag, both spellings


def test_compass_words_are_not_places_elsewhere_but_halves_of_a_divided_country(tagger: Tagger) -> None:
    tags = tag_one(tagger, "The plan opens the border to 19 Northern and Northeastern states in winter.")
    assert not any(tag.literal and tag.literal.startswith("geonames:") for tag in tags.places), tags.places
    korea = tag_one(
        tagger,
        "North Korea demanded that South Korea return a war veteran. "
        "Officials in the North said the South had kidnapped him.",
    )
    linked = {m.text: tag.literal for tag in korea.places for m in tag.mentions}
    assert linked["North"] == "iso3166-1:KP"
    assert linked["South"] == "iso3166-1:KR"


def test_plain_text_dateline_after_the_headline_names_the_place(tagger: Tagger) -> None:
    story = tag_one(
        tagger,
        "GOLF - GREENKEEPERS START WORK ON CUP COURSE.\n"
        "ADARE, Ireland 2026-11-28\n"
        "Greenkeepers began preparing the course on Saturday, the organisers said.",
    )
    adare = by_id(story.places).get("geonames:2967076")  # a village of 1,100 people
    assert adare is not None, story.places
    london = tag_one(
        tagger,
        "Shares close higher in busy trade.\nLONDON 2026-11-28\nLondon shares closed higher on Friday.",
    )
    # A capital in the dateline is where the story was filed, not the government.
    assert "geonames:2643743" in by_id(london.places)
    assert "iso3166-1:GB" not in by_id(london.places)


def test_the_dateline_name_is_a_place_whatever_ner_reads_in_its_capitals(tagger: Tagger) -> None:
    # A town the KB does not know, qualified by a country it does.
    toftir = tag_one(
        tagger,
        "SOCCER - FAROES HOLD ON FOR DRAW.\nTOFTIR, Faroe Islands 1996-08-31\n"
        "The Faroe Islands drew 1-1 with Slovakia in a World Cup qualifier on Saturday.",
    )
    assert "TOFTIR" in names(toftir.places)
    assert "TOFTIR" not in names(toftir.organisations) | names(toftir.people)
    coruna = tag_one(
        tagger,
        "SOCCER - DEPORTIVO HELD AT HOME.\nLA CORUNA, Spain 1996-08-31\n"
        "Deportivo Coruna were held 1-1 by Real Madrid on Saturday.",
    )
    assert "geonames:3119841" in by_id(coruna.places)  # A Coruña, the city


def test_capitals_of_a_word_the_story_writes_in_lower_case_are_no_town(tagger: Tagger) -> None:
    story = tag_one(
        tagger,
        "RUGBY UNION - ENGLISH RESULTS.\nLONDON 1996-08-31\n"
        "Results of English rugby union matches on Saturday.\nMUNICIPAL BOND\nLAST SALE: None\n"
        "The sale of the bonds was delayed.",
    )
    assert names(story.places) == {"London"}  # not Rugby, Warwickshire, nor Sale, Greater Manchester


def test_events_are_tagged_with_the_series_they_belong_to(tagger: Tagger) -> None:
    tags = tag_one(
        tagger,
        "The Tour de France will start in Barcelona, a year after the Paris Olympics. "
        "Veterans of the Second World War attended, as at every Olympic Games since the 1948 Olympics.",
        headline="Cycling's Tour de France Starts in Spain",
    )
    events = by_id(tags.events)
    assert set(events) >= {"kb:event/tour-de-france", "kb:event/olympic-games", "kb:event/world-war-ii"}
    olympics = events["kb:event/olympic-games"]
    assert olympics.kind == "event"
    assert olympics.uri == "urn:newsroom:kb:event/olympic-games"
    # One tag for every spelling and edition ("the Paris Olympics", "the 1948 Olympics").
    assert {m.text for m in olympics.mentions} == {"Olympics", "Olympic Games"}
    assert len(olympics.mentions) == 3
    # In the headline and the lede: about the story, not a passing mention.
    assert events["kb:event/tour-de-france"].relevance > events["kb:event/world-war-ii"].relevance
    assert "Olympics" not in names(tags.organisations) | names(tags.places)
    assert tags.ninjs()["events"][0]["kind"] == "event"


def test_editors_extra_kb_adds_and_overrides_without_code(tmp_path: Path) -> None:
    extra = tmp_path / "newsroom-kb.toml"
    extra.write_text(
        'version = 7\n[[organisation]]\nid = "kb:org/brackenfield"\nname = "Brackenfield Holdings plc"\n'
        'aliases = ["Brackenfield Holdings", "Brackenfield"]\n'
        '[[organisation]]\nid = "kb:org/reuters"\nname = "Reuters News"\naliases = ["Reuters"]\n',
        encoding="utf-8",
    )
    tagger = Tagger(open_kb(extra), nlp=None)  # over the compiled file, as enrich loads it
    tags = tag_one(tagger, "Brackenfield Holdings told Reuters that Brackenfield would grow.")
    orgs = by_id(tags.organisations)
    assert len(orgs["kb:org/brackenfield"].mentions) == 2
    assert orgs["kb:org/reuters"].name == "Reuters News"


def test_killed_stories_get_no_tags_and_updates_are_retagged(tagger: Tagger) -> None:
    first = Story(partner="p", uri="u", version=1, body_html="<p>Ankara backs Azerbaijan.</p>")
    update = first.model_copy(update={"version": 2, "body_html": "<p>Ankara and Moscow back Azerbaijan.</p>"})
    killed = first.model_copy(update={"version": 3, "pubstatus": "canceled"})
    tagged = tagger.tag_many([first, update, killed])
    assert "iso3166-1:RU" not in by_id(tagged[0].places)
    assert "iso3166-1:RU" in by_id(tagged[1].places)
    assert tagged[2] == Tags()


async def test_enricher_fills_the_ninjs_tag_fields(tagger: Tagger) -> None:
    story = Story(partner="p", uri="u", body_html="<p>Reuters said Ahmet Davutoglu spoke in Ankara.</p>")
    event = StoryReceived(story_id=story.id, trace_id="t", received_at=utcnow(), story=story)
    (enriched,) = await Enricher(Settings(), NewsroomConfig().exempt_genres, tagger=tagger).enrich_batch(
        [event]
    )
    assert names(enriched.people) == {"Ahmet Davutoglu"}
    assert names(enriched.organisations) == {"Reuters"}
    assert "Ankara" in names(enriched.places)
    olympic = story.model_copy(update={"body_html": "<p>Paris hosted the Olympics, Reuters said.</p>"})
    olympic_event = event.model_copy(update={"story": olympic})
    (with_event,) = await Enricher(Settings(), NewsroomConfig().exempt_genres, tagger=tagger).enrich_batch(
        [olympic_event]
    )
    assert [tag.literal for tag in with_event.events] == ["kb:event/olympic-games"]
    (passed,) = await Enricher(Settings(tagging=False), NewsroomConfig().exempt_genres).enrich_batch([event])
    assert passed.people == passed.organisations == passed.places == passed.events == []


def test_cli_prints_tags_of_text_and_jsonl(tmp_path: Path) -> None:
    from services.cli import app

    runner = CliRunner()
    single = runner.invoke(app, ["tag", "-"], input="Ankara's support for Baku was one-sided, Reuters said.")
    assert single.exit_code == 0, single.output
    assert "Turkey" in {t["name"] for t in json.loads(single.stdout)["places"]}
    corpus = tmp_path / "stories.jsonl"
    corpus.write_text(
        json.dumps({"id": "a", "headline": "Truce", "body": "Reuters reported from Baku.", "language": "en"})
        + "\n"
        + json.dumps({"id": "b", "headline": "", "body": "Emmanuel Macron à Paris.", "language": "fr"})
        + "\n",
        encoding="utf-8",
    )
    lines = runner.invoke(app, ["tag", "--jsonl", str(corpus)])
    assert lines.exit_code == 0, lines.output
    rows = [json.loads(line) for line in lines.stdout.splitlines()]
    assert [row["id"] for row in rows] == ["a", "b"]
    mention = rows[0]["organisations"][0]["mentions"][0]
    assert {k: mention[k] for k in ("start", "end", "field", "text")} == {
        "start": 0,
        "end": 7,
        "field": "body",
        "text": "Reuters",
    }
    assert mention["provenance"] in {"ner+kb", "kb"}  # the KB knows it whether or not NER saw it
    assert rows[1]["people"][0]["literal"] == "kb:person/emmanuel-macron"
    assert rows[0]["events"] == []


def test_published_sample_article_is_tagged_as_an_editor_would(tagger: Tagger) -> None:
    text = (shared_data("samples") / "published-article.txt").read_text(encoding="utf-8")
    tags = tag_one(tagger, text)
    places = by_id(tags.places)
    for place in ("iso3166-1:AZ", "iso3166-1:AM", "kb:place/nagorno-karabakh", "iso3166-1:RU"):
        assert place in places
    for place in ("iso3166-1:TR", "iso3166-1:FR", "iso3166-1:US"):
        assert place in places
    assert "Moscow" in {m.text for m in places["iso3166-1:RU"].mentions}  # a capital for its government
    assert "Ankara" in {m.text for m in places["iso3166-1:TR"].mentions}
    assert {"kb:org/osce-minsk-group", "kb:org/reuters"} <= set(by_id(tags.organisations))
    people = set(by_id(tags.people))
    assert {
        "kb:person/ahmet-davutoglu",
        "kb:person/jean-marc-ayrault",
        "kb:person/frank-walter-steinmeier",
        "kb:person/khalaf-khalafov",
    } == people
    spoken = " ".join(m.text for t in tags.people for m in t.mentions)
    assert "Une" not in spoken
    assert "Tells" not in spoken
    standard = [t for t in tags.places if (t.literal or "").startswith(("geonames:", "iso3166"))]
    assert len(standard) / len(tags.places) >= 0.9  # GeoNames or ISO ids, not only the curated KB's
