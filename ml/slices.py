"""Evaluation slices that look like what people type into the page, built from the test split's raw rows.

- ``title``: the title alone (often a name: "Walter Johnson");
- ``first_sentence``: the first sentence of the content (how people describe a thing);
- ``short``: that first sentence cut to at most 8 tokens (what people type first: issue 28's slice);
- ``content``: the content without the title.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from ml.data import Row

SHORT_TOKENS = 8
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def first_sentence(content: str) -> str:
    """The content up to its first sentence end (the whole content when it has none)."""
    return _SENTENCE_END.split(content.strip(), maxsplit=1)[0]


def real_texts(rows: Iterable[Row]) -> dict[str, list[str]]:
    """The five ways a real row can arrive: titled, untitled abstract, first sentence, first words, title."""
    groups: dict[str, list[str]] = {"titled abstract": [], "untitled abstract": [], "first sentence": []}
    groups[f"first {SHORT_TOKENS} words"] = []
    groups["title alone"] = []
    for row in rows:
        sentence = first_sentence(row.content)
        groups["titled abstract"].append(row.text)
        groups["untitled abstract"].append(row.content)
        groups["first sentence"].append(sentence)
        groups[f"first {SHORT_TOKENS} words"].append(" ".join(sentence.split()[:SHORT_TOKENS]))
        groups["title alone"].append(row.title)
    return groups


def slice_texts(rows: list[Row], tokenize: Callable[[str], list[str]]) -> dict[str, list[str]]:
    """Token strings of every slice, one per row (a row whose slice has no tokens gives an empty string)."""
    slices: dict[str, list[str]] = {"title": [], "first_sentence": [], "short": [], "content": []}
    for row in rows:
        sentence = tokenize(first_sentence(row.content))
        slices["title"].append(" ".join(tokenize(row.title)))
        slices["first_sentence"].append(" ".join(sentence))
        slices["short"].append(" ".join(sentence[:SHORT_TOKENS]))
        slices["content"].append(" ".join(tokenize(row.content)))
    return slices
