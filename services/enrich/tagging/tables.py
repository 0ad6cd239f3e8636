"""A knowledge-base table: a read-only base (the memory-mapped KB file) under an in-memory layer.

Enrich processes share one compiled KB file (see kbfile.py) and must not copy it to
change a few names: the editor's file adds and overrides entries at start-up. Writes
and deletions go to the layer; reads look at the layer first, then the base. A table
with an empty base is a plain dictionary, which is how the KB is built.
Values are replaced, never mutated in place: a base's values are decoded afresh on
every read, so appending to one would be lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Final, TypeVar, overload

V = TypeVar("V")
D = TypeVar("D")


class _Deleted:
    pass


_DELETED: Final = _Deleted()


class Table(MutableMapping[str, V]):
    def __init__(self, base: Mapping[str, V] | None = None) -> None:
        self.base: Mapping[str, V] = base if base is not None else {}
        self.layer: dict[str, V | _Deleted] = {}

    @overload
    def get(self, key: str, /) -> V | None: ...
    @overload
    def get(self, key: str, /, default: V | D) -> V | D: ...
    def get(self, key: str, /, default: object = None) -> object:
        # The hot path of every lookup: no KeyError raised and caught for a miss.
        if key in self.layer:
            value = self.layer[key]
            return default if value is _DELETED else value
        return self.base.get(key, default)

    def __getitem__(self, key: str) -> V:
        value = self.get(key, _DELETED)
        if isinstance(value, _Deleted):
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        if key in self.layer:
            return self.layer[key] is not _DELETED
        return key in self.base

    def own(self, key: str, make: Callable[..., V]) -> V:
        """The layer's own value for `key`, to change in place: `make()` when there is none,
        else `make(value)`, a copy of the base's (`list`, `set`)."""
        value = self.layer.get(key, _DELETED)
        if isinstance(value, _Deleted):
            held = None if key in self.layer else self.base.get(key)
            value = make() if held is None else make(held)
            self.layer[key] = value
        return value

    def __setitem__(self, key: str, value: V) -> None:
        self.layer[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        if key in self.base:
            self.layer[key] = _DELETED
        else:
            del self.layer[key]

    def __iter__(self) -> Iterator[str]:
        for key, value in self.layer.items():
            if value is not _DELETED:
                yield key
        for key in self.base:
            if key not in self.layer:
                yield key

    def __len__(self) -> int:
        # Base keys shadowed by the layer (replaced or deleted) are counted once, or not at all.
        shadowed = sum(1 for key in self.layer if key in self.base)
        live = sum(1 for value in self.layer.values() if value is not _DELETED)
        return len(self.base) - shadowed + live
