"""GeoNames dump lines → knowledge-base records (pure; lines written here in GeoNames' format)."""

from __future__ import annotations

import pytest

from services.enrich.tagging.geonames import GENERIC_NAMES, Place, divisions, english_aliases, news_features


def main_table_line(geonameid: int, name: str, alternates: str, feature: str, cc2: str = "") -> str:
    """One line of a GeoNames main-table file (19 tab-separated columns)."""
    feature_class, feature_code = feature.split(".")
    columns = [str(geonameid), name, name, alternates, "27", "51", feature_class, feature_code, "", cc2]
    return "\t".join(columns + [""] * 9)


def test_english_aliases_keep_names_sharing_a_stem_and_drop_foreign_forms_and_codes() -> None:
    alternates = ["Arabian Gulf", "The Gulf", "PG", "Bahr Faris", "Golfe persique", "gulf of iran"]
    aliases = english_aliases("Persian Gulf", alternates)
    assert "Arabian Gulf" in aliases
    assert "Gulf" in aliases  # "The Gulf" without its article
    assert "PG" not in aliases
    assert "Bahr Faris" not in aliases
    assert "gulf of iran" not in aliases  # not capitalised: not a name as copy writes it
    assert "Persian Gulf" not in aliases  # the name itself is not repeated as an alias


def test_news_features_keep_regions_and_waters_but_not_undersea_banks() -> None:
    lines = [
        main_table_line(101, "Middle East", "Mideast", "L.RGN", "EG,IL,PS"),
        main_table_line(102, "Persian Gulf", "Arabian Gulf,The Gulf", "H.GULF"),
        main_table_line(103, "West Bank", "", "U.BNKU"),  # a bank in the North Sea
        main_table_line(104, "Woody Island", "", "T.ISL"),
        "not a record",
    ]
    places = {place.name: place for place in news_features(lines)}
    assert set(places) == {"Middle East", "Persian Gulf"}
    assert places["Middle East"].countries == ("EG", "IL", "PS")
    assert places["Middle East"].tier == "area"
    assert "Gulf" in places["Persian Gulf"].aliases


def test_divisions_drop_compass_words_and_the_tails_copy_leaves_out() -> None:
    lines = [
        "PS.WE\tWest Bank\tWest Bank\t285153",
        "RU.47\tMoscow Oblast\tMoscow Oblast\t524925",
        "OM.11\tNortheastern\tNortheastern\t1",
        "CM.07\tNorth\tNorth\t2",
        "AE.01.101\tAbu Dhabi Municipality\tAbu Dhabi Municipality\t12047239",
    ]
    first = {place.name: place for place in divisions(lines[:4], "admin1")}
    assert set(first) == {"West Bank", "Moscow Oblast"}
    assert first["Moscow Oblast"].aliases == ("Moscow",)
    assert first["West Bank"].countries == ("PS",)
    (district,) = divisions(lines[4:], "admin2")
    assert district.tier == "admin2"
    assert district.aliases == ("Abu Dhabi",)
    assert {"North", "Northeastern", "Southwestern", "Central"} <= GENERIC_NAMES


def test_tsv_rows_round_trip_and_unknown_tiers_are_refused() -> None:
    place = Place(235616, "Persian Gulf", "area", ("AE", "IR"), ("Arabian Gulf", "Gulf"))
    assert Place.from_tsv(place.to_tsv() + "\n") == place
    with pytest.raises(ValueError, match="unknown tier 'ocean'"):
        Place.from_tsv("1\tocean\t\tAtlantic Ocean\t")
