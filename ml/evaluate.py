"""Evaluate a model on the prepared splits: accuracy, per-class precision / recall / F1, confusion matrix.

Results go to ``metrics.json`` (machine-readable), ``metrics.md`` (for reviewers) and
``confusion_matrix.png``; every report states where the test rows came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.config import log
from ml.fsutil import atomic_path, write_json, write_text
from ml.lambda_src import contract
from ml.tables import markdown_table

READABLE_CLASSES = 20  # above this, the matrix drops its counts and metrics.md lists the largest confusions
CONFUSED_PAIRS = 15


@dataclass(frozen=True)
class Labelled:
    """Gold labels and token strings of one fastText file."""

    labels: list[str]
    texts: list[str]


def read_fasttext_file(path: Path) -> Labelled:
    """Split ``__label__X tokens…`` lines into labels (without prefix) and token strings."""
    labels, texts = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        label, _, text = line.partition(" ")
        labels.append(label.removeprefix(contract.LABEL_PREFIX))
        texts.append(text)
    return Labelled(labels, texts)


def predict_labels(model: Any, texts: list[str]) -> list[str]:
    """Top-1 label names (prefix removed) for token strings."""
    predicted, _ = model.predict(texts, k=1)
    return [p[0].removeprefix(contract.LABEL_PREFIX) if p else "" for p in predicted]


def classification_metrics(gold: list[str], predicted: list[str], classes: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision / recall / F1 / support, and the confusion matrix.

    ``confusion_matrix[i][j]`` counts rows of true class ``classes[i]`` predicted as ``classes[j]``; a
    prediction outside ``classes`` (no label) counts in its class's support and in no column.
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        gold, predicted, labels=classes, zero_division=0
    )
    return {
        "n": len(gold),
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1.mean()),
        "per_class": {
            name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(n)}
            for name, p, r, f, n in zip(classes, precision, recall, f1, support, strict=True)
        },
        "labels": classes,
        "confusion_matrix": confusion_matrix(gold, predicted, labels=classes).tolist(),
    }


def evaluate_file(model: Any, path: Path, classes: list[str]) -> dict[str, Any]:
    """Metrics of ``model`` on one prepared fastText file."""
    data = read_fasttext_file(path)
    return classification_metrics(data.labels, predict_labels(model, data.texts), classes)


MODEL_COLUMNS = (
    "model",
    "test accuracy",
    "validation accuracy",
    "macro-F1",
    "train time",
    "size",
    "predict rate",
)


def model_row(name: str, m: dict[str, Any], validation_accuracy: float) -> tuple[str, ...]:
    """One model's row under MODEL_COLUMNS: ``m`` is its test metrics with time, size and predict rate."""
    seconds = "n/a" if m["train_seconds"] is None else f"{m['train_seconds']:.1f} s"
    return (
        name,
        f"{m['accuracy']:.4f}",
        f"{validation_accuracy:.4f}",
        f"{m['macro_f1']:.4f}",
        seconds,
        f"{m['size_bytes'] / 1e6:.1f} MB",
        f"{m['predict_docs_per_second']:,} docs/s",
    )


def slices_table(slices: dict[str, dict[str, Any]]) -> str:
    """Accuracy of ours and the baseline on each slice of the test split."""
    rows = [(name, sl["n"], f"{sl['model']:.4f}", f"{sl['baseline']:.4f}") for name, sl in slices.items()]
    return markdown_table(("slice", "rows", "ours", "baseline"), rows)


