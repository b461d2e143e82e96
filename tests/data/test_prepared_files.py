"""The prepared BlazingText / fastText channels written by the pipeline."""

from __future__ import annotations

import re
from collections import Counter

from ml.config import Settings
from ml.pipeline import TrainOutcome
from ml.preprocess import SPLIT_NAMES

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
