"""The training pipeline end to end: data → splits → tokens → model → evaluation → package → deploy.

Each step reuses its output when its inputs did not change, so running it twice changes nothing.
Every model lives in its own version folder, ``build/model/versions/<first 16 hex of its sha256>/``
(docs/model-versions.md): a run writes the new one beside the deployed one, evaluates it, writes its
manifest last, and only then switches the local endpoint registry to it in one atomic write. A run that
stops early leaves the deployed model as it was, and the next run removes what it left.
Target ``aws`` (ml/aws/pipeline.py) shares the data preparation, evaluation and versions; only its
trainer and endpoint differ.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import fasttext

from ml import (
    data,
    deploy,
    drift,
    evaluate,
    feedback,
    model_card,
    package,
    page,
    preprocess,
    train,
    versions,
    vocabulary,
)
from ml.config import ModelSettings, log, settings_to_dict
from ml.fsutil import file_digest, remove_temps, write_json
from ml.labels import label_names
from ml.package import ARCHIVE, MANIFEST, MODEL_MEMBER
from ml.report import build_report
from ml.train import TrainError


@dataclass(frozen=True)
class TrainOutcome:
    """Where the pipeline's outputs are and how good the model is."""

    archive: Path  # the deployed version's files
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


# Writes the model archive at the given path (in a scratch folder it may also use for model.bin);
# returns model.bin and what the manifest should add about it.
Producer = Callable[[Path], tuple[Path, dict[str, Any]]]


def _versions() -> dict[str, str]:
    names = ("fasttext-community", "nltk", "numpy")
    return {"python": platform.python_version(), **{n: metadata.version(n) for n in names}}


def _train_key(
    prepared: preprocess.Prepared, settings: ModelSettings, fed: feedback.ForTraining | None = None
) -> str:
    parts = [prepared.key, asdict(settings.hyperparameters), settings.seed]
    parts += [fed.sha256] if fed is not None else []  # accepted feedback makes another version
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def remove_leftovers(settings: ModelSettings) -> list[Path]:
    """Remove what killed runs left: temporary entries and version folders without a manifest.

    Runs before a training run writes anything. Two ``invoke train`` runs on one build folder at the same
    time are not supported: each would remove the other's unfinished version.
    """
    root = versions.versions_dir(settings)
    removed = remove_temps(root) + remove_temps(settings.model_dir)
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.is_dir() and not (folder / MANIFEST).exists():
            shutil.rmtree(folder)
            removed.append(folder)
    for target in (settings.endpoint_registry, settings.tfvars_path):
        removed += remove_temps(target.parent, target.name)
    if removed:
        log.info("removed what an interrupted run left: %s", ", ".join(str(p) for p in removed))
    return removed


def prepare_data(settings: ModelSettings) -> tuple[data.Dataset, preprocess.Prepared]:
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
    **about: dict[str, Any],
) -> dict[str, Any]:
    """Evaluate a ``model.bin`` (and the peer baseline, and slices); write the reports into ``out``."""
    model = fasttext.load_model(str(model_bin))
    full = {**about, **build_report(model, model_bin, train_seconds, prepared, dataset)}
    evaluate.write_reports(full, out)
    return full


def accepted_feedback(settings: ModelSettings, dataset: data.Dataset) -> feedback.ForTraining | None:
    """The accepted feedback as train lines when ``--with-feedback`` asks for it (both targets), else None;
    FeedbackError when it asks and a person accepted nothing with this data's labels."""
    return feedback.for_training(settings.build_dir, dataset.classes) if settings.with_feedback else None


def _train_locally(
    settings: ModelSettings, prepared: preprocess.Prepared, fed: feedback.ForTraining | None = None
) -> Producer:
    """Train on the prepared train channel, with the accepted feedback's lines after it when ``fed``."""

    def produce(archive: Path) -> tuple[Path, dict[str, Any]]:
        hp = settings.hyperparameters
        rows = prepared.path("train")
        if fed is not None:  # beside the model, in the run's scratch folder: removed with it
            rows = fed.channel(rows, archive.with_name("train-with-feedback.txt"))
        result = train.train(
            rows,
            prepared.path("validation"),
            archive.with_name(MODEL_MEMBER),
            hp,
            settings.threads,
            settings.seed,
        )
        package.pack(result.model_path, archive)
        details: dict[str, Any] = {
            "fasttext_args": train.fasttext_args(hp, settings.threads, settings.seed),
            "trained_epochs": result.epochs,
            "train_seconds": round(result.seconds, 2),
        }
        return result.model_path, details

    return produce


def with_feedback_slice(
    settings: ModelSettings, produce: Producer, fed: feedback.ForTraining | None, old: Path | None
) -> Producer:
    """``produce``, whose details also record the accepted feedback (``fed``) and the accuracy on it of the
    new model and of ``old``, the archive deployed before it (None: none was); ``produce`` itself when no
    feedback was asked for. Both targets' trainers go through it."""
    if fed is None:
        return produce

    def produced(archive: Path) -> tuple[Path, dict[str, Any]]:
        model_bin, details = produce(archive)
        cache = settings.build_dir / "endpoint-cache"
        before = feedback.accuracy_on(package.unpack(old, cache), fed) if old and old.exists() else None
        new = feedback.accuracy_on(model_bin, fed)
        log.info("accuracy on %d accepted feedback items: new model %s, old %s", len(fed.items), new, before)
        return model_bin, {**details, "feedback": {**fed.record(), "accuracy": {"new": new, "old": before}}}

    return produced


