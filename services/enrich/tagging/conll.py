"""CoNLL-2003 documents rebuilt as the running service sees text: for training and measuring only.

The corpus is pre-tokenised ("U.S. 's", "do n't", "( Reuters )"). A model trained
or measured on those tokens joined by spaces learns a text that no wire partner
sends, so each document is rebuilt with ordinary spacing and one sentence per line,
and every gold entity becomes a character span in that text. The service never
imports this module at run time; the corpus itself stays in ../shared.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

# Tokens written without a space before them in running text.
_NO_SPACE_BEFORE = {",", ".", ":", ";", "!", "?", ")", "]", "}", "%", "'s", "'S", "n't", "N'T"}
_NO_SPACE_BEFORE |= {"'re", "'ve", "'ll", "'d", "'m", "'"}
# Tokens written without a space after them.
_NO_SPACE_AFTER = {"(", "[", "{", "$"}

LABELS = ("PER", "ORG", "LOC", "MISC")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str


@dataclass
class Document:
    text: str
    entities: list[Span] = field(default_factory=list)

    def surface(self, span: Span) -> str:
        return self.text[span.start : span.end]


def _sentences(lines: list[str]) -> list[list[tuple[str, str]]]:
    sentences: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in lines:
        parts = line.split()
        if not parts:
            if current:
                sentences.append(current)
                current = []
            continue
        current.append((parts[0], parts[-1]))
    if current:
        sentences.append(current)
    return sentences


def rebuild(sentences: list[list[tuple[str, str]]]) -> Document:
    """One document's sentences (token, IOB1 tag) → running text with character spans."""
    pieces: list[str] = []
    entities: list[Span] = []
    length = 0
    for number, sentence in enumerate(sentences):
        if number:
            pieces.append("\n")
            length += 1
        open_label: str | None = None
        open_start = 0
        previous: str | None = None
        quote_open = False
        for token, tag in sentence:
            spaced = (
                previous is not None and token not in _NO_SPACE_BEFORE and previous not in _NO_SPACE_AFTER
            )
            if token == '"':
                # Straight quotes alternate: the opening one hugs the next word, the closing one the last.
                spaced = spaced and not quote_open
                quote_open = not quote_open
            elif previous == '"' and quote_open:
                spaced = False
            prefix, _, label = tag.partition("-")
            # IOB1: B- only separates two adjacent entities of the same type.
            if open_label is not None and (label != open_label or prefix == "B"):
                entities.append(Span(open_start, length, open_label))
                open_label = None
            if spaced:
                pieces.append(" ")
                length += 1
            if label and open_label is None:
                open_label, open_start = label, length
            pieces.append(token)
            length += len(token)
            previous = token
        if open_label is not None:
            entities.append(Span(open_start, length, open_label))
    return Document("".join(pieces), entities)


def read_documents(path: Path) -> list[Document]:
    """Every `-DOCSTART-`-separated document of a CoNLL-2003 file, rebuilt."""
    documents: list[Document] = []
    block: list[str] = []
    for line in [*path.read_text(encoding="utf-8").splitlines(), "-DOCSTART-"]:
        if line.startswith("-DOCSTART-"):
            sentences = _sentences(block)
            if sentences:
                documents.append(rebuild(sentences))
            block = []
        else:
            block.append(line)
    return documents


# The untouched split (issue 17): eng.train documents that no model is trained or stopped on
# and no rule or threshold is chosen by reading; bench/tagger.py reports them beside eng.testa,
# the development split. Fixed by seed and count so every run draws the same documents.
UNTOUCHED_SEED = 17
UNTOUCHED_DOCUMENTS = 150


def split_untouched(documents: list[Document]) -> tuple[list[Document], list[Document]]:
    """(the rest, the untouched split) of eng.train's documents, in their file order."""

    chosen = set(random.Random(UNTOUCHED_SEED).sample(range(len(documents)), UNTOUCHED_DOCUMENTS))
    rest = [d for i, d in enumerate(documents) if i not in chosen]
    return rest, [d for i, d in enumerate(documents) if i in chosen]
