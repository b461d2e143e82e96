"""``invoke evaluate --model PATH|s3://…``: any model.tar.gz, evaluated on the prepared test split."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest
from invoke import Context
from invoke.exceptions import Exit

from ml.fsutil import file_digest
from ml.pipeline import TrainOutcome
from ops.infra.moto_server import MotoServer
from ops.settings import Settings

from .conftest import aws_settings

ARTIFACT_URL = "s3://models-bucket/dbpedia-classifier/output/blazingtext-job/output/model.tar.gz"


def _evaluate(settings: Settings, monkeypatch: pytest.MonkeyPatch, model: str) -> None:
    import tasks

    monkeypatch.setenv("DBP_BUILD_DIR", str(settings.build_dir))
    tasks.evaluate(Context(), model=model)


@pytest.mark.parametrize("where", ["s3", "path"])
def test_evaluate_writes_the_reports_into_a_folder_named_after_the_artifact_hash(
    where: str,
    aws: MotoServer,
    trained: tuple[Settings, TrainOutcome],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a model.tar.gz in S3 (as a SageMaker job leaves it) or on disk
    archive = trained[1].archive
    model = str(archive)
    if where == "s3":
        s3 = aws.client("s3")
        s3.create_bucket(Bucket="models-bucket")
        s3.upload_file(str(archive), "models-bucket", ARTIFACT_URL.split("/", 3)[3])
        model = ARTIFACT_URL
    settings = aws_settings(tmp_path, trained)
    # WHEN it is evaluated
    _evaluate(settings, monkeypatch, model)
    # THEN build/evaluations/<sha256 prefix>/ holds the reports, which name the artifact
    folder = settings.build_dir / "evaluations" / file_digest(archive)[:16]
    assert {"metrics.json", "metrics.md", "confusion_matrix.png"} <= {p.name for p in folder.iterdir()}
    report = json.loads((folder / "metrics.json").read_text())
    assert report["model"] == {"source": model, "sha256": file_digest(archive)}
    # AND the same model on the same test split scores what training reported
    assert report["test"]["accuracy"] == trained[1].test_accuracy
    out = capsys.readouterr().out
    assert (
        f"report: {folder / 'metrics.md'}" in out and f"test accuracy: {trained[1].test_accuracy:.4f}" in out
    )


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            "s3://models-bucket/nothing/model.tar.gz",
            "error: there is no object at s3://models-bucket/nothing/",
        ),
        ("not-a-url-or-file.tar.gz", "error: no model archive at not-a-url-or-file.tar.gz"),
    ],
)
def test_evaluate_of_a_missing_artifact_fails_with_one_line(
    model: str, message: str, aws: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an empty bucket  WHEN a missing artifact is evaluated  THEN exit 1 with the reason
    aws.client("s3").create_bucket(Bucket="models-bucket")
    monkeypatch.setenv("DBP_BUILD_DIR", str(tmp_path / "build"))
    import tasks

    with pytest.raises(Exit) as stopped:
        tasks.evaluate(Context(), model=model)
    assert stopped.value.code == 1 and str(stopped.value.message).startswith(message)


def test_every_train_and_evaluate_flag_has_help() -> None:
    import tasks

    for task in (tasks.train, tasks.evaluate):
        flags = set(inspect.signature(task.body).parameters) - {"c"}
        assert flags <= set(task.help), f"{task.name} lacks help for {sorted(flags - set(task.help))}"