def package_version(
    settings: ModelSettings, dataset: data.Dataset, prepared: preprocess.Prepared, key: str, produce: Producer
) -> tuple[Path, bool]:
    """Produce, evaluate and describe a new version unless one exists for ``key``; check its accuracy.

    Returns the version folder and whether it was reused; nothing is deployed here.
    """
    found = versions.find_trained(settings, key)
    if found is not None:
        folder, manifest = found
        log.info("model is up to date (%s); nothing to train", folder)
    else:
        versions.versions_dir(settings).mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".run.", dir=versions.versions_dir(settings)))
        try:
            model_bin, details = produce(scratch / ARCHIVE)
            folder, existing = versions.place(settings, scratch / ARCHIVE)
            manifest = existing or _describe(settings, dataset, prepared, key, folder, model_bin, details)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    accuracy = manifest["metrics"]["test_accuracy"]
    if accuracy < settings.min_accuracy:
        raise TrainError(
            f"test accuracy {accuracy:.4f} is below min_accuracy {settings.min_accuracy}; "
            f"see {folder / 'metrics.md'}"
        )
    return folder, found is not None


def _describe(
    settings: ModelSettings,
    dataset: data.Dataset,
    prepared: preprocess.Prepared,
    key: str,
    folder: Path,
    model_bin: Path,
    details: dict[str, Any],
) -> dict[str, Any]:
    """Evaluate the version in ``folder`` and write its manifest, last: from then on it is finished."""
    archive = folder / ARCHIVE
    fed = {"feedback": details["feedback"]} if "feedback" in details else {}  # the accepted items' slice
    report = evaluate_model(model_bin, dataset, prepared, folder, details.get("train_seconds"), **fed)
    # the words the Lambda will ship, derived now: the live metrics' band judges validation rows with them
    splits = data.make_splits(dataset, settings)  # the raw rows (a fraction of a second to read again)
    words = vocabulary.ensure(
        archive,
        settings.build_dir / "endpoint-cache",
        prepared.path(preprocess.BASELINE_TRAIN),
        lambda: splits,
    )
    band = drift.derive(model_bin, splits.validation, words, dataset.classes, settings.min_known_percent)
    manifest = {
        "train_key": key,
        "created": datetime.now(UTC).date().isoformat(),
        "model": {
            "archive": archive.name,
            "member": MODEL_MEMBER,
            "sha256": file_digest(archive),
            "bytes": archive.stat().st_size,
        },
        "hyperparameters": settings.hyperparameters.as_blazingtext(),
        **details,
        "labels": dataset.classes,
        "label_names": label_names(dataset.classes),  # token -> the user's label (ml/labels.py)
        "tokenizer": preprocess.text_tokenizer().SCHEME,
        "data": {
            "origin": dataset.origin,
            "own": dataset.own is not None,  # the model card names DBPedia's licence, or says it is yours
            "sha256": dataset.sha256,
            "splits": prepared.counts,
            "test_source": prepared.test_source,
            "test_sha256": file_digest(prepared.path("test")),  # the gate compares on the same split
        },
        "metrics": {
            "validation_accuracy": report["validation"]["accuracy"],
            "test_accuracy": report["test"]["accuracy"],
            "test_macro_f1": report["test"]["macro_f1"],
            "test_per_class_f1": {name: m["f1"] for name, m in report["test"]["per_class"].items()},
        },
        "slices": report["slices"],
        "drift_band": band,  # ml/drift.py: what the live metrics' alarms compare with
        "settings": settings_to_dict(settings),
        "versions": _versions(),
    }
    model_card.write(folder, manifest)  # the manifest comes last: a folder without one is unfinished
    write_json(folder / MANIFEST, manifest)
    log.info("packaged version %s", folder)
    return manifest


def register_approval(settings: ModelSettings, folder: Path) -> versions.Version:
    """The new version, recorded Approved when ``settings.approve`` asks (else it stays pending)."""
    version = versions.find(versions.versions_dir(settings), folder.name)
    if settings.approve and version.status != versions.APPROVED:
        approval = versions.set_approval(version, versions.APPROVED, "approved at registration (--approve)")
        version = replace(version, approval=approval)
    return version


def live_version(settings: ModelSettings) -> versions.Version | None:
    """The version the local registry names live for ``settings.endpoint_name``, if it is a finished one."""
    archive = deploy.registered_archive(settings)
    if archive is None or not (archive.parent / MANIFEST).is_file():
        return None
    return versions.find(archive.parent.parent, archive.parent.name)


