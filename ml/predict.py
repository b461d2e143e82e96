"""Predict with a BlazingText / fastText ``model.bin``, answering in BlazingText's response format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fasttext

from ml.package import unpack


class Predictor:
    """A loaded model. ``predict`` takes pre-tokenized, space-separated strings, as BlazingText does."""

    def __init__(self, model_bin: Path) -> None:
        self.model = fasttext.load_model(str(model_bin))
        self.labels: list[str] = list(self.model.get_labels())

    @classmethod
    def from_archive(cls, archive: Path, cache_root: Path) -> Predictor:
        """Load the ``model.bin`` inside a ``model.tar.gz`` (extracted once into ``cache_root``)."""
        return cls(unpack(archive, cache_root))

    def predict(self, instances: list[str], k: int = 1) -> list[dict[str, list[Any]]]:
        """``[{"label": ["__label__X", …], "prob": [p, …]}, …]``: the top ``k`` labels of each instance."""
        texts = [" ".join(text.split()) for text in instances]  # fastText refuses newlines
        labels, probs = self.model.predict(texts, k=min(k, len(self.labels)))
        return [
            {"label": list(names), "prob": [round(min(1.0, float(p)), 6) for p in scores]}
            for names, scores in zip(labels, probs, strict=True)
        ]
