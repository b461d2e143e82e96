"""The evaluation report at many classes and with the user's labels (issue 26): the per-class table names
the labels as written, and at 50 classes the confusion matrix grows and metrics.md lists its largest cells."""

from __future__ import annotations

import random
import struct
from pathlib import Path

from ml.evaluate import READABLE_CLASSES, classification_metrics, write_reports
from ml.labels import to_token
from tests.helpers import table_rows


def report_of(n_classes: int) -> dict[str, object]:
    """A report whose test predictions are seeded: mostly right, class 3 often taken for class 4."""
    classes = [to_token(f"topic {i}") for i in range(n_classes)]
    rng = random.Random(3)
    gold, predicted = [], []
    for i, label in enumerate(classes):
        for _ in range(20):
            gold.append(label)
            wrong = i == 3 and rng.random() < 0.5
            predicted.append(classes[4] if wrong else label if rng.random() < 0.95 else rng.choice(classes))
    test = classification_metrics(gold, predicted, classes)
    validation = {"accuracy": test["accuracy"], "n": test["n"]}
    return {
        "dataset": "mine.csv",
        "dataset_sha256": "0" * 64,
        "test_source": "carved",
        "test": test,
        "validation": validation,
    }


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_at_50_classes_the_report_lists_the_largest_confusions_by_the_users_labels(tmp_path: Path) -> None:
    write_reports(report_of(50), tmp_path)
    markdown = (tmp_path / "metrics.md").read_text(encoding="utf-8")
    rows = table_rows(markdown)
    assert ["topic 0", *rows[2][1:]] == rows[2] and "topic%200" not in markdown  # the label as written
    confused = markdown[markdown.index("most frequent confusions") :]
    first = table_rows(confused)[2]
    assert first[:2] == ["topic 3", "topic 4"] and int(first[2]) >= 5
    assert png_size(tmp_path / "confusion_matrix.png")[0] >= 50 * 0.3 * 100  # grows with the classes


def test_at_dbpedias_14_classes_the_report_is_as_before(tmp_path: Path) -> None:
    assert READABLE_CLASSES >= 14
    write_reports(report_of(14), tmp_path)
    assert "confusions" not in (tmp_path / "metrics.md").read_text(encoding="utf-8")
    assert png_size(tmp_path / "confusion_matrix.png") == (900, 800)
