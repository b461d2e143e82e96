"""Train a supervised fastText model from BlazingText hyperparameters (the local target).

BlazingText's supervised artifact is a fastText ``model.bin``, so the local trainer writes the same
file the SageMaker job would. Names map as BlazingText documents them: ``epochs``→``epoch``,
``learning_rate``→``lr``, ``vector_dim``→``dim``, ``word_ngrams``→``wordNgrams``,
``min_count``→``minCount``, ``buckets``→``bucket``; softmax loss, as BlazingText's supervised mode.

Early stopping (``early_stopping``, ``patience``, ``min_epochs``): fastText cannot stop mid-run, so the
trainer fits ``min_epochs``, ``min_epochs + 1`` … ``epochs`` epochs and keeps the model with the best
validation accuracy, stopping once ``patience`` fits in a row did not improve on it.

A fit that diverges (fastText's ``Encountered NaN``) is a ``TrainError`` naming ``learning_rate``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import fasttext
from tqdm import tqdm

from ml.config import log
from ml.errors import ProjectError
from ml.fsutil import brief
from ml.hyperparameters import Hyperparameters


class TrainError(ProjectError):
    """Training did not give an acceptable model (it diverged, or it is below ``min_accuracy``)."""


@dataclass(frozen=True)
class TrainResult:
    """What training produced: the model file, the epochs used, validation accuracy and wall time."""

    model_path: Path
    epochs: int
    validation_accuracy: float
    seconds: float


# BlazingText name -> fastText ``train_supervised`` name: the one map, for training and tuning.
FASTTEXT_NAMES = {
    "epochs": "epoch",
    "learning_rate": "lr",
    "vector_dim": "dim",
    "word_ngrams": "wordNgrams",
    "min_count": "minCount",
    "buckets": "bucket",
}


def fasttext_args(hp: Hyperparameters, threads: int, seed: int) -> dict[str, Any]:
    """fastText ``train_supervised`` arguments for BlazingText hyperparameters."""
    values = asdict(hp)
    return {
        **{fasttext: values[blazingtext] for blazingtext, fasttext in FASTTEXT_NAMES.items()},
        "loss": "softmax",
        "thread": threads,
        "seed": seed,
    }


def accuracy(model: Any, path: Path) -> float:
    """Share of lines in a fastText file whose top prediction is the true label (precision@1)."""
    n, precision, _ = model.test(str(path))
    return float(precision) if n else 0.0


def _fit(train_path: Path, args: dict[str, Any], verbose: int) -> Any:
    """fastText's supervised fit; a TrainError that names the learning rate when it diverges."""
    try:
        return fasttext.train_supervised(input=str(train_path), verbose=verbose, **args)
    except RuntimeError as exc:
        if "NaN" not in str(exc):
            raise
        raise TrainError(
            f"training diverged at learning_rate {args['lr']:g} (fastText: {brief(exc).rstrip('.')}); "
            f"try a lower --learning-rate (DBP_LEARNING_RATE), e.g. {args['lr'] / 10:g}"
        ) from None


def train(
    train_path: Path, validation_path: Path, out: Path, hp: Hyperparameters, threads: int, seed: int
) -> TrainResult:
    """Fit the model and save it to ``out`` (``model.bin``); return what was trained.

    ``out`` is written only after training succeeded, by rename, so a crash leaves no partial model.
    """
    start = time.perf_counter()
    args = fasttext_args(hp, threads, seed)
    verbose = 2 if sys.stderr.isatty() else 0  # fastText's own progress line, on a terminal
    if hp.early_stopping:
        best, best_epochs, best_acc, stale = None, 0, -1.0, 0
        with tqdm(range(hp.min_epochs, hp.epochs + 1), desc="training (early stopping)", unit="fit") as bar:
            for epochs in bar:
                model = _fit(train_path, {**args, "epoch": epochs}, verbose=0)
                acc = accuracy(model, validation_path)
                bar.set_postfix(epochs=epochs, val_acc=f"{acc:.4f}")
                if acc > best_acc:
                    best, best_epochs, best_acc, stale = model, epochs, acc, 0
                else:
                    stale += 1
                    if stale >= hp.patience:
                        log.info("early stopping: no gain for %d fits; best at %d epochs", stale, best_epochs)
                        break
        model, epochs = best, best_epochs
    else:
        log.info("training fastText: %s", ", ".join(f"{k}={v}" for k, v in args.items()))
        model = _fit(train_path, args, verbose)
        epochs = hp.epochs
    val_acc = accuracy(model, validation_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    model.save_model(str(tmp))
    tmp.replace(out)
    seconds = time.perf_counter() - start
    log.info("trained in %.1f s: %d epochs, validation accuracy %.4f -> %s", seconds, epochs, val_acc, out)
    return TrainResult(out, epochs, val_acc, seconds)
