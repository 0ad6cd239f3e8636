"""The compiled knowledge base: the mapped file answers exactly like the KB it was built from,
the editor's file layers over it without touching it, and a stale file is never used."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.enrich.tagging.kb import KnowledgeBase, KnownEntity, load_curated
from services.enrich.tagging.kbfile import (
    ENTRY_LISTS,
    SINGLE_ENTRIES,
    STRING_SETS,
    KBFile,
    open_current,
    write,
)
from services.enrich.tagging.tables import Table

TABLES = ENTRY_LISTS + SINGLE_ENTRIES + STRING_SETS
AZ = KnownEntity(
    "iso3166-1:AZ", "place", "Azerbaijan", "country", "AZ", 10_000_000, "https://sws.geonames.org/587116/"
)
BAKU = KnownEntity(
    "geonames:587084", "place", "Baku", "city", "AZ", 1_116_513, "https://sws.geonames.org/587084/"
)
GEORGIA_US = KnownEntity("geonames:4197000", "place", "Georgia", "state", "US")
GEORGIA = KnownEntity("iso3166-1:GE", "place", "Georgia", "country", "GE", 3_700_000)
REUTERS = KnownEntity("kb:org/reuters", "organisation", "Reuters", "organisation")
TOWN = KnownEntity("geonames:1", "place", "Şamaxı", "city", "AZ", 1_200)


def small_kb() -> KnowledgeBase:
    kb = KnowledgeBase()
    kb.add(AZ, ["Republic of Azerbaijan"], detect=True)
    kb.countries["AZ"] = AZ
    kb.add(BAKU, ["Baki", "Bakı"], detect=False)
    kb.capitals[BAKU.id] = AZ
    kb.add(GEORGIA_US, [], detect=False)
    kb.add(GEORGIA, [], detect=True)
    kb.add(REUTERS, ["Reuters News Agency"], detect=True)
    kb.demonyms["Azeri"] = AZ
    kb.towns.own("Şamaxı", list).append(TOWN)
    kb.towns.own("Samaxi", list).append(TOWN)
    kb.versions["entities.toml"] = 6
    return kb


def compiled(tmp_path: Path, kb: KnowledgeBase, stamp: str = "test") -> KnowledgeBase:
    path = tmp_path / "compiled.kb"
    write(kb, path, stamp)
    return KBFile(path).knowledge_base()


def test_the_mapped_file_answers_like_the_kb_it_was_built_from(tmp_path: Path) -> None:
    built = small_kb()
    mapped = compiled(tmp_path, built)
    for name in TABLES:
        original, loaded = getattr(built, name), getattr(mapped, name)
        assert dict(loaded.items()) == dict(original.items()), name
        assert len(loaded) == len(original)
    assert mapped.candidates("Georgia") == [GEORGIA_US, GEORGIA]  # order kept: the linker ranks them
    assert mapped.candidates("Tbilisi") == []
    assert mapped.towns.get("Samaxi") == [TOWN]
    assert mapped.capitals.get(BAKU.id) == AZ
    assert mapped.versions == {"entities.toml": 6}
    assert "baku" in mapped.lower_places
    assert "tbilisi" not in mapped.lower_places


def test_a_table_with_thousands_of_keys_finds_every_one(tmp_path: Path) -> None:
    kb = KnowledgeBase()
    towns = [KnownEntity(f"geonames:{n}", "place", f"Town {n}", "city", "NL", n) for n in range(5000)]
    for town in towns:
        kb.towns.own(town.name, list).append(town)
    mapped = compiled(tmp_path, kb)
    assert all(mapped.towns.get(town.name) == [town] for town in towns)
    assert mapped.towns.get("Town 5000") is None
    assert sorted(mapped.towns) == sorted(town.name for town in towns)


def test_the_editors_file_overrides_the_mapped_kb_without_changing_the_file(tmp_path: Path) -> None:
    mapped = compiled(tmp_path, small_kb())
    extra = tmp_path / "newsroom-kb.toml"
    extra.write_text(
        'version = 3\n[[organisation]]\nid = "kb:org/reuters"\nname = "Reuters News"\naliases = ["Reuters"]\n'
        '[[organisation]]\nid = "kb:org/brackenfield"\nname = "Brackenfield Holdings plc"\n'
        'aliases = ["Brackenfield"]\n',
        encoding="utf-8",
    )
    load_curated(mapped, extra, editor=True)
    reuters = KnownEntity("kb:org/reuters", "organisation", "Reuters News", "organisation")
    assert mapped.candidates("Reuters") == [reuters]
    assert mapped.candidates("Reuters News Agency") == []  # the editor's entry replaces it outright
    assert "Reuters News Agency" not in mapped.detect
    assert mapped.detect.get("Brackenfield") is not None
    assert mapped.entries.get("kb:org/reuters") == reuters
    assert mapped.versions["newsroom-kb.toml"] == 3
    reopened = KBFile(tmp_path / "compiled.kb").knowledge_base()
    assert reopened.candidates("Reuters News Agency") == [REUTERS]
    assert "Brackenfield" not in reopened.detect


def test_a_stale_or_foreign_file_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "compiled.kb"
    write(small_kb(), path, "built-from-older-sources")
    assert open_current(path, "built-from-older-sources") is not None
    assert open_current(path, "current-sources") is None
    path.write_bytes(b"not a knowledge base")
    assert open_current(path, "current-sources") is None
    assert open_current(tmp_path / "missing.kb", "current-sources") is None


def test_a_table_layers_writes_and_deletions_over_its_base() -> None:
    table: Table[list[str]] = Table({"a": ["base"], "b": ["base"]})
    table.own("a", list).append("layer")
    table["c"] = ["new"]
    del table["b"]
    assert table.get("a") == ["base", "layer"]
    assert table.base["a"] == ["base"]
    assert "b" not in table
    assert table.get("b") is None
    with pytest.raises(KeyError):
        table["b"]
    assert sorted(table) == ["a", "c"]
    assert len(table) == 2
    assert table.own("b", list) == []  # a deleted key starts afresh, not from the base
