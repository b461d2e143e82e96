"""The peer baseline: scikit-learn TF-IDF over word 1–2-grams + a linear SVM, on the same tokens and split.

It is not deployed; it is the yardstick the evaluation report measures the BlazingText-compatible model
against (accuracy, macro-F1, train time, model size, predict rate).
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass
from typing import Any

from ml.evaluate import Labelled, classification_metrics


@dataclass(frozen=True)
class Baseline:
    """A fitted baseline and what fitting it cost."""

    model: Any
    train_seconds: float
    size_bytes: int

    def predict(self, texts: list[str]) -> list[str]:
        """Predicted class names for token strings."""
        return list(self.model.predict(texts))


def fit(train: Labelled) -> Baseline:
    """Fit TF-IDF (word 1–2-grams, sublinear tf) + LinearSVC on space-separated tokens."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    started = time.perf_counter()
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"\S+", lowercase=False),
        LinearSVC(C=0.5),
    )
    model.fit(train.texts, train.labels)
    seconds = time.perf_counter() - started
    return Baseline(model, seconds, len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)))


def timed_predict(predict: Any, texts: list[str]) -> tuple[list[str], float]:
    """Predictions and the rate in documents per second."""
    started = time.perf_counter()
    predicted = predict(texts)
    elapsed = max(time.perf_counter() - started, 1e-9)
    return predicted, len(texts) / elapsed


def evaluate(baseline: Baseline, test: Labelled, classes: list[str]) -> dict[str, Any]:
    """Test metrics of the baseline plus its cost figures."""
    predicted, rate = timed_predict(baseline.predict, test.texts)
    metrics = classification_metrics(test.labels, predicted, classes)
    metrics.update(
        train_seconds=round(baseline.train_seconds, 2),
        size_bytes=baseline.size_bytes,
        predict_docs_per_second=round(rate),
    )
    return metrics
