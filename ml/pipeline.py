"""The training pipeline end to end: data → splits → tokens → model → evaluation → package → deploy.

Each step reuses its output when its inputs did not change, so running it twice changes nothing.
The manifest is written last: a run that stops early leaves no manifest a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import fasttext

from ml import data, deploy, evaluate, package, preprocess, train
from ml.config import Settings, log, settings_to_dict
from ml.fsutil import file_digest, write_json


class TrainError(RuntimeError):
    """Training finished but its result is not acceptable (e.g. below ``min_accuracy``)."""


@dataclass(frozen=True)
class TrainOutcome:
    """Where the pipeline's outputs are and how good the model is."""

    archive: Path
    manifest: Path
    report: Path
    test_accuracy: float
    reused: bool


def _versions() -> dict[str, str]:
    names = ("fasttext-community", "nltk", "numpy")
    return {"python": platform.python_version(), **{n: metadata.version(n) for n in names}}


def _train_key(prepared: preprocess.Prepared, settings: Settings) -> str:
    parts = [prepared.key, asdict(settings.hyperparameters), settings.seed]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _reusable(manifest_path: Path, archive: Path, key: str) -> dict[str, Any] | None:
    """The existing manifest if it describes this exact training and its archive is intact."""
    if not (manifest_path.exists() and archive.exists()):
        return None
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("train_key") == key and manifest.get("model", {}).get("sha256") == file_digest(archive):
        return manifest
    return None


def run(settings: Settings) -> TrainOutcome:
    """Run the local training pipeline and deploy the result to the local endpoint."""
    dataset = data.resolve_dataset(settings)
    log.info("dataset: %s (%s)", dataset.origin, dataset.folder)
    prepared = preprocess.prepare(dataset, lambda: data.make_splits(dataset, settings), settings)
    log.info("test split: %s", prepared.test_source)

    out = settings.model_dir
    archive, manifest_path = settings.model_archive, out / "manifest.json"
    key = _train_key(prepared, settings)
    manifest = _reusable(manifest_path, archive, key)
    reused = manifest is not None
    if manifest is not None:
        log.info("model is up to date (%s); nothing to train", archive)
    else:
        hp = settings.hyperparameters
        result = train.train(
            prepared.path("train"),
            prepared.path("validation"),
            out / "model.bin",
            hp,
            settings.threads,
            settings.seed,
        )
        model = fasttext.load_model(str(result.model_path))
        report = {
            "dataset": dataset.origin,
            "dataset_sha256": dataset.sha256,
            "test_source": prepared.test_source,
            "validation": evaluate.evaluate_file(model, prepared.path("validation"), dataset.classes),
            "test": evaluate.evaluate_file(model, prepared.path("test"), dataset.classes),
        }
        evaluate.write_reports(report, out)
        package.pack(result.model_path, archive)
        manifest = {
            "train_key": key,
            "model": {
                "archive": archive.name,
                "member": package.MODEL_MEMBER,
                "sha256": file_digest(archive),
                "bytes": archive.stat().st_size,
            },
            "hyperparameters": settings.hyperparameters.as_blazingtext(),
            "fasttext_args": train.fasttext_args(settings.hyperparameters, settings.threads, settings.seed),
            "trained_epochs": result.epochs,
            "train_seconds": round(result.seconds, 2),
            "labels": dataset.classes,
            "tokenizer": preprocess.text_tokenizer().SCHEME,
            "data": {
                "origin": dataset.origin,
                "sha256": dataset.sha256,
                "splits": prepared.counts,
                "test_source": prepared.test_source,
            },
            "metrics": {
                "validation_accuracy": report["validation"]["accuracy"],
                "test_accuracy": report["test"]["accuracy"],
                "test_macro_f1": report["test"]["macro_f1"],
            },
            "settings": settings_to_dict(settings),
            "versions": _versions(),
        }
        write_json(manifest_path, manifest)
        log.info("packaged %s (manifest %s)", archive, manifest_path)

    accuracy = manifest["metrics"]["test_accuracy"]
    if accuracy < settings.min_accuracy:
        raise TrainError(
            f"test accuracy {accuracy:.4f} is below min_accuracy {settings.min_accuracy}; "
            f"see {out / 'metrics.md'}"
        )
    if settings.target == "local":
        deploy.deploy_local(settings, archive)
    return TrainOutcome(archive, manifest_path, out / "metrics.md", accuracy, reused)
