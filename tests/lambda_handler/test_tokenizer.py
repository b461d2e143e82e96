"""Tokenizer behaviour, parity between the Lambda's port and NLTK on generated text, and the fast tokenizer
against the straightforward one it replaced (``ops/bench/reference_tokenizer.py``) on arbitrary text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ml import lambda_src, preprocess
from ops.bench import reference_tokenizer as oracle

tt = lambda_src.text_tokenizer()

# Text with the characters that drive the tokenizer's rules: quotes, apostrophes, periods, brackets,
# dashes, contractions, accents and non-Latin letters, plus anything else Unicode offers.
tricky = st.lists(
    st.one_of(
        st.sampled_from(list("abcdnotsyeimlrvwhAZ '\"`.,:;!?()[]{}<>-–—…«»“”‘’$%&@#*_/\\0123456789\t\n")),
        st.sampled_from(
            [
                "can",
                "not",
                "n't",
                "'ll",
                "'re",
                "gonna",
                "wanna",
                "'tis",
                "d'ye",
                "İ",
                "ı",
                "ſ",
                "K",
                "é",
                "ñ",
                "ß",
                "ﬁ",
                "²",
                "٣",
                "Σ",
                "ا",
                "中",
                "\u0301",
                "\u200d",
            ]
        ),
        st.characters(),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tricky)
@example("Walter said \"can't\" -- 'tis (U.S.A.) ... done.")
def test_stdlib_port_matches_nltk_on_generated_text(text: str) -> None:
    assert tt.tokenize(text) == preprocess.tokenize(text)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        (
            "Walter Johnson was a pitcher. He played.",
            ["walter", "johnson", "was", "a", "pitcher", "he", "played"],
        ),
        ("Poznań ĲSSEL café", ["poznan", "ijssel", "cafe"]),
        ("It can't be (U.S.A.) now", ["it", "ca", "n't", "be", "u.s.a.", "now"]),
        ("21-year career, 1907–1927!", ["00-year", "career", "0000", "0000"]),
        ("Apollo 11 and the B-52 (٣ of them)", ["apollo", "00", "and", "the", "b-00", "0", "of", "them"]),
        ("!!! ... ???", []),
    ],
)
def test_tokenize_examples(text: str, tokens: list[str]) -> None:
    assert tt.tokenize(text) == tokens


# One example per rule of ``normalize`` and ``finish``. Training and serving share both, so the parity
# test above cannot see a change to either: each row fails when its one rule changes.
@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        pytest.param("STRAßE", ["strasse"], id="case-folded, not only lower-cased"),
        pytest.param("ﬁre Ａｐｏｌｌｏ", ["fire", "apollo"], id="compatibility decomposition (NFKD)"),
        pytest.param("café Poznań", ["cafe", "poznan"], id="accents (combining marks) dropped"),
        pytest.param("Kırklareli", ["kirklareli"], id="dotless i folded to i"),
        pytest.param("東京 Σίσυφος", ["東京", "σισυφοσ"], id="letters of any script kept"),
        pytest.param("١٩٨٥", ["0000"], id="decimal digits of any script kept, as 0"),
        pytest.param("௰ river", ["river"], id="other numbers are spaces"),
        pytest.param("a·b", ["a", "b"], id="non-ASCII punctuation is a space"),
        pytest.param("B-52 u.s.a. army", ["b-00", "u.s.a.", "army"], id="ASCII punctuation kept"),
        pytest.param("river\u200dbank🌊delta", ["river", "bank", "delta"], id="anything else is a space"),
        pytest.param("the pitcher. He", ["the", "pitcher", "he"], id="final period split off"),
        pytest.param("Plan a. Then", ["plan", "a", "then"], id="final period split off a one-letter word"),
        pytest.param("the U.S. army", ["the", "u.s.", "army"], id="no split in an abbreviation"),
        pytest.param("yes -- no ; ( ok ) ...", ["yes", "no", "ok"], id="punctuation-only tokens dropped"),
        pytest.param("it's", ["it", "'s"], id="a token with one letter kept"),
        pytest.param("1985 AD", ["0000", "ad"], id="every digit written 0"),
    ],
)
def test_each_normalize_and_finish_rule(text: str, tokens: list[str]) -> None:
    assert tt.tokenize(text) == tokens


def test_normalize_collapses_white_space() -> None:
    assert tt.normalize(" a\t\n\u00a0 b  ") == "a b"


@given(st.text(alphabet=st.characters(categories=["L", "N", "Zs"]), max_size=60))
def test_tokens_ignore_case_and_extra_whitespace(text: str) -> None:
    assert tt.tokenize(text.upper()) == tt.tokenize(text.lower())
    assert tt.tokenize("  " + "   ".join(text.split()) + "\n") == tt.tokenize(text)


def test_trailing_punctuation_does_not_change_tokens() -> None:
    base = "The red fox is a mammal"
    assert all(tt.tokenize(base + end) == tt.tokenize(base) for end in (".", "!", "?", " .", "...", "!?"))


# --- the fast tokenizer against the oracle: the same output on any text ---------------------------------
any_text = st.one_of(tricky, st.text(max_size=80), st.text(st.characters(codec="utf-8"), max_size=300))


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
@example("x 'TIS gonna İt ſo WANNA can\u0131 d'YE More'N 't was 'twas")
@example("a. b.. \"c\" ''d'' (e.) f . \n")
@example("")
@example(" \t ")
def test_fast_tokenizer_equals_the_oracle(text: str) -> None:
    assert tt.normalize(text) == oracle.normalize(text)
    assert tt.word_tokenize(text) == oracle.word_tokenize(text)
    assert tt.word_tokenize(tt.normalize(text)) == oracle.word_tokenize(oracle.normalize(text))
    assert tt.finish(text.split()) == oracle.finish(text.split())
    assert tt.tokenize(text) == oracle.tokenize(text)


def test_character_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A text of many distinct characters is normalized correctly without growing the table past its bound."""
    table = type(tt._NORMALIZE)(zero_digits=False)
    monkeypatch.setattr(tt, "_NORMALIZE", table)
    monkeypatch.setattr(tt, "_TABLE_MAX", 100)
    text = "".join(chr(c) for c in range(0x20, 0x3000))
    assert tt.normalize(text) == oracle.normalize(text)
    assert len(table) == 100
