"""The tokenizer as it was before it was made faster (commit 6fb0ca3), kept unchanged: the reference.

Two uses. ``tests/lambda_handler/test_tokenizer.py`` checks that ``lambda/text_tokenizer.py`` gives exactly
these outputs on arbitrary text (the straightforward version, one ``unicodedata`` call per character and
every regular expression of NLTK's port run on every text, is the specification); ``invoke bench``
measures both on the same texts for the tokenizer's speed goal (``ops/bench/speed.py``).
"""

from __future__ import annotations

import re
import string
import unicodedata

_KEEP_PUNCT = frozenset(string.punctuation)
_FOLD = {"ı": "i"}  # dotless i: re's IGNORECASE treats it as "i", so fold it before matching


def normalize(text: str) -> str:
    """Case-fold, strip accents and unusual characters, and collapse white space."""
    out = []
    for ch in unicodedata.normalize("NFKD", text.casefold()):
        ch = _FOLD.get(ch, ch)
        category = unicodedata.category(ch)
        if category[0] == "M":
            continue
        out.append(ch if ch.isalpha() or category == "Nd" or ch in _KEEP_PUNCT else " ")
    return " ".join("".join(out).split())


# --- step 2: port of nltk.tokenize.destructive.NLTKWordTokenizer.tokenize ----------------------------
_STARTING_QUOTES = [
    (re.compile("([«“‘„]|[`]+)"), r" \1 "),
    (re.compile(r"^\""), r"``"),
    (re.compile(r"(``)"), r" \1 "),
    (re.compile(r"([ \(\[{<])(\"|\'{2})"), r"\1 `` "),
    (re.compile(r"(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)"), r"\1 "),
]
_PUNCTUATION = [
    (re.compile(r'([^\.])(\.)([\]\)}>"\'' "»”’ " r"]*+)\s*$"), r"\1 \2 \3 "),
    (re.compile(r"([:,])([^\d])"), r" \1 \2"),
    (re.compile(r"([:,])$"), r" \1 "),
    (re.compile(r"\.{2,}"), r" \g<0> "),
    (re.compile(r"[;@#$%&]"), r" \g<0> "),
    (re.compile(r"[\u2012-\u2015]"), r" \g<0> "),
    (re.compile(r'([^\.])(\.)([\]\)}>"\']*)\s*$'), r"\1 \2\3 "),
    (re.compile(r"[?!]"), r" \g<0> "),
    (re.compile(r"([^'])' "), r"\1 ' "),
    (re.compile(r"[*]"), r" \g<0> "),
]
_PARENS_BRACKETS = (re.compile(r"[\]\[\(\)\{\}\<\>]"), r" \g<0> ")
_DOUBLE_DASHES = (re.compile(r"--"), r" -- ")
_ENDING_QUOTES = [
    (re.compile("([»”’])"), r" \1 "),
    (re.compile(r"''"), " '' "),
    (re.compile(r'"'), " '' "),
    (re.compile(r"\s+"), " "),
    (re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 "),
    (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 "),
]
_BEFORE_PADDING = [*_STARTING_QUOTES, *_PUNCTUATION, _PARENS_BRACKETS, _DOUBLE_DASHES]
_CONTRACTIONS = [
    re.compile(p)
    for p in (
        r"(?i)\b(can)(?#X)(not)\b",
        r"(?i)\b(d)(?#X)('ye)\b",
        r"(?i)\b(gim)(?#X)(me)\b",
        r"(?i)\b(gon)(?#X)(na)\b",
        r"(?i)\b(got)(?#X)(ta)\b",
        r"(?i)\b(lem)(?#X)(me)\b",
        r"(?i)\b(more)(?#X)('n)\b",
        r"(?i)\b(wan)(?#X)(na)(?=\s)",
        r"(?i) ('t)(?#X)(is)\b",
        r"(?i) ('t)(?#X)(was)\b",
    )
]


def word_tokenize(text: str) -> list[str]:
    """Split text into words and punctuation the way ``nltk.tokenize.NLTKWordTokenizer`` does."""
    for regexp, substitution in _BEFORE_PADDING:
        text = regexp.sub(substitution, text)
    text = " " + text + " "
    for regexp, substitution in _ENDING_QUOTES:
        text = regexp.sub(substitution, text)
    for regexp in _CONTRACTIONS:
        text = regexp.sub(r" \1 \2 ", text)
    return text.split()


# --- step 3 ---------------------------------------------------------------------------------------------
_DIGIT = re.compile(r"\d")


def finish(tokens: list[str]) -> list[str]:
    """Split a final period off words ("pitcher." → "pitcher"), drop punctuation-only tokens, digits → 0."""
    out = []
    for token in tokens:
        if len(token) > 1 and token.endswith(".") and "." not in token[:-1]:
            token = token[:-1]
        if any(ch.isalnum() for ch in token):
            out.append(_DIGIT.sub("0", token))
    return out


def tokenize(text: str) -> list[str]:
    """The serving-side tokenizer: ``finish(word_tokenize(normalize(text)))``."""
    return finish(word_tokenize(normalize(text)))
