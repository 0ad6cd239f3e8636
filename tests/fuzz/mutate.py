"""Byte mutations for the campaign (pure, seeded): what a broken or hostile partner sends.

Small edits of valid seeds reach deep into a parser (a field with the wrong type, a date
one digit off); the format's own words (`tokens`) and the values that broke things before
(huge integers, Unicode digits, lone surrogates, deep nesting) are spliced in.
"""

from __future__ import annotations

import json
import random

INTERESTING_BYTES = b"\x00\xff\x7f\x80\"'<>&\\{}[]:,\n\r\t -0123456789eE.+"


def mutate(rng: random.Random, data: bytes, corpus: list[bytes], tokens: list[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 4, 8))):
        op = rng.randrange(9)
        at = rng.randrange(len(out) + 1)
        if op == 0 and out:
            out[min(at, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and out:
            out[min(at, len(out) - 1)] = rng.choice(INTERESTING_BYTES)
        elif op == 2:
            out[at:at] = bytes([rng.choice(INTERESTING_BYTES)])
        elif op == 3 and out:
            out[at : at + rng.randrange(1, 16)] = b""
        elif op == 4 and tokens:
            out[at:at] = rng.choice(tokens)
        elif op == 5 and tokens and out:
            out[at : at + rng.randrange(1, 8)] = rng.choice(tokens)
        elif op == 6 and out:
            end = min(len(out), at + rng.randrange(1, 64))
            out[at:at] = out[at:end] * rng.randrange(1, 4)
        elif op == 7 and corpus:
            other = rng.choice(corpus)
            cut = rng.randrange(len(other) + 1)
            out = out[:at] + bytearray(other[cut:])
        elif op == 8:
            out[at:at] = rng.randbytes(rng.randrange(1, 8))
    return bytes(out[:200_000])


NINJS_KEYS = [
    "uri", "type", "version", "versioncreated", "firstcreated", "pubstatus", "embargoed", "expires",
    "urgency", "language", "headline", "headlines", "body_html", "body_text", "bodies", "description_text",
    "descriptions", "by", "byline", "located", "slugline", "genres", "subject", "subjects", "associations",
    "versionCreated", "firstCreated", "pubStatus", "embargoedUntil", "standard", "$standard", "value",
    "role", "contenttype", "contentType", "name", "code", "rel", "literal", "places", "people",
]  # fmt: skip


# JSON values that broke, or could break, a parser or what comes after it (integers too long
# for Python to read come in as byte tokens: json.dumps cannot write them either).
_VALUES: list[object] = [
        None, True, False, 0, -1, 1, 9, 10, 2**53, 2**53 + 1, 10**30, 10**200, 1e400, -1e400,
        float("nan"), 1.5, -0.0, "", " ", "²", "٣", "１", "\ud800", "\x00", "\x1b[2J", "javascript:alert(1)",
        "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "2024-02-30T00:00:00Z", "20240501T1000",
        "2024-05-01T10:00:00", "usable", "canceled", "withheld", "text/html", "text/plain", "<p>x</p>",
        "<script>alert(1)</script>", "x" * 5000, [], {}, [{}], {"value": 1}, {"version": "²"},
        {"role": "main", "value": None}, [[[[[[[[]]]]]]]],
]  # fmt: skip


def _values(rng: random.Random) -> object:
    return rng.choice(_VALUES)


def _deep(rng: random.Random) -> object:
    value: object = rng.choice([[], {}, "x"])
    for _ in range(rng.randrange(50, 3000)):
        value = [value] if rng.random() < 0.5 else {"value": value}
    return value


def _mutate_tree(rng: random.Random, value: object, depth: int = 0) -> object:
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        op = rng.randrange(6)
        if op == 0:
            return {k: v for k, v in value.items() if k != key}
        if op == 1:
            return {**value, rng.choice(NINJS_KEYS): _values(rng)}
        if op == 2:
            return {**value, key: _values(rng)}
        if op == 3 and depth > 0:
            return _values(rng)
        return {**value, key: _mutate_tree(rng, value[key], depth + 1)}
    if isinstance(value, list) and value and rng.random() < 0.8:
        at = rng.randrange(len(value))
        op = rng.randrange(4)
        if op == 0:
            return value[:at] + value[at + 1 :]
        if op == 1:
            return [*value, _values(rng)]
        return [*value[:at], _mutate_tree(rng, value[at], depth + 1), *value[at + 1 :]]
    if rng.random() < 0.02:
        return _deep(rng)
    return _values(rng)


def mutate_json(rng: random.Random, data: bytes, corpus: list[bytes], tokens: list[bytes]) -> bytes:
    """Mostly whole JSON documents with one part changed (a byte edit rarely stays JSON)."""
    if rng.random() < 0.3:
        return mutate(rng, data, corpus, tokens)
    lines = data.split(b"\n")
    at = rng.randrange(len(lines))
    try:
        tree = json.loads(lines[at])
    except (ValueError, RecursionError):
        return mutate(rng, data, corpus, tokens)
    for _ in range(rng.choice((1, 1, 2, 3))):
        tree = _mutate_tree(rng, tree)
    try:
        text = json.dumps(tree, ensure_ascii=rng.random() < 0.5)
    except (ValueError, RecursionError):
        return mutate(rng, data, corpus, tokens)
    lines[at] = text.encode("utf-8", "surrogatepass")
    return b"\n".join(lines)
