"""The prepared BlazingText / fastText channels written by the pipeline."""

from __future__ import annotations

import json
import re
from collections import Counter

from ml.pipeline import TrainOutcome
from ml.preprocess import SPLIT_NAMES
from ops.settings import Settings

LINE = re.compile(r"^__label__[A-Za-z]+ \S.*$")


def test_each_split_is_in_blazingtext_format_and_stratified(trained: tuple[Settings, TrainOutcome]) -> None:
    settings, _ = trained
    (folder,) = (settings.data_dir / "prepared").iterdir()
    classes = set()
    for split in SPLIT_NAMES:
        lines = (folder / f"{split}.txt").read_text(encoding="utf-8").splitlines()
        assert lines and all(LINE.match(line) for line in lines), f"{split} has a malformed line"
        counts = Counter(line.split(" ", 1)[0] for line in lines)
        assert len(counts) == 14 and max(counts.values()) - min(counts.values()) <= 1
        classes |= set(counts)
        tokens = " ".join(line.split(" ", 1)[1] for line in lines[:200])
        assert tokens == tokens.lower(), "tokens are case-folded"
    assert "__label__Athlete" in classes and "__label__MeanOfTransportation" in classes


def test_splits_do_not_overlap(trained: tuple[Settings, TrainOutcome]) -> None:
    settings, _ = trained
    (folder,) = (settings.data_dir / "prepared").iterdir()
    seen = [set((folder / f"{split}.txt").read_text(encoding="utf-8").splitlines()) for split in SPLIT_NAMES]
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])


def test_the_baseline_fits_on_the_train_rows_one_line_each(trained: tuple[Settings, TrainOutcome]) -> None:
    from ml import baseline, evaluate
    from ml.preprocess import BASELINE_TRAIN, VIEWS

    settings, outcome = trained
    (folder,) = (settings.data_dir / "prepared").iterdir()
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    rows = (folder / f"{BASELINE_TRAIN}.txt").read_text(encoding="utf-8").splitlines()
    channel = (folder / "train.txt").read_text(encoding="utf-8").splitlines()
    assert len(rows) == meta["counts"]["train"]
    assert len(channel) == meta["counts"]["train"] * (len(VIEWS) + settings.dropout_views)
    assert set(rows) <= set(channel), "each row's whole text is also in the train channel"
    # the report's baseline is the one fitted on those rows (same vocabulary, same size), not on the channel
    report = json.loads(outcome.report.with_name("metrics.json").read_text(encoding="utf-8"))
    fitted = baseline.fit(evaluate.read_fasttext_file(folder / f"{BASELINE_TRAIN}.txt"))
    assert report["baseline"]["size_bytes"] == fitted.size_bytes
    assert 0.5 < report["baseline"]["validation_accuracy"] <= 1
