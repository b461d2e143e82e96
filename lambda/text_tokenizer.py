"""Text → tokens, exactly as training tokenizes, with the standard library only.

Three steps, shared by training (``ml/preprocess.py``) and serving (this Lambda):

1. ``normalize``: case-fold, strip accents (NFKD, combining marks dropped), keep letters, decimal digits
   and ASCII punctuation, turn everything else into a space, collapse white space. This also restricts
   the alphabet to characters on which Python's ``re`` and the ``regex`` engine NLTK uses agree.
2. word tokenization: training calls NLTK's ``NLTKWordTokenizer`` (the word half of ``word_tokenize``);
   ``word_tokenize`` below is a stdlib port of it (NLTK 3.10, Apache License 2.0). Tests prove both give
   the same tokens on every row of the data and on generated text.
3. ``finish``: split a sentence-final period off a word (the job NLTK's punkt sentence splitter would do,
   whose data cannot be downloaded here), drop tokens that hold no letter or digit, and write every digit
   as ``0`` (``1985`` → ``0000``: the shape of a number says more than its value; measured in
   docs/tokenization.md).

Speed (the Lambda and bulk classification tokenize every text; docs/tokenization.md has the figures):
``normalize`` maps each character once, through a table filled on first sight (``str.translate``), since
case folding and NFKD act on each character alone and the only characters NFKD reorders are combining
marks, which are dropped; ``word_tokenize`` skips each rule whose characters the text does not hold; digits
are written ``0`` before word tokenization, as no rule tells one digit from another. The straightforward
version is kept as the test oracle (``ops/bench/reference_tokenizer.py``), and a property test
proves both equal on arbitrary text.
"""

from __future__ import annotations

import re
import string
import unicodedata
from typing import NamedTuple

SCHEME = "nfkd-lower-nltkword-digits0-v2"
"""Name of this tokenization, recorded in the model's manifest; change it when the output changes."""

_KEEP_PUNCT = frozenset(string.punctuation)
_FOLD = {"ı": "i"}  # dotless i: re's IGNORECASE treats it as "i", so fold it before matching
_TABLE_MAX = 1 << 16  # characters a table remembers: bounded memory whatever text a caller sends


class _CharTable(dict[int, str]):
    """What ``normalize`` makes of each character (by code point), worked out the first time it is seen.

    Case folding and NFKD act on each character alone; NFKD also reorders combining marks, which are
    dropped here, so mapping character by character equals normalizing the whole text.
    """

    def __init__(self, zero_digits: bool) -> None:
        super().__init__()
        self.zero_digits = zero_digits

    def __missing__(self, code: int) -> str:
        out = []
        for ch in unicodedata.normalize("NFKD", chr(code).casefold()):
            ch = _FOLD.get(ch, ch)
            category = unicodedata.category(ch)
            if category[0] == "M":
                continue
            if category == "Nd":
                out.append("0" if self.zero_digits else ch)
            else:
                out.append(ch if ch.isalpha() or ch in _KEEP_PUNCT else " ")
        mapped = "".join(out)
        if len(self) < _TABLE_MAX:
            self[code] = mapped
        return mapped


_NORMALIZE = _CharTable(zero_digits=False)
_NORMALIZE_ZEROS = _CharTable(zero_digits=True)  # tokenize writes digits as 0 here, not token by token


def normalize(text: str) -> str:
    """Case-fold, strip accents and unusual characters, and collapse white space."""
    return " ".join(text.translate(_NORMALIZE).split())


# --- step 2: port of nltk.tokenize.destructive.NLTKWordTokenizer.tokenize ----------------------------
class Rule(NamedTuple):
    """One substitution of NLTK's, and when it can be skipped."""

    pattern: re.Pattern[str]
    substitution: str
    needs: tuple[str, ...] = ()  # the text must hold one of these for the pattern to match (empty: always)
    # the pattern can only match at the text's last period (one character before it): run it on that tail
    at_last_period: bool = False


