"""The training pipeline end to end: data → splits → tokens → model → evaluation → package → deploy.

Each step reuses its output when its inputs did not change, so running it twice changes nothing.
The manifest is written last: a run that stops early leaves no manifest a later run would trust.
For target ``aws`` the model comes from a SageMaker training job (ml/sagemaker_train.py) and goes to a
SageMaker endpoint (ml/sagemaker_deploy.py); data preparation, evaluation, artifact and tfvars are shared.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import fasttext

from ml import data, deploy, evaluate, package, preprocess, train
from ml.config import Settings, log, settings_to_dict
from ml.fsutil import file_digest, write_json
from ml.report import build_report


class TrainError(RuntimeError):
    """Training finished but its result is not acceptable (e.g. below ``min_accuracy``)."""


@dataclass(frozen=True)
class TrainOutcome:
    """Where the pipeline's outputs are and how good the model is."""

    archive: Path
    manifest: Path
    report: Path
    test_accuracy: float
    reused: bool  # nothing was trained: the model (local) or the finished training job (aws) was reused


@dataclass(frozen=True)
class Evaluation:
    """Where ``evaluate_artifact`` put an artifact's reports, and its test accuracy."""

    archive: Path
    report: Path
    test_accuracy: float


# Writes the model archive at the given path; returns model.bin and what the manifest should add about it.
Producer = Callable[[Path], tuple[Path, dict[str, Any]]]


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


def prepare_data(settings: Settings) -> tuple[data.Dataset, preprocess.Prepared]:
    """Resolve the dataset and write (or reuse) its prepared train / validation / test files."""
    dataset = data.resolve_dataset(settings)
    log.info("dataset: %s (%s)", dataset.origin, dataset.folder)
    prepared = preprocess.prepare(dataset, lambda: data.make_splits(dataset, settings), settings)
    log.info("test split: %s", prepared.test_source)
    return dataset, prepared


def evaluate_model(
    model_bin: Path,
    dataset: data.Dataset,
    prepared: preprocess.Prepared,
    out: Path,
    train_seconds: float | None = None,
    **about: Any,
) -> dict[str, Any]:
    """Evaluate a ``model.bin`` (and the peer baseline, and slices); write the reports into ``out``."""
    model = fasttext.load_model(str(model_bin))
    full = {**about, **build_report(model, model_bin, train_seconds, prepared, dataset)}
    evaluate.write_reports(full, out)
    return full


def _train_locally(settings: Settings, prepared: preprocess.Prepared) -> Producer:
    def produce(archive: Path) -> tuple[Path, dict[str, Any]]:
        hp = settings.hyperparameters
        result = train.train(
            prepared.path("train"),
            prepared.path("validation"),
            settings.model_dir / "model.bin",
            hp,
            settings.threads,
            settings.seed,
        )
        package.pack(result.model_path, archive)
        return result.model_path, {
            "fasttext_args": train.fasttext_args(hp, settings.threads, settings.seed),
            "trained_epochs": result.epochs,
            "train_seconds": round(result.seconds, 2),
        }

    return produce


def _package(
    settings: Settings, dataset: data.Dataset, prepared: preprocess.Prepared, key: str, produce: Producer
) -> TrainOutcome:
    """Produce, evaluate and describe the model unless the manifest says it is up to date; check accuracy."""
    out = settings.model_dir
    archive, manifest_path = settings.model_archive, out / "manifest.json"
    manifest = _reusable(manifest_path, archive, key)
    reused = manifest is not None
    if manifest is not None:
        log.info("model is up to date (%s); nothing to train", archive)
    else:
        model_bin, details = produce(archive)
        report = evaluate_model(model_bin, dataset, prepared, out, details.get("train_seconds"))
        manifest = {
            "train_key": key,
            "model": {
                "archive": archive.name,
                "member": package.MODEL_MEMBER,
                "sha256": file_digest(archive),
                "bytes": archive.stat().st_size,
            },
            "hyperparameters": settings.hyperparameters.as_blazingtext(),
            **details,
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
    return TrainOutcome(archive, manifest_path, out / "metrics.md", accuracy, reused)


def run(settings: Settings) -> TrainOutcome:
    """Train, evaluate, package and deploy: locally (fastText, local endpoint) or on SageMaker (aws)."""
    if settings.target == "aws":
        from ml import sagemaker_deploy
        from ml import sagemaker_train as sm

        with sm.aws_errors():
            aws = sm.connect(settings)  # first: a missing role or credentials stop the run at once
            dataset, prepared = prepare_data(settings)
            job = sm.train(aws, settings, prepared)
            fetch = sm.artifact_producer(aws, job, settings.model_dir / "unpacked")
            outcome = _package(settings, dataset, prepared, f"sagemaker-{job.name}", fetch)
            sagemaker_deploy.deploy(
                aws.sagemaker,
                settings,
                image=aws.image,
                model_data=job.model_data,
                artifact_sha256=file_digest(outcome.archive),
                role_arn=aws.role_arn,
            )
        deploy.register_local(settings, outcome.archive)  # `invoke up` serves the SageMaker artifact as is
        return replace(outcome, reused=job.reused)
    dataset, prepared = prepare_data(settings)
    outcome = _package(
        settings, dataset, prepared, _train_key(prepared, settings), _train_locally(settings, prepared)
    )
    deploy.deploy_local(settings, outcome.archive)
    return outcome


def evaluate_artifact(settings: Settings, model: str) -> Evaluation:
    """Evaluate any ``model.tar.gz`` (a path or an ``s3://`` URL) on the prepared validation and test splits.

    The reports go to ``build/evaluations/<first 16 hex of the artifact's sha256>/``, beside its model.bin.
    """
    if model.startswith("s3://"):
        from ml import sagemaker_train as sm

        folder = settings.build_dir / "downloads" / hashlib.sha256(model.encode()).hexdigest()[:16]
        with sm.aws_errors():
            s3 = sm.boto_session(settings.region).client("s3")
            archive = sm.download(s3, model, folder / "model.tar.gz")
    else:
        archive = Path(model).expanduser()
        if not archive.is_file():
            raise package.ArtifactError(f"no model archive at {archive}")
    model_bin = package.unpack(archive, settings.build_dir / "evaluations")
    dataset, prepared = prepare_data(settings)
    about = {"model": {"source": model, "sha256": file_digest(archive)}}
    report = evaluate_model(model_bin, dataset, prepared, model_bin.parent, **about)
    return Evaluation(archive, model_bin.parent / "metrics.md", report["test"]["accuracy"])
