"""Subjects with their IPTC parents, so an outlet filtering on a broad topic sees narrow ones.

Two IPTC schemes are expanded: Subject Codes (`subj:15008000`, or a bare
`15008000` as NITF's `tobject.subject.refnum` sends it), whose parents are in the
code itself (`15000000` ⊃ `15008000` ⊃ `15008001`); and Media Topics
(`medtop:20000822` or its cv.iptc.org URI), whose parents come from the
hierarchy in `data/mediatopics.json` (derived from IPTC's scheme, CC BY 4.0, by
`scripts/build_mediatopics.py`). Parents keep the child's spelling (prefix or
none) and come after the subjects the partner sent; nothing is duplicated.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from shared.story import Subject

_TOPICS_FILE = Path(__file__).parent / "data" / "mediatopics.json"
_CODE = re.compile(r"^(?P<prefix>(?:subj|medtop|iptc|mtop)?:?)(?P<digits>\d{8})$", re.ASCII)
_URI = re.compile(r"cv\.iptc\.org/newscodes/(?P<scheme>subjectcode|mediatopic)/(?P<digits>\d{8})", re.ASCII)


@cache
def _topics() -> dict[str, list[str | None]]:
    topics: dict[str, list[str | None]] = json.loads(_TOPICS_FILE.read_text(encoding="utf-8"))["topics"]
    return topics


def with_parents(subjects: list[Subject]) -> list[Subject]:
    """`subjects` followed by every IPTC parent not already among them."""
    seen: set[str] = {s.code for s in subjects if s.code} | {s.uri for s in subjects if s.uri}
    expanded = list(subjects)
    for subject in subjects:
        for parent in _parents(subject):
            key = parent.code or parent.uri or ""
            if key not in seen:
                seen.add(key)
                expanded.append(parent)
    return expanded


def _parents(subject: Subject) -> list[Subject]:
    if subject.code and (match := _CODE.match(subject.code.strip())):
        prefix, digits = match["prefix"], match["digits"]
        media_topic = prefix.startswith(("medtop", "mtop")) or (not prefix and digits[:2] == "20")
        chain = _topic_chain(digits) if media_topic else _subject_code_chain(digits)
        return [Subject(code=prefix + code, name=name) for code, name in chain]
    if subject.uri and (match := _URI.search(subject.uri)):
        scheme, digits = match["scheme"], match["digits"]
        chain = _topic_chain(digits) if scheme == "mediatopic" else _subject_code_chain(digits)
        base = subject.uri[: match.end("scheme")]
        return [Subject(uri=f"{base}/{code}", name=name) for code, name in chain]
    return []


def _subject_code_chain(digits: str) -> list[tuple[str, str | None]]:
    parents = []
    if digits[5:] != "000":
        parents.append(digits[:5] + "000")
    if digits[2:] != "000000":
        parents.append(digits[:2] + "000000")
    return [(code, None) for code in parents if code != digits]


def _topic_chain(digits: str) -> list[tuple[str, str | None]]:
    topics = _topics()
    chain: list[tuple[str, str | None]] = []
    current = topics.get(digits)
    while current is not None and current[1] is not None and len(chain) < 10:
        parent = current[1]
        current = topics.get(parent)
        chain.append((parent, current[0] if current else None))
    return chain
