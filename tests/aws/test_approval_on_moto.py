"""Approval on the first paid run: a version trained without --approve is shown with its metrics, deployed
only once approved at the prompt; with no terminal the run stops before any deploy and says how to finish."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.aws import pipeline as sagemaker_pipeline
from ml.aws import versions as packages
from ml.pipeline import TrainOutcome
from ml.versions import APPROVED, PENDING, GateError, Version
from ops.infra.moto_server import MotoServer
from ops.settings import Settings

from .conftest import Hooks, aws_settings, container_stand_in


def test_without_approval_the_paid_run_stops_before_the_deploy_and_names_the_commands_that_finish_it(
    hooks: Hooks, aws: MotoServer, trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    # GIVEN a training job that completes (the container stand-in writes its artifact), no --approve
    hooks.on("after-call.sagemaker.CreateTrainingJob", container_stand_in(aws, trained[1].archive))
    settings = aws_settings(tmp_path, trained)
    # WHEN the pipeline runs without anyone to ask
    with pytest.raises(GateError) as refused:
        sagemaker_pipeline.run(settings)
    # THEN it says the version is pending, trained and paid, and how to approve and deploy it on AWS
    message = str(refused.value)
    version = message.split()[1]
    assert f"is {PENDING} (trained and paid for; nothing deployed)" in message
    assert (
        f"`invoke approve {version} --target aws`" in message
        and "`invoke train --target aws` again" in message
    )
    # AND nothing was deployed, and the version waits as a pending model package
    client = aws.client("sagemaker")
    assert client.list_endpoints()["Endpoints"] == []
    assert [p.status for p in packages.packages(client, settings.endpoint_name)] == [PENDING]


def test_a_version_approved_at_the_prompt_is_deployed_and_its_package_approved(
    hooks: Hooks, aws: MotoServer, trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    # GIVEN the same run, with a person at the prompt who reads the metrics and approves
    hooks.on("after-call.sagemaker.CreateTrainingJob", container_stand_in(aws, trained[1].archive))
    settings = aws_settings(tmp_path, trained)
    shown: list[Version] = []

    def review(version: Version) -> bool:
        shown.append(version)
        return True

    # WHEN the pipeline runs
    sagemaker_pipeline.run(settings, review)
    # THEN the prompt saw the pending version with its test accuracy, and the endpoint serves it
    assert [v.status for v in shown] == [PENDING] and shown[0].test_accuracy > 0.5
    client = aws.client("sagemaker")
    assert client.describe_endpoint(EndpointName=settings.endpoint_name)["EndpointStatus"] == "InService"
    assert sagemaker_pipeline.live_id(client, settings.endpoint_name) == shown[0].id
    # (moto's UpdateModelPackage drops the package's metadata when the call does not repeat it, where AWS
    # keeps it: the package is checked by its approval, the version by the endpoint's model)
    (package,) = packages.packages(client, settings.endpoint_name)
    assert package.status == APPROVED


def test_the_prompt_shows_the_versions_metrics_and_approves_only_on_yes(
    trained: tuple[Settings, TrainOutcome],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from commands import model as tasks
    from ml.versions import find

    settings, outcome = trained
    version = find(settings.model_dir / "versions", outcome.archive.parent.name)
    for answer, approved in (("y", True), ("yes\n", True), ("", False), ("n", False)):
        monkeypatch.setattr("builtins.input", lambda question, a=answer: a)
        assert tasks.approval_prompt(version) is approved
    shown = capsys.readouterr().out
    metrics = version.manifest["metrics"]
    assert f"version {version.id} is trained: test accuracy {metrics['test_accuracy']:.4f}" in shown
    assert "lowest class F1 " in shown and str(version.archive.with_name("metrics.md")) in shown
