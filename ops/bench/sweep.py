"""``invoke sweep``: compare training settings over several fastText seeds, on validation and test.

Each variant is a set of setting overrides (``dropout_views=10,epochs=15``) on top of the current
settings; the current settings themselves are always the first row. Every variant prepares its data
(reused when only hyperparameters differ), trains once per seed, and optionally fits the peer baseline
on the train rows and on our train channel. Each model (and the peer fitted on the train rows) is also
scored on the slices of validation and test that look like what people type (``SLICES``: the titled
abstract, the abstract alone, its first sentence, that sentence's first words, the title alone). The peer
fitted on the train rows' first words alone shows how far a word model gets on that slice at best.
Choose on validation accuracy; test accuracy is there to report, not to tune. The tables land in
``build/sweep/sweep.md`` (+ ``.json``), so the tables in docs/model-quality.md can be re-run.
"""

from __future__ import annotations

import statistics
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ml import evaluate, preprocess
from ml.config import ConfigError, log, settings_to_dict
from ml.fsutil import write_json, write_text
from ml.report import accuracy
from ml.slices import SHORT_TOKENS, first_sentence, slice_texts
from ml.tables import markdown_table
from ops.settings import Settings, load_settings

# slice name -> its heading; "titled" is the split file itself (title and abstract, one line a row)
SLICES = {
    "titled": "titled",
    "content": "untitled",
    "first_sentence": "first sentence",
    "short": f"first {SHORT_TOKENS} tokens",
    "title": "title alone",
}
Sliced = dict[str, tuple[list[str], dict[str, list[str]]]]  # split -> (gold labels, slice -> token strings)


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


def sliced_splits(settings: Settings) -> Sliced:
    """The gold labels and every slice's token strings of the validation and test splits of ``settings``."""
    from ml import data, pipeline

    dataset, prepared = pipeline.prepare_data(settings)
    splits = data.make_splits(dataset, settings)
    out: Sliced = {}
    for name in ("validation", "test"):
        rows = prepared.test_rows() if name == "test" else splits.validation
        titled = evaluate.read_fasttext_file(prepared.path(name))
        texts = slice_texts(rows, preprocess.tokenize)
        out[name] = (
            titled.labels,
            {"titled": titled.texts, **{k: texts[k] for k in SLICES if k != "titled"}},
        )
    return out


def slice_scores(predict: Any, sliced: Sliced) -> dict[str, float]:
    """``{"validation:titled": accuracy, …}``: ``predict`` (token strings → labels) on every slice."""
    return {
        f"{split}:{name}": accuracy(gold, predict(texts))
        for split, (gold, by_slice) in sliced.items()
        for name, texts in by_slice.items()
    }


def seed_runs(
    settings: Settings, seeds: tuple[int, ...], sliced: Sliced | None = None
) -> list[dict[str, Any]]:
    """Validation and test accuracy of a model trained with ``settings`` once per fastText seed, and with
    ``sliced`` its accuracy on those slices.

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
            if sliced is not None:
                record["slices"] = slice_scores(partial(evaluate.predict_labels, model), sliced)
            record.update(train_seconds=round(result.seconds, 2), size_bytes=model_bin.stat().st_size)
            runs.append(record)
            model_bin.unlink()
    return runs


def baseline_run(
    settings: Settings, train_file: str = preprocess.BASELINE_TRAIN, sliced: Sliced | None = None
) -> dict[str, Any]:
    """The peer baseline fitted on one prepared train file of ``settings``: validation and test accuracy,
    and with ``sliced`` its accuracy on those slices.

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
    if sliced is not None:
        out["slices"] = slice_scores(peer.predict, sliced)
    return out


def first_words_peer(settings: Settings, sliced: Sliced) -> dict[str, float]:
    """The peer fitted on the train rows' first ``SHORT_TOKENS`` tokens alone, scored on that slice of
    validation and test: what a word model made for that slice only reaches on these rows (issue 28)."""
    from ml import baseline, data, pipeline

    dataset, _ = pipeline.prepare_data(settings)
    rows = data.make_splits(dataset, settings).train
    texts = [" ".join(preprocess.tokenize(first_sentence(r.content))[:SHORT_TOKENS]) for r in rows]
    peer = baseline.fit(evaluate.Labelled([dataset.classes[r.label] for r in rows], texts))
    return {
        f"{split}:short": accuracy(gold, peer.predict(by_slice["short"]))
        for split, (gold, by_slice) in sliced.items()
    }