def render_markdown(report: dict[str, Any]) -> str:
    """A reviewer-friendly Markdown version of the evaluation report."""
    test, val = report["test"], report["validation"]
    lines = [
        "# Evaluation report",
        "",
        f"- Dataset: {report['dataset']} (sha256 `{report['dataset_sha256'][:16]}…`)",
        f"- Test split: {report['test_source']}",
        f"- Validation accuracy: **{val['accuracy']:.4f}** ({val['n']} rows)",
        f"- Test accuracy: **{test['accuracy']:.4f}**, macro-F1 {test['macro_f1']:.4f} ({test['n']} rows)",
    ]
    if "train_channel" in report:
        chan = report["train_channel"]
        views = chan["views"]
        copies = views.count("dropout")
        fixed = ", ".join(v for v in views if v != "dropout")
        lines.append(
            f"- Training input: ours trains on {chan['rows']:,} train rows, {len(views)} lines each "
            f"({fixed}, and {copies} token-dropout copies: {chan['rows'] * len(views):,} lines); "
            "the baseline fits on the same rows, one line each (the whole text)"
        )
    if "baseline" in report:
        base = report["baseline"]
        lines += [
            f"- Versus the baseline ({base['name']}): {report['comparison']['summary']}",
            "",
            markdown_table(
                MODEL_COLUMNS,
                [
                    model_row(name, m, val_acc)
                    for name, m, val_acc in (
                        ("ours (fastText / BlazingText)", test, val["accuracy"]),
                        ("baseline", base, base["validation_accuracy"]),
                    )
                ],
            ),
        ]
    if "slices" in report:
        lines += [
            "",
            "Slices of the test split (what people type):",
            "",
            slices_table(report["slices"]),
        ]
    if "feedback" in report:
        lines += ["", feedback_line(report["feedback"])]
    per_class = [
        (
            contract.to_label(name),
            f"{c['precision']:.3f}",
            f"{c['recall']:.3f}",
            f"{c['f1']:.3f}",
            c["support"],
        )
        for name, c in test["per_class"].items()
    ]
    lines += ["", markdown_table(("class", "precision", "recall", "F1", "support"), per_class)]
    lines += ["", "Confusion matrix (rows: true class, columns: predicted): `confusion_matrix.png`", ""]
    if len(test["labels"]) > READABLE_CLASSES:  # a matrix this wide is read by its largest cells
        lines += [f"The {CONFUSED_PAIRS} most frequent confusions:", "", confused_table(test), ""]
    return "\n".join(lines)


def feedback_line(fed: dict[str, Any]) -> str:
    """The accepted feedback's slice (``invoke train --with-feedback``): the new and the old model on it."""
    accuracy = fed["accuracy"]
    old = f"{accuracy['old']:.4f}" if accuracy.get("old") is not None else "none deployed before"
    return (
        f"Accepted feedback ({fed['items']} items, `--with-feedback`): accuracy on them, this model "
        f"**{accuracy['new']:.4f}**, the model deployed before it {old}. The items are training rows of this "
        "model too: the figure says the corrections were learned, the test split how well it generalises."
    )


def confused_table(test: dict[str, Any]) -> str:
    """The largest off-diagonal cells of the test confusion matrix: true class, predicted, rows, share."""
    labels, matrix = test["labels"], test["confusion_matrix"]
    cells = sorted(
        ((count, i, j) for i, row in enumerate(matrix) for j, count in enumerate(row) if i != j and count),
        key=lambda cell: (-cell[0], cell[1], cell[2]),
    )[:CONFUSED_PAIRS]
    rows = [
        (contract.to_label(labels[i]), contract.to_label(labels[j]), n, f"{n / (sum(matrix[i]) or 1):.1%}")
        for n, i, j in cells
    ]
    return markdown_table(("true class", "predicted as", "rows", "of its rows"), rows)


def plot_confusion(matrix: list[list[int]], classes: list[str], out: Path, title: str) -> None:
    """Save the confusion matrix as a PNG heat map with counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(classes)
    wide = n > READABLE_CLASSES  # a larger figure, smaller names, no counts (metrics.md lists the largest)
    fig, ax = plt.subplots(figsize=(0.3 * n + 3, 0.3 * n + 2) if wide else (9, 8), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    names = [contract.to_label(name) for name in classes]
    if wide:
        ax.set_xticks(range(n), names, rotation=90, ha="center", fontsize=6)
    else:
        ax.set_xticks(range(n), names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), names, fontsize=6 if wide else 8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if count and not wide:
                ax.text(
                    j,
                    i,
                    str(count),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if count > peak / 2 else "black",
                )
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def write_reports(report: dict[str, Any], out_dir: Path) -> None:
    """Write metrics.json, metrics.md and confusion_matrix.png into ``out_dir``."""
    write_json(out_dir / "metrics.json", report)
    write_text(out_dir / "metrics.md", render_markdown(report))
    test = report["test"]
    plot_confusion(
        test["confusion_matrix"],
        test["labels"],
        out_dir / "confusion_matrix.png",
        f"Test accuracy {test['accuracy']:.4f} — {report['test_source']}"[:110],
    )
    log.info("evaluation report: %s (test accuracy %.4f)", out_dir / "metrics.md", test["accuracy"])