def gate(
    settings: ModelSettings,
    candidate: versions.Version,
    prepared: preprocess.Prepared,
    live: versions.Version | None,
) -> None:
    """The quality gate before a deploy (ml.versions.check_gate). A live version trained on other labels is
    refused (ml.versions.check_labels); one measured on another test split than the candidate is first
    evaluated on the candidate's (accuracy only, not recorded)."""
    measured = None
    if live is not None:
        if live.id != candidate.id:
            versions.check_labels(candidate, live)
        accuracy = live.test_accuracy
        if live.id != candidate.id and (
            candidate.test_split is None or live.test_split != candidate.test_split
        ):
            model_bin = package.unpack(live.archive, settings.build_dir / "evaluations")
            labels = live.manifest["labels"]
            accuracy = evaluate.evaluate_file(
                fasttext.load_model(str(model_bin)), prepared.path("test"), labels
            )["accuracy"]
            log.info("live version %s evaluated on today's test split: %.4f", live.id, accuracy)
        measured = (live.id, accuracy)
    versions.check_gate(candidate, measured, settings.gate_margin, settings.unapproved_ok)


def deployed(settings: ModelSettings, reused: bool) -> TrainOutcome:
    """The outcome as the registry now names it: the deployed version's archive, manifest and report."""
    archive, manifest = deploy.registered_archive(settings), deploy.registered_manifest(settings)
    assert archive is not None and manifest is not None, "called after register_local"
    accuracy = json.loads(manifest.read_text(encoding="utf-8"))["metrics"]["test_accuracy"]
    return TrainOutcome(archive, manifest, archive.with_name("metrics.md"), accuracy, reused)


def run(settings: ModelSettings) -> TrainOutcome:
    """Train with fastText, evaluate, package and deploy to the local endpoint (aws: ml/aws/pipeline.py)."""
    remove_leftovers(settings)
    dataset, prepared = prepare_data(settings)
    shown = page.describe(dataset, settings)  # a bad labels.json stops the run before any training
    fed = accepted_feedback(settings, dataset)
    key = _train_key(prepared, settings, fed)
    produce = with_feedback_slice(
        settings, _train_locally(settings, prepared, fed), fed, deploy.registered_archive(settings)
    )
    folder, reused = package_version(settings, dataset, prepared, key, produce)
    gate(settings, register_approval(settings, folder), prepared, live_version(settings))
    page.write(folder, shown)  # what the page shows of this version (docs/own-data.md)
    train_rows = prepared.path(preprocess.BASELINE_TRAIN)  # the vocabulary's topics are counted in them
    splits = partial(data.make_splits, dataset, settings)  # the learned rule's rows, read only if needed
    deploy.deploy_local(
        settings, folder / ARCHIVE, train_rows, splits
    )  # the switch: one write of the registry
    return deployed(settings, reused)


def evaluate_artifact(settings: ModelSettings, archive: Path, source: str | None = None) -> Evaluation:
    """Evaluate any ``model.tar.gz`` on the prepared validation and test splits (``source``: its origin).

    The reports go to ``build/evaluations/<first 16 hex of the artifact's sha256>/``, beside its model.bin.
    """
    archive = archive.expanduser()
    if not archive.is_file():
        raise package.ArtifactError(f"no model archive at {archive}")
    model_bin = package.unpack(archive, settings.build_dir / "evaluations")
    dataset, prepared = prepare_data(settings)
    about = {"model": {"source": source or str(archive), "sha256": file_digest(archive)}}
    report = evaluate_model(model_bin, dataset, prepared, model_bin.parent, None, **about)
    return Evaluation(archive, model_bin.parent / "metrics.md", report["test"]["accuracy"])


def rollback_target(settings: ModelSettings, to: str | None) -> versions.Version:
    """The version ``to`` names, or the newest earlier live one; it must be approved (or allowed)."""
    entry = deploy.live_entry(settings) or {}
    every = versions.versions(versions.versions_dir(settings))
    target = (
        versions.find(versions.versions_dir(settings), to)
        if to
        else versions.rollback_target(entry, every, settings.unapproved_ok)
    )
    versions.check_gate(target, None, settings.gate_margin, settings.unapproved_ok)
    if target.manifest.get("tokenizer") != preprocess.text_tokenizer().SCHEME or not versions.intact(
        target.folder, target.manifest
    ):
        raise versions.GateError(
            f"version {target.id} cannot be served: its archive changed or its tokenizer differs"
        )
    return target


def rollback(settings: ModelSettings, to: str | None = None) -> str:
    """Put an earlier version back on the local endpoint, without training (``invoke rollback``); its id."""
    target = rollback_target(settings, to)
    deploy.register_local(settings, target.archive)
    log.info("local endpoint %r serves version %s again", settings.endpoint_name, target.id)
    return target.id


def list_versions(settings: ModelSettings) -> list[versions.Listed]:
    """Every local version, oldest first, and which one the local endpoint serves (``invoke models``)."""
    live = (deploy.live_entry(settings) or {}).get("version")
    return versions.listed(versions.versions(versions.versions_dir(settings)), live)


def approve(settings: ModelSettings, version_id: str, status: str) -> str:
    """Approve or reject a local version (``invoke approve``); what now holds which status, in words."""
    found = versions.find(versions.versions_dir(settings), version_id)
    versions.set_approval(found, status)
    return f"version {found.id}: {status}"
