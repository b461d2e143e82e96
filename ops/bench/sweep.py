"""``invoke sweep``: compare training settings over several fastText seeds, on validation and test.

Each variant is a set of setting overrides (``dropout_views=10,epochs=15``) on top of the current
settings; the current settings themselves are always the first row. Every variant prepares its data
(reused when only hyperparameters differ), trains once per seed, and optionally fits the peer baseline
on the train rows and on our train channel. Choose on validation accuracy; test accuracy is there to
report, not to tune. The table lands in ``build/sweep/sweep.md`` (+ ``.json``), so the tables in
docs/model-quality.md can be re-run.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml import evaluate, preprocess
from ml.config import ConfigError, Settings, load_settings, log, settings_to_dict
from ml.fsutil import write_json, write_text
from ml.report import accuracy
from ml.tables import markdown_table


@dataclass(frozen=True)
class Variant:
    """A named set of setting overrides."""

    name: str
    overrides: dict[str, str]


def parse_variant(text: str) -> Variant:
    """``"dropout_views=10,epochs=15"`` → a variant of those overrides; a clear error for anything else."""
    overrides: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"variant {text!r}: write name=value pairs separated by commas")
        overrides[key.strip()] = value.strip()
    if not overrides:
        raise ConfigError(f"variant {text!r} sets nothing")
    return Variant(text, overrides)


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"42,1,2"`` → (42, 1, 2)."""
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ConfigError(f"seeds {text!r}: write whole numbers separated by commas") from None
    if not seeds:
        raise ConfigError("give at least one seed")
    return seeds


def seed_runs(settings: Settings, seeds: tuple[int, ...]) -> list[dict[str, Any]]:
    """Validation and test accuracy of a model trained with ``settings`` once per fastText seed.

    The data, its split and the train channel stay those of ``settings`` (its ``seed``); only the seed
    fastText trains with changes.
    """
    import fasttext

    from ml import pipeline, train

    _, prepared = pipeline.prepare_data(settings)
    splits = {name: evaluate.read_fasttext_file(prepared.path(name)) for name in ("validation", "test")}
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            model_bin = Path(tmp) / f"seed-{seed}.bin"
            result = train.train(
                prepared.path("train"),
                prepared.path("validation"),
                model_bin,
                settings.hyperparameters,
                settings.threads,
                seed,
            )
            model = fasttext.load_model(str(model_bin))
            record: dict[str, Any] = {"seed": seed}
            for name, rows in splits.items():  # scored as the evaluation report scores
                record[f"{name}_accuracy"] = accuracy(rows.labels, evaluate.predict_labels(model, rows.texts))
            record.update(train_seconds=round(result.seconds, 2), size_bytes=model_bin.stat().st_size)
            runs.append(record)
            model_bin.unlink()
    return runs


def baseline_run(settings: Settings, train_file: str = preprocess.BASELINE_TRAIN) -> dict[str, Any]:
    """The peer baseline fitted on one prepared train file of ``settings``: validation and test accuracy.

    ``train_file`` is the train rows one line each (what the evaluation report fits it on), or ``"train"``
    for our whole train channel with its extra views (slower, but the same input our model gets).
    """
    from ml import baseline, pipeline

    _, prepared = pipeline.prepare_data(settings)
    peer = baseline.fit(evaluate.read_fasttext_file(prepared.path(train_file)))
    out: dict[str, Any] = {
        "train_file": train_file,
        "train_seconds": round(peer.train_seconds, 2),
        "size_bytes": peer.size_bytes,
    }
    for split in ("validation", "test"):
        rows = evaluate.read_fasttext_file(prepared.path(split))
        out[f"{split}_accuracy"] = accuracy(rows.labels, peer.predict(rows.texts))
    return out


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.fmean(r[key] for r in runs)


def run(
    base: dict[str, Any], variants: list[Variant], seeds: tuple[int, ...], with_baseline: bool, out: Path
) -> list[dict[str, Any]]:
    """Sweep: the settings ``base`` gives, then each variant on top of them; write ``out`` (+ JSON)."""
    from ml import pipeline

    rows = []
    fitted: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}  # baselines by prepared-data key
    for variant in [Variant("current settings", {}), *variants]:
        settings = load_settings(**{**base, **variant.overrides})
        log.info("sweep: %s (%d seeds)", variant.name, len(seeds))
        runs = seed_runs(settings, seeds)
        row = {
            "variant": variant.name,
            "settings": {
                "dropout_views": settings.dropout_views,
                **settings_to_dict(settings)["hyperparameters"],
            },
            "runs": runs,
            "mean_validation_accuracy": _mean(runs, "validation_accuracy"),
            "mean_test_accuracy": _mean(runs, "test_accuracy"),
            "mean_train_seconds": round(_mean(runs, "train_seconds"), 2),
        }
        if with_baseline:
            key = pipeline.prepare_data(settings)[1].key
            if key not in fitted:
                fitted[key] = (baseline_run(settings), baseline_run(settings, "train"))
            row["baseline"], row["baseline_on_channel"] = fitted[key]
        rows.append(row)
        log.info(
            "sweep: %s: validation %.4f, test %.4f (means)",
            variant.name,
            row["mean_validation_accuracy"],
            row["mean_test_accuracy"],
        )
    write_json(out.with_suffix(".json"), {"data": base.get("data"), "seeds": seeds, "rows": rows})
    write_text(out, render(rows, seeds))
    return rows


def render(rows: list[dict[str, Any]], seeds: tuple[int, ...]) -> str:
    """The sweep as a Markdown table: one row per variant, means over the seeds, the baseline beside."""
    headers = (
        "variant",
        "validation",
        "test",
        "test per seed",
        "train time",
        "model",
        "baseline on the rows: validation / test",
        "baseline on our channel: validation / test",
    )
    table = [
        (
            row["variant"],
            f"{row['mean_validation_accuracy']:.4f}",
            f"{row['mean_test_accuracy']:.4f}",
            " / ".join(f"{r['test_accuracy']:.4f}" for r in row["runs"]),
            f"{row['mean_train_seconds']} s",
            f"{row['runs'][0]['size_bytes'] / 1e6:.0f} MB",
            *(
                f"{b['validation_accuracy']:.4f} / {b['test_accuracy']:.4f}" if b else ""
                for b in (row.get("baseline"), row.get("baseline_on_channel"))
            ),
        )
        for row in rows
    ]
    intro = f"Means over fastText seeds {', '.join(map(str, seeds))} (choose on validation)."
    return f"{intro}\n\n{markdown_table(headers, table)}\n"