def _mean(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.fmean(r[key] for r in runs)


def _mean_slices(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {key: statistics.fmean(r["slices"][key] for r in runs) for key in runs[0]["slices"]}


def _split_digest(settings: Settings) -> str:
    """What the peer and the slices depend on: the train rows, validation and test files of ``settings``."""
    from ml import pipeline
    from ml.fsutil import file_digest

    _, prepared = pipeline.prepare_data(settings)
    return "".join(file_digest(prepared.path(n)) for n in (preprocess.BASELINE_TRAIN, "validation", "test"))


def run(
    base: dict[str, Any], variants: list[Variant], seeds: tuple[int, ...], with_baseline: bool, out: Path
) -> list[dict[str, Any]]:
    """Sweep: the settings ``base`` gives, then each variant on top of them; write ``out`` (+ JSON).

    The peer fitted on the train rows is always scored (whole splits and slices), once per distinct split;
    ``with_baseline`` adds the peer fitted on each variant's train channel.
    """
    from ml import pipeline

    rows = []
    on_channel: dict[str, dict[str, Any]] = {}  # the peer fitted on a train channel, by prepared-data key
    # by split: its slices, the peer on the train rows, and the peer on their first words alone
    by_split: dict[str, tuple[Sliced, dict[str, Any], dict[str, float]]] = {}
    for variant in [Variant("current settings", {}), *variants]:
        settings = load_settings(**{**base, **variant.overrides})
        log.info("sweep: %s (%d seeds)", variant.name, len(seeds))
        split = _split_digest(settings)
        if split not in by_split:
            sliced = sliced_splits(settings)
            by_split[split] = (
                sliced,
                baseline_run(settings, sliced=sliced),
                first_words_peer(settings, sliced),
            )
        sliced, peer, short_peer = by_split[split]
        runs = seed_runs(settings, seeds, sliced)
        row = {
            "variant": variant.name,
            "settings": {
                "dropout_views": settings.dropout_views,
                **settings_to_dict(settings)["hyperparameters"],
            },
            "runs": runs,
            "mean_validation_accuracy": _mean(runs, "validation_accuracy"),
            "mean_test_accuracy": _mean(runs, "test_accuracy"),
            "mean_slices": _mean_slices(runs),
            "mean_train_seconds": round(_mean(runs, "train_seconds"), 2),
            "baseline": peer,
            "peer_on_first_words": short_peer,
        }
        if with_baseline:
            key = pipeline.prepare_data(settings)[1].key
            if key not in on_channel:
                on_channel[key] = baseline_run(settings, "train")
            row["baseline_on_channel"] = on_channel[key]
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
    """The sweep as Markdown: one row per variant (means over the seeds, the baseline beside), then the
    slices of validation and test, each variant against the peer fitted on the train rows."""
    headers = (
        "variant",
        "validation",
        "test",
        "test per seed",
        "train time",
        "model.bin",
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
            f"{row['runs'][0]['size_bytes'] / 1e6:.2f} MB",
            *(
                f"{b['validation_accuracy']:.4f} / {b['test_accuracy']:.4f}" if b else ""
                for b in (row.get("baseline"), row.get("baseline_on_channel"))
            ),
        )
        for row in rows
    ]
    intro = f"Means over fastText seeds {', '.join(map(str, seeds))} (choose on validation)."
    parts = [f"{intro}\n\n{markdown_table(headers, table)}\n"]
    for split in ("validation", "test"):
        peer = rows[0]["baseline"]["slices"]
        lines = [("peer (TF-IDF 1-2-grams + LinearSVC, train rows)", *(peer[f"{split}:{k}"] for k in SLICES))]
        lines += [(row["variant"], *(row["mean_slices"][f"{split}:{k}"] for k in SLICES)) for row in rows]
        cells = [(name, *(f"{v:.4f}" for v in values)) for name, *values in lines]
        parts.append(f"Slices of {split}:\n\n{markdown_table(('model', *SLICES.values()), cells)}\n")
    short = rows[0]["peer_on_first_words"]
    parts.append(
        f"The peer fitted on the train rows' first {SHORT_TOKENS} tokens alone (made for that slice only), "
        f"on that slice: validation {short['validation:short']:.4f}, test {short['test:short']:.4f}.\n"
    )
    return "\n".join(parts)