_STARTING_QUOTES = [
    Rule(re.compile("([«“‘„]|[`]+)"), r" \1 ", ("«", "“", "‘", "„", "`")),
    Rule(re.compile(r"^\""), r"``", ('"',)),
    Rule(re.compile(r"(``)"), r" \1 ", ("``",)),
    Rule(re.compile(r"([ \(\[{<])(\"|\'{2})"), r"\1 `` ", ('"', "''")),
    Rule(re.compile(r"(?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w)"), r"\1 ", ("'",)),
]
_PUNCTUATION = [
    Rule(re.compile(r'([^\.])(\.)([\]\)}>"\'' "»”’ " r"]*+)\s*$"), r"\1 \2 \3 ", (".",), True),
    Rule(re.compile(r"([:,])([^\d])"), r" \1 \2", (":", ",")),
    Rule(re.compile(r"([:,])$"), r" \1 ", (":", ",")),
    Rule(re.compile(r"\.{2,}"), r" \g<0> ", ("..",)),
    Rule(re.compile(r"[;@#$%&]"), r" \g<0> ", tuple(";@#$%&")),
    Rule(re.compile(r"[\u2012-\u2015]"), r" \g<0> ", ("\u2012", "\u2013", "\u2014", "\u2015")),
    Rule(re.compile(r'([^\.])(\.)([\]\)}>"\']*)\s*$'), r"\1 \2\3 ", (".",), True),
    Rule(re.compile(r"[?!]"), r" \g<0> ", ("?", "!")),
    Rule(re.compile(r"([^'])' "), r"\1 ' ", ("' ",)),
    Rule(re.compile(r"[*]"), r" \g<0> ", ("*",)),
]
_PARENS_BRACKETS = Rule(re.compile(r"[\]\[\(\)\{\}\<\>]"), r" \g<0> ", tuple("[](){}<>"))
_DOUBLE_DASHES = Rule(re.compile(r"--"), r" -- ", ("--",))
_ENDING_QUOTES = [
    Rule(re.compile("([»”’])"), r" \1 ", ("»", "”", "’")),
    Rule(re.compile(r"''"), " '' ", ("''",)),
    Rule(re.compile(r'"'), " '' ", ('"',)),
]
# NLTK's next rule, (re.compile(r"\s+"), " "), is ``_collapse``; then its last two ending-quote rules:
_CLITICS = [
    Rule(re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 ", ("'",)),
    Rule(re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 ", ("'",)),
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
# Every contraction above holds one of these words, matched ignoring case. Besides ASCII letters, the only
# characters re's IGNORECASE matches to their letters are ı, İ (i) and ſ (s): without those, the words can
# be looked for in the lower-cased text, much faster than by a case-insensitive search.
_CONTRACTION_WORDS = (
    "cannot",
    "d'ye",
    "gimme",
    "gonna",
    "gotta",
    "lemme",
    "more'n",
    "wanna",
    "'tis",
    "'twas",
)
_ANY_CONTRACTION = re.compile("(?i)" + "|".join(_CONTRACTION_WORDS))
_CASE_SPECIALS = ("ı", "İ", "ſ")


def _apply(rules: list[Rule], text: str) -> str:
    for pattern, substitution, needs, at_last_period in rules:
        for needed in needs:
            if needed in text:
                break
        else:
            if needs:
                continue
        if at_last_period:  # the match, if any, starts one character before the last period
            start = text.rfind(".") - 1
            if start >= 0:
                text = text[:start] + pattern.sub(substitution, text[start:])
        else:
            text = pattern.sub(substitution, text)
    return text


def _collapse(text: str) -> str:
    """``re.sub(r"\\s+", " ", text)`` for a text that starts and ends with white space (str.split's white
    space is re's ``\\s``)."""
    words = text.split()
    return " " + " ".join(words) + " " if words else " "


def _has_contraction(text: str) -> bool:
    if any(special in text for special in _CASE_SPECIALS):
        return _ANY_CONTRACTION.search(text) is not None
    lowered = text.lower()
    return any(word in lowered for word in _CONTRACTION_WORDS)


def word_tokenize(text: str) -> list[str]:
    """Split text into words and punctuation the way ``nltk.tokenize.NLTKWordTokenizer`` does."""
    text = _apply(_ENDING_QUOTES, " " + _apply(_BEFORE_PADDING, text) + " ")
    text = _apply(_CLITICS, _collapse(text))
    if _has_contraction(text):
        for pattern in _CONTRACTIONS:
            text = pattern.sub(r" \1 \2 ", text)
    return text.split()


# --- step 3 ---------------------------------------------------------------------------------------------
_DIGIT = re.compile(r"\d")
_ALNUM = re.compile(r"[^\W_]")  # a letter or digit of any script: a character str.isalnum accepts


def _words(tokens: list[str]) -> list[str]:
    """``finish`` but for the digits: split a final period off words and drop punctuation-only tokens."""
    out = []
    for token in tokens:
        if not token.isalnum():  # most tokens are words: nothing to do
            if len(token) > 1 and token[-1] == "." and token.count(".") == 1:
                token = token[:-1]
            if not _ALNUM.search(token):
                continue
        out.append(token)
    return out


def finish(tokens: list[str]) -> list[str]:
    """Split a final period off words ("pitcher." → "pitcher"), drop punctuation-only tokens, digits → 0."""
    return [_DIGIT.sub("0", token) for token in _words(tokens)]


def tokenize(text: str) -> list[str]:
    """The serving-side tokenizer: ``finish(word_tokenize(normalize(text)))``.

    Digits are written 0 while normalizing, which gives the same tokens: no rule of ``word_tokenize`` or
    ``finish`` tells one digit from another.
    """
    return _words(word_tokenize(" ".join(text.translate(_NORMALIZE_ZEROS).split())))
