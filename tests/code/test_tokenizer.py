"""Tokenizer behaviour, and parity between the Lambda's port and NLTK on generated text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ml import lambda_src, preprocess

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


@given(st.text(alphabet=st.characters(categories=["L", "N", "Zs"]), max_size=60))
def test_tokens_ignore_case_and_extra_whitespace(text: str) -> None:
    assert tt.tokenize(text.upper()) == tt.tokenize(text.lower())
    assert tt.tokenize("  " + "   ".join(text.split()) + "\n") == tt.tokenize(text)


def test_trailing_punctuation_does_not_change_tokens() -> None:
    base = "The red fox is a mammal"
    assert all(tt.tokenize(base + end) == tt.tokenize(base) for end in (".", "!", "?", " .", "...", "!?"))
