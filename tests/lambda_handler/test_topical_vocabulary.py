"""Which of a model's words count as topical: counted in the train rows (ml/vocabulary.py)."""

from __future__ import annotations

import itertools
from pathlib import Path

from ml.vocabulary import PRIOR_ROWS, topical_words

LABELS = [f"__label__C{n}" for n in range(14)]


def test_a_word_is_topical_when_its_rows_lean_to_a_class_and_there_are_enough_of_them(tmp_path: Path) -> None:
    # GIVEN rows of 14 balanced classes: "the" in every row, "river" in every row of one class and
    # "town" in those of the 13 others, "rhein" in one row only, "asdf" in none (a word the rows never show)
    rows = [
        f"{label} the {'river' if label == LABELS[3] else 'town'}"
        + (" rhein" if n == 0 and label == LABELS[3] else "")
        for n, label in itertools.product(range(PRIOR_ROWS), LABELS)
    ]
    path = tmp_path / "train_rows.txt"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    # THEN only the word whose many rows lean to one class is topical
    assert topical_words(frozenset({"the", "river", "town", "rhein", "asdf"}), path) == {"river"}
