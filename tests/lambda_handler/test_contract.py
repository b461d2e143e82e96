"""The Lambda's wire contract (lambda/contract.py): what its builders write, its parsers read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ml.lambda_src import LAMBDA_DIR

import contract

INSTANCES = st.lists(st.text(max_size=30), min_size=1, max_size=20)
N_LABELS = 14  # a model's class count, as the caller passes it (DBPedia's here)
K = st.integers(1, N_LABELS)


@given(instances=INSTANCES, k=K)
def test_what_the_json_builder_writes_the_parser_reads_back(instances: list[str], k: int) -> None:
    body = contract.json_request(instances, k).encode()
    assert contract.parse_json_request(body, N_LABELS, 1000) == (instances, k)


@given(instances=INSTANCES, k=K)
@example(instances=["a\x85b\u2028c"], k=1)  # written as they are: line breaks to splitlines, not here
def test_what_the_json_lines_builder_writes_the_parser_reads_back(instances: list[str], k: int) -> None:
    body = contract.jsonlines_request(instances, k)
    assert contract.parse_jsonlines_request(body, N_LABELS, 1000) == [(i, k) for i in instances]


def test_the_builders_write_blazingtext_s_formats() -> None:
    assert json.loads(contract.json_request(["a river"], 2)) == {
        "instances": ["a river"],
        "configuration": {"k": 2},
    }
    assert (
        contract.jsonlines_request(["a river", "é"], 1)
        == '{"source": "a river", "k": 1}\n{"source": "é", "k": 1}\n'.encode()
    )


@pytest.mark.parametrize(
    ("k", "valid"),
    [
        (1, True),
        (N_LABELS, True),
        (0, False),
        (N_LABELS + 1, False),
        (True, False),
        ("2", False),
        (2.0, False),
    ],
)
def test_k_is_an_integer_from_1_to_the_class_count(k: Any, valid: bool) -> None:
    assert contract.valid_k(k, N_LABELS) is valid


def test_a_prediction_reads_as_labels_without_the_prefix_and_rounded_probabilities() -> None:
    prediction = {"label": ["__label__Athlete", "__label__Film"], "prob": [0.91234567, 0.05]}
    expected = [{"label": "Athlete", "probability": 0.912346}, {"label": "Film", "probability": 0.05}]
    assert contract.read_prediction(prediction) == expected
    assert contract.read_answer([prediction, {"label": [], "prob": []}]) == expected


@pytest.mark.parametrize(
    ("token", "label"),
    [
        ("Science%20Fiction", "Science Fiction"),
        ("100%25%20sport", "100% sport"),
        ("%5F_label__x", "__label__x"),
    ],
)
def test_a_prediction_reads_as_the_users_labels_not_the_model_tokens(token: str, label: str) -> None:
    """BlazingText answers a token (ml/labels.py); the contract gives back the label the user wrote."""
    prediction = {"label": [contract.LABEL_PREFIX + token], "prob": [1.0]}
    assert contract.read_prediction(prediction) == [{"label": label, "probability": 1.0}]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ([], "unreadable answer"),
        ({"label": ["x"], "prob": [1]}, "unreadable answer"),
        ("[]", "unreadable answer"),
        ([{"label": ["x"]}], "unreadable answer"),
        ([{"label": ["x", "y"], "prob": [0.5]}], "unreadable answer"),
        ([{"label": ["x"], "prob": ["high"]}], "unreadable answer"),
        ([{"label": [], "prob": []}], "returned no prediction"),
    ],
)
def test_an_answer_that_breaks_the_contract_is_a_value_error_saying_why(answer: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        contract.read_answer(answer)


def test_the_vocabulary_text_reads_back_as_the_same_words_and_rule() -> None:
    weights = {"river": -1.25, "__q": 2.5, "def": 0.75}
    words = contract.Vocabulary(frozenset({"river", "film"}), frozenset({"the", "is"}), weights, 0.125)
    header, *lines = contract.vocabulary_text(words, "ab" * 32, "scheme-v1").splitlines()
    assert header == f"{contract.VOCABULARY_FORMAT} model-sha256={'ab' * 32} tokenizer=scheme-v1"
    assert lines[-1] == "threshold 0.125" and "weight __q 2.5" in lines
    assert contract.read_vocabulary(lines) == words
    without_rule = contract.Vocabulary(words.topical, words.common)
    lines = contract.vocabulary_text(without_rule, "ab" * 32, "scheme-v1").splitlines()[1:]
    assert lines == sorted(lines) and contract.read_vocabulary(lines) == without_rule
    for bad in ("film", "weight river high", "threshold", "weight"):
        with pytest.raises(ValueError, match=f"line {bad!r}"):
            contract.read_vocabulary(["topical river", bad])


def test_the_learned_rule_reads_tokens_and_the_marks_the_tokens_lose() -> None:
    assert contract.features("Can I help?", ["can", "i", "help"]) == {
        "can", "i", "help", "__q", "__upper", "__I", "__endq"
    }  # fmt: skip
    assert contract.features("x = f(y);", ["x", "f", "y"]) == {
        "x",
        "f",
        "y",
        "__eq",
        "__paren",
        "__semi",
        "__lower",
    }
    assert "__nonlatin" in contract.features("東京", ["東京"]) and "__I" not in contract.features(
        "iI", ["ii"]
    )
    words = contract.Vocabulary(frozenset(), frozenset(), {"help": 1.0, "__q": 2.0, "river": -4.0}, 0.5)
    # the weights of the distinct features, over the square root of the token count
    assert contract.off_topic_score("help help?", ["help", "help"], words) == 3.0 / 2**0.5
    assert contract.off_topic_score("river help", ["river", "help"], words) == -3.0 / 2**0.5
    # AND the rule is "above the threshold": the one comparison the handler, drift and the benchmark use
    assert contract.off_topic("help help?", ["help", "help"], words)
    assert not contract.off_topic("river help", ["river", "help"], words)
    at_threshold = contract.Vocabulary(frozenset(), frozenset(), {"help": 2**0.5}, 1.0)
    assert contract.off_topic_score("help help", ["help", "help"], at_threshold) == 1.0
    assert not contract.off_topic("help help", ["help", "help"], at_threshold)


@pytest.mark.parametrize(
    ("counts", "off_topic", "starts"),
    [
        ((0, 0, 6), False, None),  # no common word is a reason to give, not to refuse
        ((0, 0, 6), True, "None of its 6 words is a common English word"),  # the clearest reason first
        ((0, 0, 5), True, "It reads like conversation"),
        ((0, 1, 5), False, None),  # no topical word, but no share asked (0%)
        ((0, 1, 5), True, "It reads like conversation"),
        ((3, 1, 5), True, "It reads like conversation"),
    ],
)
def test_the_learned_rule_and_the_share_refuse_and_the_clearest_reason_is_given(
    counts: tuple[int, int, int], off_topic: bool, starts: str | None
) -> None:
    reason = contract.unknown_reason(*counts, 0, off_topic)
    assert reason is None if starts is None else str(reason).startswith(starts)
    assert str(contract.unknown_reason(0, 1, 5, 10, off_topic)).startswith("Only 0 of 5 words")
    assert str(contract.unknown_reason(0, 0, 6, 10, off_topic)).startswith("None of its 6 words")


def test_the_learned_rule_scores_a_text_the_same_in_every_process() -> None:
    # GIVEN weights whose float sum depends on the order they are added in: (1e16 + 1) - 1e16 is 0.0
    code = (
        "import contract, types; "
        "w = contract.Vocabulary(frozenset(), frozenset(), "
        "types.MappingProxyType({'alpha': 1e16, 'beta': 1.0, 'gamma': -1e16})); "
        "print(repr(contract.off_topic_score('alpha beta gamma', ['alpha', 'beta', 'gamma'], w)))"
    )
    # WHEN processes with different string hashing (the features are a set) score the same text
    scores = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=LAMBDA_DIR,
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in range(12)
    }
    # THEN every one gives the exactly rounded sum: the Lambda judges a text as training set its threshold
    assert scores == {repr(1.0 / 3**0.5)}
