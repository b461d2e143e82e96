"""Which of a model's words count as topical and as common, counted in the train rows, and the file the
Lambda reads them from (ml/vocabulary.py)."""

from __future__ import annotations

import gzip
import itertools
import json
import math
from pathlib import Path

import pytest

from ml import data, lambda_src, vocabulary
from ml.pipeline import TrainOutcome
from ml.slices import real_texts
from ml.vocabulary import COMMON_WORDS, PRIOR_ROWS, derive, encode
from ops.settings import Settings

import contract
import handler

LABELS = [f"__label__C{n}" for n in range(14)]
MORE_WORDS = [f"w{k}" for k in range(COMMON_WORDS + 10)]  # w0 in the most rows, then ever fewer


def write_rows(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "train_rows.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_word_is_topical_when_its_rows_lean_to_a_class_and_there_are_enough_of_them(tmp_path: Path) -> None:
    # GIVEN rows of 14 balanced classes: "the" in every row, "river" in every row of one class and
    # "town" in those of the 13 others, "rhein" in one row only, "asdf" in none (a word the rows never show)
    rows = [
        f"{label} the {'river' if label == LABELS[3] else 'town'}"
        + (" rhein" if n == 0 and label == LABELS[3] else "")
        for n, label in itertools.product(range(PRIOR_ROWS), LABELS)
    ]
    path = write_rows(tmp_path, rows)
    # THEN only the word whose many rows lean to one class is topical
    assert derive(frozenset({"the", "river", "town", "rhein", "asdf"}), path).topical == {"river"}


def rows_of_common_and_topical_words() -> list[str]:
    """700 rows of 14 balanced classes: "the" in every row, "river" in the 50 rows of one class, and
    word ``w<k>`` in the first 2 × (40 - k) rows, whatever their class (so in ever fewer rows)."""
    rows = []
    for i in range(14 * 50):
        label = LABELS[i % 14]
        more = [w for k, w in enumerate(MORE_WORDS) if i < 2 * (len(MORE_WORDS) - k)]
        rows.append(" ".join([label, "the", *(["river"] if label == LABELS[3] else []), *more]))
    return rows


def test_the_common_words_are_the_words_in_the_most_rows_that_are_not_topical(tmp_path: Path) -> None:
    path = write_rows(tmp_path, rows_of_common_and_topical_words())
    words = derive(frozenset({"the", "river", "asdf", *MORE_WORDS}), path)
    # GIVEN "river", topical, in more rows than the last words that make the cut
    assert words.topical == {"river"}
    # THEN the common words are the COMMON_WORDS words in the most rows, "river" left out
    assert words.common == {"the", *MORE_WORDS[: COMMON_WORDS - 1]}


def test_the_file_is_deterministic_format_4_and_the_lambda_reads_both_lists_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the words of the rows above, encoded for a model
    scheme, sha256 = lambda_src.text_tokenizer().SCHEME, "cd" * 32
    words = derive(
        frozenset({"the", "river", *MORE_WORDS}), write_rows(tmp_path, rows_of_common_and_topical_words())
    )
    data = encode(words, sha256, scheme)
    # THEN the same words give the same bytes (gzip of mtime 0), a format-4 header and one tagged word a line
    assert data == encode(words, sha256, scheme) and data[4:8] == b"\0\0\0\0"
    header, *lines = gzip.decompress(data).decode().splitlines()
    assert header == f"dbpedia-vocabulary/4 model-sha256={sha256} tokenizer={scheme}"
    assert lines == sorted(lines) and "common the" in lines and "topical river" in lines
    assert len(lines) == len(words.topical) + len(words.common)
    # AND the Lambda reads back exactly these two lists
    (tmp_path / "v.gz").write_bytes(data)
    monkeypatch.setenv("VOCABULARY_FILE", str(tmp_path / "v.gz"))
    monkeypatch.setenv("MODEL_SHA256", sha256)
    assert handler.vocabulary() == (words.topical, words.common, {}, math.inf)


def test_the_learned_rule_is_fitted_on_real_rows_and_refuses_its_share_of_validation_first_sentences(
    trained: tuple[Settings, TrainOutcome],
) -> None:
    # GIVEN the rows the pipeline trained the shared test model on, and the rule it shipped beside it
    settings, outcome = trained
    splits = data.make_splits(data.resolve_dataset(settings), settings)
    with gzip.open(vocabulary.require(outcome.archive), "rt", encoding="utf-8") as fh:
        shipped = contract.read_vocabulary(fh.read().splitlines()[1:])
    # WHEN the rule is learned again from those rows
    weights, threshold = vocabulary.learn_rule(splits)
    # THEN it is the same rule (deterministic), small, every weight at least MIN_WEIGHT from zero
    assert (dict(shipped.weights), shipped.threshold) == (weights, threshold)
    assert 100 < len(weights) < 10_000 and min(map(abs, weights.values())) >= vocabulary.MIN_WEIGHT
    # AND it refuses at most REFUSED_SHARE of the validation rows' first sentences (one row of rounding)
    tokenize = lambda_src.text_tokenizer().tokenize
    sentences = [(s, t) for s in real_texts(splits.validation)["first sentence"] if (t := tokenize(s))]
    refused = sum(contract.off_topic_score(s, t, shipped) > threshold for s, t in sentences)
    assert refused <= vocabulary.REFUSED_SHARE * len(sentences) + 1


def test_too_few_validation_rows_ship_no_learned_rule_rather_than_a_threshold_from_a_handful(
    trained: tuple[Settings, TrainOutcome], caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN real rows, but fewer validation rows than a 0.5% threshold can be placed on
    settings, _ = trained
    splits = data.make_splits(data.resolve_dataset(settings), settings)
    few = data.Splits(splits.train[:500], splits.validation[: vocabulary.MIN_RULE_SENTENCES - 1], [], "")
    # WHEN the rule is learned  THEN it refuses nothing, and the log says why
    assert vocabulary.learn_rule(few) == ({}, math.inf)
    assert "too few to set the learned non-topic rule's threshold" in caplog.text


def test_the_learned_rule_is_kept_beside_its_rows_and_fitted_again_only_for_other_code(
    trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    # GIVEN the prepared rows of the shared test model, with the rule its run fitted kept beside them
    settings, outcome = trained
    (kept,) = (settings.data_dir / "prepared").glob(f"*/{vocabulary.RULE_FILE}")
    with gzip.open(vocabulary.require(outcome.archive), "rt", encoding="utf-8") as fh:
        shipped = contract.read_vocabulary(fh.read().splitlines()[1:])

    def unread() -> data.Splits:
        raise AssertionError("the rows were read: the rule was fitted again")

    # WHEN the rule of those rows is asked for again (another version on the same rows)
    # THEN the kept one comes back, the one the version shipped, without reading the rows
    assert vocabulary.kept_rule(kept, unread) == (dict(shipped.weights), shipped.threshold)
    # AND a rule kept by other code (the rule's module, its texts, the features or the tokenizer changed)
    # is fitted again and kept in its place
    splits = data.make_splits(data.resolve_dataset(settings), settings)
    few = data.Splits(splits.train[:50], splits.validation[:10], [], "")
    stale = tmp_path / vocabulary.RULE_FILE
    stale.write_text(json.dumps({"code": "other", "value": [{"river": 9.0}, 1.0]}))
    assert vocabulary.kept_rule(stale, lambda: few) == ({}, math.inf)
    assert json.loads(stale.read_text())["code"] == json.loads(kept.read_text())["code"]
