"""The evaluation report: our model on validation and test, the peer baseline beside it, and slices.

Both models see the same tokens of the same split. The baseline fits on the train rows one line each, as a
scikit-learn user would; the extra views of the train channel are our model's recipe (``ml/preprocess.py``).
The report says which won and by how much.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any

from ml import baseline, evaluate, preprocess, slices
from ml.data import Dataset
from ml.fsutil import kept

BASELINE_NAME = "TF-IDF word 1-2-grams + LinearSVC (scikit-learn)"
PEER_FILE = "peer.json"  # the peer's figures, kept beside the prepared rows they were measured on


def accuracy(gold: list[str], predicted: list[str]) -> float:
    """Share of predictions equal to the gold labels."""
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold) if gold else 0.0


def peer_figures(
    prepared: preprocess.Prepared,
    classes: list[str],
    test: evaluate.Labelled,
    gold: list[str],
    texts_of: dict[str, list[str]],
) -> tuple[dict[str, Any], dict[str, float]]:
    """The peer baseline's test figures (with its validation accuracy) and its accuracy on each slice. They
    depend on the prepared rows alone: fitted once, kept beside the rows (``PEER_FILE``) for every version
    trained on them, and fitted again when the code behind them changes."""

    def measure() -> tuple[dict[str, Any], dict[str, float]]:
        peer = baseline.fit(evaluate.read_fasttext_file(prepared.path(preprocess.BASELINE_TRAIN)))
        theirs = baseline.evaluate(peer, test, classes)
        validation = evaluate.read_fasttext_file(prepared.path("validation"))
        theirs["validation_accuracy"] = accuracy(validation.labels, peer.predict(validation.texts))
        return theirs, {name: accuracy(gold, peer.predict(texts)) for name, texts in texts_of.items()}

    sklearn = find_spec("sklearn")
    assert sklearn is not None and sklearn.origin is not None  # a requirement; its __init__ names its version
    code = (baseline.__file__, evaluate.__file__, slices.__file__, __file__, sklearn.origin)
    theirs, by_slice = kept(prepared.folder / PEER_FILE, code, measure)
    return dict(theirs), dict(by_slice)


def build_report(
    model: Any, model_path: Path, train_seconds: float | None, prepared: preprocess.Prepared, dataset: Dataset
) -> dict[str, Any]:
    """Evaluate ``model`` and the baseline on the prepared splits; return the report as a dict."""
    classes = dataset.classes
    test = evaluate.read_fasttext_file(prepared.path("test"))
    predicted, rate = baseline.timed_predict(lambda texts: evaluate.predict_labels(model, texts), test.texts)
    ours = evaluate.classification_metrics(test.labels, predicted, classes)
    ours.update(
        train_seconds=None if train_seconds is None else round(train_seconds, 2),
        size_bytes=model_path.stat().st_size,
        predict_docs_per_second=round(rate),
    )

    rows = prepared.test_rows()
    gold = [classes[row.label] for row in rows]
    texts_of = slices.slice_texts(rows, preprocess.tokenize)
    theirs, peer_slices = peer_figures(prepared, classes, test, gold, texts_of)
    sliced = {
        name: {
            "n": len(texts),
            "model": accuracy(gold, evaluate.predict_labels(model, texts)),
            "baseline": peer_slices[name],
        }
        for name, texts in texts_of.items()
    }
    gap = ours["accuracy"] - theirs["accuracy"]
    winner = "ours" if gap > 0 else "baseline" if gap < 0 else "tie"
    return {
        "dataset": dataset.origin,
        "dataset_sha256": dataset.sha256,
        "test_source": prepared.test_source,
        "train_channel": {"rows": prepared.counts["train"], "views": prepared.train_views()},
        "validation": evaluate.evaluate_file(model, prepared.path("validation"), classes),
        "test": ours,
        "baseline": {"name": BASELINE_NAME, **theirs},
        "comparison": {
            "winner": winner,
            "accuracy_gap": gap,
            "summary": (
                f"our model and the baseline tie on test accuracy ({ours['accuracy']:.4f})"
                if winner == "tie"
                else f"{'our model' if winner == 'ours' else 'the baseline'} wins on test accuracy by "
                f"{abs(gap) * 100:.2f} points ({ours['accuracy']:.4f} vs {theirs['accuracy']:.4f})"
            ),
        },
        "slices": sliced,
    }
