"""Linking: which known entity a found name means, decided by the story around it.

A name has candidates ("Moscow": the Russian capital and a town in Idaho;
"Georgia": the country and the US state). Each candidate scores by how likely
it is on its own (countries and curated entries first, then big cities), whether
its kind agrees with what NER saw, and the story's context: the countries it
names unambiguously and its dateline. A capital named as an actor ("Moscow has
a defence alliance", "Ankara's support for Baku") stands for its government and
links to the country; named as a location ("talks in Moscow") it stays the city.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from services.enrich.tagging.kb import Kind, KnowledgeBase, KnownEntity, prior

# A capital right after one of these words is a location, not a government.
LOCATIVE = {
    "in", "at", "near", "from", "outside", "to", "into", "around", "across", "via", "of", "inside",
    "toward", "towards", "visit", "visited", "visiting", "reach", "reached", "left", "leave", "arrived",
}  # fmt: skip
# Kinds may change only towards entries precise enough to overrule NER: "Japan"
# tagged ORG in sports copy is the national team (a country); "Barcelona" tagged
# ORG is the club, not the city.
_OVERRULING_LEVELS = {"country", "region", "organisation", "person", "event"}


# Words that qualify a place name without changing which place it is.
_MODIFIERS = {"Greater", "Central", "Northern", "Southern", "Eastern", "Western", "Arab", "Old", "Downtown"}
_COMPASS_WORDS = {"North", "South", "East", "West"}
_NAMED_COUNTRY_TOWN_POPULATION = 1000
# Headline abbreviations of a compass word that begins a place name.
_COMPASS_ABBREVIATIONS = {"N. ": "North ", "S. ": "South ", "E. ": "East ", "W. ": "West "}


@dataclass(frozen=True)
class Context:
    countries: frozenset[str]
    dateline: frozenset[str]  # entry ids of the dateline place
    # Countries the story names outright (as a country or a curated region like "Scotland").
    named: frozenset[str] = frozenset()


def name_forms(surface: str) -> list[str]:
    """The spellings a name may be listed under: as written, without 'the', a final dot,
    or the affixes that glue it to other words ("ex-England", "St. Louis-based")."""
    forms = [surface]
    for prefix in ("the ", "The ", "ex-", "pro-", "anti-"):
        if surface.startswith(prefix):
            forms.append(surface[len(prefix) :])
    for short, full in _COMPASS_ABBREVIATIONS.items():
        if surface.startswith(short) and len(surface) > len(short):  # "N. Korea", "S. Africa"
            forms.append(full + surface[len(short) :])
    for form in list(forms):
        year, _, rest = form.partition(" ")
        if len(year) == 4 and year.isdigit() and rest[:1].isupper():  # "1936 Olympics", "2026 Asian Games"
            forms.append(rest)
    for suffix in ("-based", "-led", "-backed", "-born", "-made"):
        if surface.endswith(suffix):
            forms.append(surface[: -len(suffix)])
    for form in list(forms):
        if form.endswith(".") and not form.endswith(".."):
            forms.append(form[:-1])
        elif form[-1:].isalpha() and len(form) <= 5:
            forms.append(form + ".")  # "Calif" when the abbreviation's dot ended the sentence
    return forms


def candidates(kb: KnowledgeBase, surface: str, caps: bool) -> list[tuple[str, KnownEntity]]:
    """(alias, entry) pairs for every spelling of the name; ALL-CAPS text also matches lower-cased places."""
    found: list[tuple[str, KnownEntity]] = []
    for form in name_forms(surface):
        found.extend((form, entry) for entry in kb.candidates(form))
        if found:
            return found
    if caps:
        for form in name_forms(surface):
            found.extend((form, entry) for entry in kb.lower_places.get(form.lower(), []))
    words = surface.split()
    if not found and len(words) > 1 and words[0] in _MODIFIERS:
        # "Arab East Jerusalem", "Greater London": the place behind a qualifier.
        rest = " ".join(words[1:])
        found.extend((rest, entry) for entry in kb.candidates(rest) if entry.kind == "place")
    return found


def score(alias: str, entry: KnownEntity, kind: Kind, context: Context) -> float:
    value = prior(entry)
    if entry.kind == kind:
        value += 3.0
    if entry.id in context.dateline:
        value += 3.0
    if entry.level not in ("country", "continent") and entry.country in context.countries:
        # A town gets less from context than a region: Brazil, Indiana (8,000 people) must
        # not beat Brazil the country just because the story is about US banks.
        weight = min(1.0, math.log10(max(entry.population, 10)) / 6) if entry.level == "city" else 1.0
        value += 2.5 * weight
    if entry.level == "city" and alias != entry.name and alias.lower() != entry.name.lower():
        value -= 1.0  # an alternate spelling is weaker evidence than the city's own name
    return value


def overrules(entry: KnownEntity, kind: Kind) -> bool:
    """May this entry replace the kind NER saw? Never a person by a place: "Jordan" the player."""
    if entry.kind == kind:
        return True
    return entry.level in _OVERRULING_LEVELS and not (kind == "person" and entry.kind == "place")


def best_entry(pairs: Iterable[tuple[str, KnownEntity]], kind: Kind, context: Context) -> KnownEntity | None:
    allowed = [(a, e) for a, e in pairs if overrules(e, kind)]
    if not allowed:
        return None
    return max(allowed, key=lambda pair: score(pair[0], pair[1], kind, context))[1]


def town_in_context(kb: KnowledgeBase, surface: str, context: Context) -> KnownEntity | None:
    """A small town or a district NER called a place, when the story datelines it
    ("LANDGRAAF, Netherlands") or names its country and the town's population is known to
    be 1,000 or more ("Lockerbie", Scotland): GeoNames' districts carry none, and many
    share their names with towns elsewhere."""
    forms = {surface, surface.title()} if surface.isupper() else {surface}
    towns = [
        entry
        for form in forms
        for entry in kb.towns.get(form, [])
        if entry.id in context.dateline
        or (entry.country in context.named and entry.population >= _NAMED_COUNTRY_TOWN_POPULATION)
    ]
    return max(towns, key=lambda entry: entry.population) if towns else None


def half_of_divided_country(kb: KnowledgeBase, surface: str, context: Context) -> KnownEntity | None:
    """ "The North" in a story that names North Korea (and the South): a compass word
    stands for the one country the story names that begins with it."""
    if surface not in _COMPASS_WORDS:
        return None
    halves = [
        country
        for code in context.named
        if (country := kb.countries.get(code)) is not None and country.name.startswith(surface + " ")
    ]
    return halves[0] if len(halves) == 1 else None


def government_of(
    kb: KnowledgeBase, entry: KnownEntity, word_before: str, in_dateline: bool
) -> KnownEntity | None:
    """The country a capital stands for when it is named as an actor, else None."""
    if in_dateline or word_before.lower() in LOCATIVE:
        return None
    return kb.capitals.get(entry.id)
