"""``invoke train --target aws --with-feedback`` on moto_server: the accepted feedback reaches the SageMaker
train channel, the manifest records it as a local run does, and the accepted-feedback slice is reported for
the endpoint's old model and the new one.

moto marks a training job Completed at once and writes no artifact. The first run (no feedback) gets the
session's trained model from ``container_stand_in``; the feedback run's job gets ``trainer_stand_in``
(tests/aws/conftest.py), which trains real fastText on the channels the job was given, so the new model is
made of what was uploaded. The feedback run is not approved, so it stops before the endpoint's update (moto
lacks UpdateEndpoint; tests/aws/test_endpoint_update_stubbed.py covers it), with its version made, evaluated
and registered pending: everything this feature adds happens before that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ml import feedback, package, pipeline, versions
from ml.aws import pipeline as sagemaker_pipeline
from ml.pipeline import TrainOutcome
from ml.preprocess import tokenize
from ops.infra.moto_server import MotoServer
from ops.settings import Settings
from ops.targets import select
from tests.helpers import put_feedback, real_texts, reviewed_feedback

from .conftest import (
    BUCKET,
    IMAGE,
    ROLE_ARN,
    Handler,
    Hooks,
    aws_settings,
    container_stand_in,
    point_at,
    reset,
    trainer_stand_in,
)

PREFIX = "dbpedia-classifier"
CREATE_JOB = "after-call.sagemaker.CreateTrainingJob"


@dataclass
class Run:
    """The module's runs: without feedback (the old model), then with the accepted feedback."""

    settings: Settings
    old: TrainOutcome
    new: versions.Version  # the feedback run's version, pending approval
    moto: MotoServer
    hooks: Hooks
    accepted: list[tuple[str, str]]  # (label, text) a person accepted
    refused: list[str]  # texts rejected or not reviewed

    def jobs(self) -> list[dict[str, Any]]:
        """The training jobs, oldest first, described."""
        sagemaker = self.moto.client("sagemaker")
        summaries = sorted(
            sagemaker.list_training_jobs()["TrainingJobSummaries"], key=lambda s: s["CreationTime"]
        )
        return [sagemaker.describe_training_job(TrainingJobName=s["TrainingJobName"]) for s in summaries]


@pytest.fixture(scope="module")
def runs(
    moto_aws: MotoServer, trained: tuple[Settings, TrainOutcome], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Run]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        reset(moto_aws)
        point_at(moto_aws, monkeypatch)
        hooks = Hooks(monkeypatch)
        stand_in: list[Handler] = [container_stand_in(moto_aws, trained[1].archive)]
        hooks.on(CREATE_JOB, lambda **kwargs: stand_in[0](**kwargs))
        settings = aws_settings(tmp_path_factory.mktemp("aws-feedback"), trained, approve=True)
        old = sagemaker_pipeline.run(settings)
        # feedback on real DBPedia texts of the test split: six accepted, one rejected (poisoned), one waiting
        folder = feedback.folder_of(settings.build_dir)
        texts = real_texts(settings)
        reviewed_feedback(folder, texts)
        stand_in[0] = trainer_stand_in(moto_aws, settings.threads, settings.seed)
        with pytest.raises(versions.GateError, match=r"is PendingManualApproval .*nothing deployed"):
            with_feedback = settings.replace(with_feedback=True, approve=False)
            select(with_feedback).train(with_feedback, None)  # as `invoke train --target aws --with-feedback`
        [new] = [v for v in versions.versions(versions.versions_dir(settings)) if v.archive != old.archive]
        yield Run(settings, old, new, moto_aws, hooks, texts[:6], [texts[6][1], texts[7][1]])


