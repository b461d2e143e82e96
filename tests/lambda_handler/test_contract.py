"""The Lambda's wire contract (lambda/contract.py): what its builders write, its parsers read back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

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


def test_the_vocabulary_text_reads_back_as_the_same_words() -> None:
    words = contract.Vocabulary(frozenset({"river", "film"}), frozenset({"the", "is"}))
    header, *lines = contract.vocabulary_text(words, "ab" * 32, "scheme-v1").splitlines()
    assert header == f"{contract.VOCABULARY_FORMAT} model-sha256={'ab' * 32} tokenizer=scheme-v1"
    assert lines == sorted(lines) and contract.read_vocabulary(lines) == words
    with pytest.raises(ValueError, match="line 'film'"):
        contract.read_vocabulary(["topical river", "film"])
