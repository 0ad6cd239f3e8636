"""What of a story gets tagged: its fields as plain text, split into paragraphs with a language each.

Mention offsets count characters in these plain texts: the headline, the
description, and the body as `body_text(body_html)` renders it (paragraphs
separated by a blank line). Outlet furniture ("Related: …" links, "Follow us on
…", age banners) is not the story's content and is never tagged.
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass
from typing import Literal

Field = Literal["headline", "description", "body"]

_BLOCK_END = re.compile(r"<(?:/p|br|/div|/h[1-6]|/li|/blockquote|/figcaption|/tr)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_FURNITURE = re.compile(
    r"^\s*(?:related\s*:|read more\b|see also\b|follow .{0,60}\bon (?:twitter|facebook|instagram|x)\b"
    r"|this (?:story|article) is (?:over|more than) \d+ \w+ old)",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

# The commonest function words of each language: enough to tell a French photo
# caption from English copy without a language-id model.
_FUNCTION_WORDS = {
    "en": "the of and to in a is that for on with as was by at from said it his he has have be are",
    "fr": "le la les de des du et un une est dans pour que qui sur au aux par avec pas ce il elle l d",
    "de": "der die das und ist nicht mit den dem ein eine zu von auf für sich des im auch",
    "es": "el la los las de del y en un una que por con para es se al lo su",
    "it": "il la le di del della e un una che per con non sono al nel gli",
    "pt": "o a os as de do da e um uma que em para com não no na por",
    "nl": "de het een en van is dat op te in met voor niet zijn ook",
}
# "a" is shared by en, es, pt and it: no evidence either way.
_STOPWORDS = {lang: set(words.split()) - {"a"} for lang, words in _FUNCTION_WORDS.items()}


@dataclass(frozen=True)
class Paragraph:
    field: Field
    start: int  # offset of the paragraph in its field's plain text
    text: str
    language: str
    skip: bool  # outlet furniture: not tagged
    title_case: bool  # headline-style capitalisation: NER over-fires here


def body_text(body_html: str) -> str:
    """The body's visible text, one paragraph per block, separated by a blank line."""
    if not body_html:
        return ""
    marked = _BLOCK_END.sub("\n\n", body_html)
    text = html.unescape(_TAG.sub("", marked))
    paragraphs = [" ".join(part.split()) for part in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


def guess_language(text: str, default: str) -> str:
    """The language whose function words dominate; too little evidence keeps `default`."""
    words = [w.lower() for w in _WORD.findall(text.replace("'", " ").replace("’", " "))]
    if len(words) < 5:
        return default
    scores = {lang: sum(w in stop for w in words) for lang, stop in _STOPWORDS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    # Names carry particles ("Joost van der Westhuizen", "Jean de la Fontaine"): a language
    # must own a real share of the words, not just outnumber the default's, to overrule it.
    if scores[best] < 3 or scores[best] < 0.15 * len(words) or scores[best] <= 2 * scores.get(default, 0):
        return default
    return best


def is_title_case(text: str) -> bool:
    words = [w for w in text.split() if w[:1].isalpha()]
    if len(words) < 3:
        return False
    capitalised = sum(w[0].isupper() for w in words)
    return capitalised / len(words) >= 0.75


_SENTENCE_END = (".", "!", "?", '"', ":", "'", ";")


def unwrap(text: str) -> str:
    """Hard-wrapped copy (old wire, e-mail: lines cut near a fixed width) with its wrapping
    line breaks turned into spaces; same length, so every offset still points into the
    original. A break stays after a short line (tables, lists, a paragraph's last line),
    after a sentence end, and before an indented or blank line."""
    lines = text.split("\n")
    lengths = sorted(len(line) for line in lines if line.strip())
    if len(lengths) < 3:
        return text
    width = lengths[int(0.9 * (len(lengths) - 1))]
    if not 50 <= width <= 90:
        return text  # one paragraph per line, or lines longer than any wrap width
    chars = list(text)
    position = 0
    for line, following in itertools.pairwise(lines):
        position += len(line)
        wraps = len(line) >= 0.75 * width or following[:1].islower()
        if wraps and following[:1].strip() and line.strip() and not line.rstrip().endswith(_SENTENCE_END):
            chars[position] = " "
        position += 1
    return "".join(chars)


def paragraphs(field: Field, text: str, language: str) -> list[Paragraph]:
    found = []
    # One paragraph per line: captions and furniture often sit on their own line without a blank one.
    for match in re.finditer(r"[^\n]+", text):
        chunk = match.group()
        if not chunk.strip():
            continue
        found.append(
            Paragraph(
                field=field,
                start=match.start(),
                text=chunk,
                language=guess_language(chunk, language),
                skip=bool(_FURNITURE.match(chunk)),
                title_case=field == "headline" or is_title_case(chunk),
            )
        )
    return found


def base_language(language: str | None) -> str:
    return (language or "en").split("-")[0].lower()
