"""How much a story is about an entity, in [0, 1]: headline, lede, frequency, first position.

Weights follow what editors do by hand: a name in the headline nearly always
earns a tag, one in the lede usually does, a name met once near the end rarely
matters. Mentions only inferred (a demonym, a non-English caption) count less.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADLINE, LEDE, FREQUENCY, POSITION = 0.35, 0.2, 0.3, 0.15
FREQUENCY_SATURATION = 4  # mentions after which frequency adds nothing more
INFERRED_ONLY = 0.6


@dataclass(frozen=True)
class Seen:
    in_headline: bool
    in_lede: bool
    position: float  # 0 = start of the story, 1 = end
    inferred: bool  # demonym or KB-only match in a non-English paragraph


def relevance(seen: list[Seen]) -> float:
    if not seen:
        return 0.0
    value = (
        HEADLINE * any(s.in_headline for s in seen)
        + LEDE * any(s.in_lede for s in seen)
        + FREQUENCY * min(1.0, len(seen) / FREQUENCY_SATURATION)
        + POSITION * (1.0 - min(s.position for s in seen))
    )
    if all(s.inferred for s in seen):
        value *= INFERRED_ONLY
    return round(min(1.0, max(0.0, value)), 3)
