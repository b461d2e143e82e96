"""The unknown-text measurement's parts, on a few rows (the measurement itself is `invoke unknown-text`)."""

from __future__ import annotations

from ml.data import Row
from ml.lambda_src import contract
from ml.slices import real_texts
from ops.bench.unknown_text import mashed, word_counts


def test_word_counts_count_the_lambda_s_tokens_against_both_lists() -> None:
    words = contract.Vocabulary(topical=frozenset({"river", "elbe"}), common=frozenset({"the", "is"}))
    assert word_counts("The river Qzxv is the Elbe's.", words) == (2, 3, 7)  # the river qzxv is the elbe 's
    assert word_counts("?!", words) is None  # no token: the Lambda's 400, not a count


def test_each_real_row_arrives_five_ways() -> None:
    row = Row(7, "Elbe", "The Elbe is a river. It flows into the North Sea near Hamburg in Germany today.")
    groups = real_texts([row])
    assert groups == {
        "titled abstract": [row.text],
        "untitled abstract": [row.content],
        "first sentence": ["The Elbe is a river."],
        "first 8 words": ["The Elbe is a river."],
        "title alone": ["Elbe"],
    }


def test_keyboard_mashing_is_seeded_lower_case_letters() -> None:
    texts = mashed(50, seed=3)
    assert texts == mashed(50, seed=3) != mashed(50, seed=4)
    assert all(1 <= len(t.split()) <= 4 and t.replace(" ", "").isalpha() and t.islower() for t in texts)


def test_the_non_topic_texts_come_from_shipped_text_in_two_disjoint_seeded_halves() -> None:
    from ml import non_topic

    groups = non_topic.gather()
    assert groups == non_topic.gather(), "the same draw every time"
    assert len(groups) == 7
    for name, halves in groups.items():
        choose, report = set(halves["choose"]), set(halves["report"])
        assert choose and report and not choose & report, name
        assert len(choose) + len(report) <= non_topic.PER_GROUP
    code = groups["code (Python stdlib, matplotlib JS)"]["report"]
    assert all(any(c in line for c in "=(){}[];:") for line in code)
    markup = groups["markup (IDLE help, matplotlib HTML)"]["report"]
    assert all("<" in line and ">" in line for line in markup)


def test_the_learned_rule_is_fitted_on_no_text_that_is_reported() -> None:
    from ml import non_topic

    learned = non_topic.learning_texts()
    reported = {t for halves in non_topic.gather().values() for t in halves["report"]}
    assert learned == non_topic.learning_texts(), "the same draw every time"
    assert len(learned) > 5_000 and not reported & set(learned)