def test_nothing_accepted_stops_the_run_before_a_job_starts(
    aws: MotoServer, trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    # GIVEN feedback that nobody accepted: one rejected, one not reviewed
    settings = aws_settings(tmp_path, trained, with_feedback=True)
    folder = feedback.folder_of(settings.build_dir)
    put_feedback(folder, "r1", "Some text", "Company", "Film", "2026-12-01T10:00:00Z")
    feedback.decide(folder, "r1", "reject")
    put_feedback(folder, "u1", "Other text", "Company", "Film", "2026-12-01T11:00:00Z")
    # WHEN the aws target trains with feedback  THEN it stops with what to do, and no job was started
    with pytest.raises(
        feedback.FeedbackError, match=r"no accepted feedback .* run `invoke feedback --review` first"
    ):
        sagemaker_pipeline.run(settings)
    assert aws.client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


def test_an_endpoint_serving_a_version_not_here_stops_the_run_before_a_job_starts(
    aws: MotoServer, trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    # GIVEN accepted feedback, and an endpoint serving a version this build folder does not have (the
    # feedback slice's old model could not be measured)
    settings = aws_settings(tmp_path, trained, with_feedback=True)
    folder = feedback.folder_of(settings.build_dir)
    put_feedback(folder, "a1", "Acme Corp makes anvils.", "Company", "Company", "2026-12-01T10:00:00Z")
    feedback.decide(folder, "a1", "accept")
    sagemaker, model = aws.client("sagemaker"), f"{PREFIX}-feedfeedfeedfeed"
    sagemaker.create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": f"s3://{BUCKET}/elsewhere/model.tar.gz"},
    )
    variant = {"VariantName": "AllTraffic", "ModelName": model, "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{model}-cfg", ProductionVariants=[{**variant, "InstanceType": "ml.t2.medium"}]
    )
    sagemaker.create_endpoint(EndpointName=PREFIX, EndpointConfigName=f"{model}-cfg")
    # WHEN it trains with the feedback  THEN it stops naming the version, before any job is paid for
    with pytest.raises(versions.GateError, match="serves version feedfeedfeedfeed, which is not in"):
        sagemaker_pipeline.run(settings)
    assert sagemaker.list_training_jobs()["TrainingJobSummaries"] == []


def test_the_train_channel_holds_the_prepared_rows_and_the_accepted_items_only(runs: Run) -> None:
    # GIVEN the two runs' jobs and the prepared rows
    first, second = runs.jobs()
    prepared = pipeline.prepare_data(runs.settings)[1]
    fed = feedback.for_training(runs.settings.build_dir, json.loads(runs.old.manifest.read_text())["labels"])
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in second["InputDataConfig"]}
    # THEN the feedback run's train channel has a prefix of its own, named by the items' digest, and the
    # validation channel is the prepared one, as in the first run
    train_key = f"{PREFIX}/data/{prepared.key}-feedback-{fed.sha256[:16]}/train/"
    assert channels == {
        "train": f"s3://{BUCKET}/{train_key}",
        "validation": f"s3://{BUCKET}/{PREFIX}/data/{prepared.key}/validation/",
    }
    assert second["TrainingJobName"] != first["TrainingJobName"]
    # AND it holds the prepared train rows, then each accepted item once, tokenized, under its label
    s3 = runs.moto.client("s3")
    uploaded = s3.get_object(Bucket=BUCKET, Key=train_key + "train.txt")["Body"].read().decode()
    prepared_rows = prepared.path("train").read_text(encoding="utf-8")
    assert uploaded == prepared_rows + "".join(fed.lines)
    added = uploaded[len(prepared_rows) :].splitlines()
    assert [line.split(" ", 1)[0] for line in added] == [f"__label__{label}" for label, _ in runs.accepted]
    # AND neither the rejected nor the unreviewed text is in it
    for text in runs.refused:
        assert " ".join(tokenize(text)) not in uploaded
    # AND the first run's train channel is untouched: the prepared rows alone
    plain = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/data/{prepared.key}/train/train.txt")["Body"].read()
    assert plain.decode() == prepared_rows


def test_the_manifest_records_the_items_and_their_slice_for_the_endpoint_s_old_model_and_the_new(
    runs: Run,
) -> None:
    # GIVEN the new version's manifest and both models, unpacked
    manifest = runs.new.manifest
    fed = feedback.for_training(runs.settings.build_dir, manifest["labels"])
    cache = runs.settings.build_dir / "check"
    old_bin, new_bin = (
        package.unpack(o.archive, cache / o.archive.parent.name) for o in (runs.old, runs.new)
    )
    # THEN it names the accepted items exactly, as a local run does (ml/feedback.py ForTraining.record)
    recorded = manifest["feedback"]
    assert {k: recorded[k] for k in ("items", "ids", "sha256")} == fed.record()
    assert recorded["ids"] == [f"ok{n}" for n in range(6)]
    # AND the slice is each model's accuracy on those items: the old one is what the endpoint served
    assert recorded["accuracy"] == {
        "new": feedback.accuracy_on(new_bin, fed),
        "old": feedback.accuracy_on(old_bin, fed),
    }
    # AND the new version came from the feedback job, and is registered as a model package awaiting approval
    assert manifest["sagemaker"]["training_job"] == runs.jobs()[1]["TrainingJobName"]
    found, live = sagemaker_pipeline.list_packages(runs.settings)
    assert [(p.version, p.status) for p in found] == [
        (runs.old.archive.parent.name, "Approved"),
        (runs.new.id, "PendingManualApproval"),
    ]
    assert live == runs.old.archive.parent.name


def test_the_same_accepted_feedback_again_reuses_the_job_and_uploads_nothing(runs: Run) -> None:
    # GIVEN a record of every upload and training job started
    calls = runs.hooks.count(
        "before-call.s3.PutObject",
        "before-call.s3.CreateMultipartUpload",
        "before-call.sagemaker.CreateTrainingJob",
    )
    before = {v.id for v in versions.versions(versions.versions_dir(runs.settings))}
    # WHEN the feedback run is repeated with the same decisions (still not approved)
    with pytest.raises(versions.GateError, match=f"version {runs.new.id} is PendingManualApproval"):
        sagemaker_pipeline.run(runs.settings.replace(with_feedback=True, approve=False))
    # THEN the finished job and its version are reused: nothing uploaded, nothing trained, no new version
    assert calls == []
    assert {v.id for v in versions.versions(versions.versions_dir(runs.settings))} == before
