"""Near-duplicate fingerprints: a bottom-k MinHash sketch over word shingles.

One hash per shingle, keep the k smallest: the k minima of the union of two
sketches are a uniform sample of the union of the two shingle sets, so the share
of them present in both sketches estimates the Jaccard similarity (standard
error about sqrt(J(1-J)/k), ±0.05 at k=64 around J=0.8). One hash per shingle
instead of k keeps it cheap enough for every story; 64 × 4 bytes is what the
index stores per story.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Iterable

SKETCH_SIZE = 64
DUPLICATE_JACCARD = 0.8  # "the same story from another source" (see notes: Related-story links)

Sketch = tuple[int, ...]


def _hash32(shingle: str) -> int:
    # Stable across processes and replicas (Python's hash() is salted per process).
    return int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=4).digest(), "big")


def sketch(shingle_set: Iterable[str], size: int = SKETCH_SIZE) -> Sketch:
    return tuple(sorted({_hash32(s) for s in shingle_set})[:size])


def jaccard(a: Sketch, b: Sketch, size: int = SKETCH_SIZE) -> float:
    """Estimated Jaccard similarity of the shingle sets behind two sketches."""
    if not a or not b:
        return 0.0
    in_a, in_b = set(a), set(b)
    union = sorted(in_a | in_b)[:size]
    last = union[-1]
    return sum(1 for h in in_a & in_b if h <= last) / len(union)


def encode(value: Sketch) -> str:
    return base64.b64encode(struct.pack(f">{len(value)}I", *value)).decode("ascii")


def decode(text: str) -> Sketch:
    raw = base64.b64decode(text)
    return struct.unpack(f">{len(raw) // 4}I", raw)
