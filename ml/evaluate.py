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
from ml.preprocess import LABEL_PREFIX


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
        labels.append(label.removeprefix(LABEL_PREFIX))
        texts.append(text)
    return Labelled(labels, texts)


def predict_labels(model: Any, texts: list[str]) -> list[str]:
    """Top-1 label names (prefix removed) for token strings."""
    predicted, _ = model.predict(texts, k=1)
    return [p[0].removeprefix(LABEL_PREFIX) if p else "" for p in predicted]


def classification_metrics(gold: list[str], predicted: list[str], classes: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision / recall / F1 / support, and the confusion matrix.

    ``confusion_matrix[i][j]`` counts rows of true class ``classes[i]`` predicted as ``classes[j]``.
    """
    index = {name: i for i, name in enumerate(classes)}
    matrix = [[0] * len(classes) for _ in classes]
    for g, p in zip(gold, predicted, strict=True):
        if p in index:
            matrix[index[g]][index[p]] += 1
    per_class = {}
    for i, name in enumerate(classes):
        tp = matrix[i][i]
        support = sum(matrix[i]) + sum(
            1 for g, p in zip(gold, predicted, strict=True) if g == name and p not in index
        )
        predicted_n = sum(row[i] for row in matrix)
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    correct = sum(g == p for g, p in zip(gold, predicted, strict=True))
    return {
        "n": len(gold),
        "accuracy": correct / len(gold) if gold else 0.0,
        "macro_f1": sum(c["f1"] for c in per_class.values()) / len(classes),
        "per_class": per_class,
        "labels": classes,
        "confusion_matrix": matrix,
    }


def evaluate_file(model: Any, path: Path, classes: list[str]) -> dict[str, Any]:
    """Metrics of ``model`` on one prepared fastText file."""
    data = read_fasttext_file(path)
    return classification_metrics(data.labels, predict_labels(model, data.texts), classes)


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


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
            "| model | test accuracy | validation accuracy | macro-F1 | train time | size | predict rate |",
            "|---|---|---|---|---|---|---|",
        ]
        rows = (
            ("ours (fastText / BlazingText)", test, val["accuracy"]),
            ("baseline", base, base["validation_accuracy"]),
        )
        for name, m, val_acc in rows:
            lines.append(
                f"| {name} | {m['accuracy']:.4f} | {val_acc:.4f} | {m['macro_f1']:.4f} "
                f"| {_seconds(m['train_seconds'])} "
                f"| {m['size_bytes'] / 1e6:.1f} MB | {m['predict_docs_per_second']:,} docs/s |"
            )
    if "slices" in report:
        lines += [
            "",
            "Slices of the test split (what people type):",
            "",
            "| slice | rows | ours | baseline |",
            "|---|---|---|---|",
        ]
        for name, sl in report["slices"].items():
            lines.append(f"| {name} | {sl['n']} | {sl['model']:.4f} | {sl['baseline']:.4f} |")
    lines += ["", "| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for name, c in test["per_class"].items():
        lines.append(
            f"| {name} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | {c['support']} |"
        )
    lines += ["", "Confusion matrix (rows: true class, columns: predicted): `confusion_matrix.png`", ""]
    return "\n".join(lines)


def plot_confusion(matrix: list[list[int]], classes: list[str], out: Path, title: str) -> None:
    """Save the confusion matrix as a PNG heat map with counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 8), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if count:
                ax.text(
                    j,
                    i,
                    count,
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
