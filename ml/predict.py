"""Predict with a BlazingText / fastText ``model.bin``, answering in BlazingText's response format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fasttext
import numpy as np

from ml.fsutil import file_digest
from ml.package import unpack


class Predictor:
    """A loaded model. ``predict`` takes pre-tokenized, space-separated strings, as BlazingText does."""

    def __init__(self, model_bin: Path, archive_sha256: str = "") -> None:
        self.model_bin = model_bin
        self.archive_sha256 = archive_sha256  # of the model.tar.gz it came from ("" when loaded bare)
        self.model = fasttext.load_model(str(model_bin))
        self.labels: list[str] = list(self.model.get_labels())

    @classmethod
    def from_archive(cls, archive: Path, cache_root: Path) -> Predictor:
        """Load the ``model.bin`` inside a ``model.tar.gz`` (extracted once into ``cache_root``)."""
        return cls(unpack(archive, cache_root), file_digest(archive))

    def predict(self, instances: list[str], k: int = 1) -> list[dict[str, list[Any]]]:
        """``[{"label": ["__label__X", …], "prob": [p, …]}, …]``: the top ``k`` labels of each instance.

        One vectorised conversion for the whole batch (fastText's float32 scores, capped at 1 and rounded
        to 6 decimals as BlazingText answers), not a Python loop per score.
        """
        # fastText refuses newlines; it splits on every other whitespace itself
        texts = [t.replace("\n", " ") if "\n" in t else t for t in instances]
        labels, probs = self.model.predict(texts, k=min(k, len(self.labels)))
        rows = np.minimum(np.asarray(probs, dtype=np.float64), 1.0).round(6).tolist()
        return [{"label": names, "prob": scores} for names, scores in zip(labels, rows, strict=True)]
