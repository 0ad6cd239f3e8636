"""Words of a story for lexical matching: plain text, tokens, shingles.

Deliberately simple and language-agnostic beyond a small English stop list:
the index compares stories with each other, so consistency matters more than
linguistic finesse, and it must stay fast (it runs for every story).
"""

from __future__ import annotations

import html
import re
from collections import Counter

from shared.story import Story

_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

# Wire copy is dominated by these; they say nothing about what a story is about.
_STOP_LIST = """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over own
    said same says she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves mr mrs ms per pct mln bln billion
    million year years week weeks day days today yesterday tomorrow monday tuesday wednesday thursday
    friday saturday sunday since told however new one two three four five six seven eight nine ten
    reuter reuters ap afp dpa inc corp co ltd last first next may might must us u s vs cts dlrs dlr
"""
STOPWORDS = frozenset(_STOP_LIST.split())

HEADLINE_WEIGHT = 2  # a headline word counts as much as two body mentions
# Figures are event cues ("16 servicemen", "4,790,000 units", "1994 truce"): two reports
# of one event repeat them, two similar stories on different events rarely do.
_NUMBER = re.compile(r"(?<![\w.,])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w,])|(?<![\w.,])\d+(?:\.\d+)?(?![\w])")
NUMBER_PREFIX = "#"  # number terms; words never contain '#' (see words)


def copy_text(story: Story) -> str:
    """Standfirst and body as plain text (markup dropped)."""
    body = html.unescape(_TAG.sub(" ", story.body_html))
    return "\n".join(part for part in (story.description, body) if part)


def plain_text(story: Story) -> str:
    """Headline, standfirst and body as one plain string."""
    return "\n".join(part for part in (story.headline, copy_text(story)) if part)


def headline_overlap(a: str, b: str) -> float:
    """Jaccard similarity of two headlines' terms."""
    ta, tb = set(terms(words(a))), set(terms(words(b)))
    return len(ta & tb) / len(ta | tb) if ta and tb else 0.0


def words(text: str) -> list[str]:
    """Lower-cased words, possessives folded (Azerbaijan's → azerbaijan)."""
    out = []
    for match in _WORD.finditer(text.casefold()):
        word = match.group(0).replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        out.append(word)
    return out


def normalise_term(word: str) -> str:
    """A light plural fold so 'ceasefires' and 'ceasefire' meet; nothing fancier."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def terms(word_list: list[str]) -> list[str]:
    return [
        normalise_term(w)
        for w in word_list
        if len(w) > 1 and w not in STOPWORDS and not w.isdigit() and not w[0].isdigit()
    ]


def numbers(text: str) -> list[str]:
    """Figures of two or more digits as number terms ("4,790,000" → "#4790000")."""
    out = []
    for match in _NUMBER.finditer(text):
        digits = match.group(0).replace(",", "")
        if len(digits.replace(".", "")) >= 2:
            out.append(NUMBER_PREFIX + digits)
    return out


def term_counts(story: Story) -> Counter[str]:
    """Term frequencies over headline (weighted) + standfirst + body, figures included."""
    plain = plain_text(story)
    counts = Counter(terms(words(plain)))
    counts.update(numbers(plain))
    for term in set(terms(words(story.headline))):
        counts[term] += HEADLINE_WEIGHT - 1
    return counts


def shingles(word_list: list[str], size: int = 4) -> set[str]:
    """Overlapping word n-grams over *all* words: copy-level identity, stop words included."""
    if len(word_list) < size:
        return {" ".join(word_list)} if word_list else set()
    return {" ".join(word_list[i : i + size]) for i in range(len(word_list) - size + 1)}
