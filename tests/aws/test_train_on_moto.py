"""``invoke train --target aws`` end to end on moto_server: channels, job, artifact, endpoint, tfvars, the
version's deploy inputs (a clean checkout plans and applies a model trained elsewhere in
tests/rehearsal/test_rehearse.py, as the CI roles).

One pipeline run for the module. moto marks the job Completed at once and writes no artifact: a hook standing
in for the BlazingText container (tests/aws/conftest.py) puts a real model.tar.gz, trained locally on the
shipped sample by the ``trained`` fixture, where the job's artifact goes, and BlazingText's final log lines
into the job's CloudWatch log stream. The tests run in file order; the last two delete the endpoint, then what
train left beside it (`invoke destroy --all`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from ml import pipeline, preprocess, vocabulary
from ml.aws import pipeline as sagemaker_pipeline
from ml.aws import store
from ml.aws.deploy import resource_names
from ml.aws.resources import EndpointResources, find_endpoint_resources
from ml.deploy import EndpointCapacity, registered_archive
from ml.fsutil import file_digest
from ml.pipeline import TrainOutcome
from ml.predict import Predictor
from ops.infra.destroy import destroy
from ops.infra.errors import InfraError
from ops.infra.inputs import read_endpoint_vars, refuse_local_endpoint
from ops.infra.moto_server import MotoServer
from ops.infra.terraform import terraform_binary
from ops.local.endpoint import start_endpoint
from ops.local.stack import model_to_serve
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON, in_ci

from .conftest import (
    ACCOUNT,
    BUCKET,
    IMAGE,
    REGION,
    ROLE_ARN,
    Hooks,
    aws_settings,
    container_stand_in,
    point_at,
    reset,
)

PREFIX = "dbpedia-classifier"


@dataclass
class Deployed:
    """The module's one ``--target aws`` run and what it ran against."""

    settings: Settings
    outcome: TrainOutcome
    artifact: Path  # the real model.tar.gz the container stand-in put in S3
    moto: MotoServer
    hooks: Hooks

    def client(self, service: str) -> Any:
        return self.moto.client(service)

    def prepared(self) -> preprocess.Prepared:
        return pipeline.prepare_data(self.settings)[1]

    def job(self) -> dict[str, Any]:
        sagemaker = self.client("sagemaker")
        [summary] = sagemaker.list_training_jobs()["TrainingJobSummaries"]
        return sagemaker.describe_training_job(TrainingJobName=summary["TrainingJobName"])


@pytest.fixture(scope="module")
def deployed(
    moto_aws: MotoServer, trained: tuple[Settings, TrainOutcome], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        reset(moto_aws)
        point_at(moto_aws, monkeypatch)
        hooks = Hooks(monkeypatch)
        artifact = trained[1].archive
        hooks.on("after-call.sagemaker.CreateTrainingJob", container_stand_in(moto_aws, artifact))
        settings = aws_settings(tmp_path_factory.mktemp("aws"), trained, approve=True)
        yield Deployed(settings, sagemaker_pipeline.run(settings), artifact, moto_aws, hooks)


def test_train_and_validation_channels_are_uploaded_under_the_prepared_data_key(deployed: Deployed) -> None:
    # GIVEN the run's prepared files  WHEN we list the bucket
    prepared = deployed.prepared()
    s3 = deployed.client("s3")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/data/")["Contents"]
    # THEN exactly train and validation are there (not test), byte for byte, as text/plain with their sha256
    assert sorted(item["Key"] for item in listed) == [
        f"{PREFIX}/data/{prepared.key}/train/train.txt",
        f"{PREFIX}/data/{prepared.key}/validation/validation.txt",
    ]
    for name in ("train", "validation"):
        stored = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/data/{prepared.key}/{name}/{name}.txt")
        assert stored["Body"].read() == prepared.path(name).read_bytes()
        assert stored["ContentType"] == "text/plain"
        assert stored["Metadata"] == {"sha256": file_digest(prepared.path(name))}


def test_training_job_runs_blazingtext_with_the_local_hyperparameters_and_text_channels(
    deployed: Deployed,
) -> None:
    # GIVEN the run's only training job  WHEN SageMaker describes it
    job = deployed.job()
    prepared = deployed.prepared()
    # THEN it ran the built-in BlazingText image in supervised mode with the local trainer's hyperparameters
    assert job["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert job["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    hyperparameters = deployed.settings.hyperparameters
    assert job["HyperParameters"] == {
        "mode": "supervised",
        "epochs": str(hyperparameters.epochs),
        "learning_rate": str(hyperparameters.learning_rate),
        "vector_dim": str(hyperparameters.vector_dim),
        "word_ngrams": str(hyperparameters.word_ngrams),
        "min_count": str(hyperparameters.min_count),
        "buckets": str(hyperparameters.buckets),
    }
    assert job["HyperParameters"] == hyperparameters.as_blazingtext()
    # AND read the uploaded prefixes as text/plain channels
    channels = {channel["ChannelName"]: channel for channel in job["InputDataConfig"]}
    assert sorted(channels) == ["train", "validation"]
    for name, channel in channels.items():
        assert channel["ContentType"] == "text/plain"
        assert channel["DataSource"]["S3DataSource"] == {
            "S3DataType": "S3Prefix",
            "S3Uri": f"s3://{BUCKET}/{PREFIX}/data/{prepared.key}/{name}/",
            "S3DataDistributionType": "FullyReplicated",
        }
    # AND its name starts with the content key, on the configured instance, role and output path
    manifest = json.loads(deployed.outcome.manifest.read_text())
    assert job["TrainingJobName"].startswith(f"blazingtext-{manifest['sagemaker']['key']}-")
    assert job["ResourceConfig"]["InstanceType"] == "ml.c5.xlarge"
    assert job["ResourceConfig"]["InstanceCount"] == 1
    assert job["RoleArn"] == ROLE_ARN
    assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/{PREFIX}/output"


def test_the_job_s_artifact_is_downloaded_unchanged_evaluated_locally_and_described(
    deployed: Deployed,
) -> None:
    # GIVEN the run's training job and the artifact the container stand-in wrote for it
    job = deployed.job()
    settings, outcome = deployed.settings, deployed.outcome
    # THEN the deployed version's model.tar.gz holds exactly the job's bytes
    assert outcome.archive == registered_archive(settings)
    assert outcome.archive.read_bytes() == deployed.artifact.read_bytes()
    # AND it was evaluated on the test split by the same code as a local run (same model, same accuracy)
    report = json.loads(outcome.report.with_name("metrics.json").read_text())
    assert report["test"]["n"] == deployed.prepared().counts["test"]
    assert outcome.test_accuracy == report["test"]["accuracy"] >= 0.9
    # AND the manifest names the job, its artifact and the accuracies BlazingText logged
    manifest = json.loads(outcome.manifest.read_text())
    assert manifest["train_key"] == f"sagemaker-{job['TrainingJobName']}"
    assert manifest["model"]["sha256"] == file_digest(deployed.artifact)
    record = manifest["sagemaker"]
    assert record["training_job"] == job["TrainingJobName"]
    assert record["model_data"] == job["ModelArtifacts"]["S3ModelArtifacts"]
    assert (record["train_accuracy"], record["validation_accuracy"]) == (0.9961, 0.9766)
    assert record["image"] == IMAGE
    assert not outcome.reused


def test_endpoint_serves_the_artifact_on_the_configured_instances(deployed: Deployed) -> None:
    # GIVEN the names derived from the artifact's hash
    digest = file_digest(deployed.artifact)
    model_name, config_name = resource_names(deployed.settings, digest)
    sagemaker = deployed.client("sagemaker")
    # THEN the endpoint is InService on that config
    endpoint = sagemaker.describe_endpoint(EndpointName="dbpedia-classifier")
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", config_name)
    # AND the config runs that model on one ml.t2.medium, and the model is BlazingText with the job's artifact
    variants = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)["ProductionVariants"]
    assert [(v["ModelName"], v["InstanceType"], v["InitialInstanceCount"]) for v in variants] == [
        (model_name, "ml.t2.medium", 1)
    ]
    model = sagemaker.describe_model(ModelName=model_name)
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"] == deployed.job()["ModelArtifacts"]["S3ModelArtifacts"]
    assert model["ExecutionRoleArn"] == ROLE_ARN
    assert model_name == f"dbpedia-classifier-{digest[:16]}"


def test_tfvars_name_the_real_endpoint_and_region_for_terraform(deployed: Deployed) -> None:
    # WHEN Terraform's input file is read
    tfvars = json.loads(deployed.settings.tfvars_path.read_text())
    # THEN it carries the endpoint's ARN in the account, the region, the public runtime URL and the
    # deployed artifact's sha256, whose vocabulary (for the Lambda zip) was derived beside it
    assert tfvars == {
        "endpoint_name": "dbpedia-classifier",
        "endpoint_arn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/dbpedia-classifier",
        "aws_region": REGION,
        "sagemaker_runtime_url": f"https://runtime.sagemaker.{REGION}.amazonaws.com",
        "endpoint_capacity": {"mode": "instance", "instance_type": "ml.t2.medium", "instance_count": 1},
        "model_sha256": file_digest(deployed.outcome.archive),
        "model_store_uri": f"s3://{BUCKET}/{PREFIX}/models",
    }
    assert vocabulary.path_for(deployed.outcome.archive).is_file()
    # AND `invoke infra --target aws` accepts it (it refuses the local endpoint's tfvars)
    refuse_local_endpoint(read_endpoint_vars(deployed.settings.tfvars_path))


def test_the_downloaded_sagemaker_artifact_is_served_by_the_local_endpoint_unchanged(
    deployed: Deployed,
) -> None:
    # GIVEN the artifact as downloaded from the job's output, registered for the local endpoint (as
    # `invoke up` finds it) and served by the local endpoint server
    settings = deployed.settings
    archive = model_to_serve(settings)
    assert archive == deployed.outcome.archive.resolve()
    server = start_endpoint(
        Predictor.from_archive(archive, settings.build_dir / "endpoint-cache"),
        "dbpedia-classifier",
    )
    try:
        # WHEN the seed's example is sent through the SageMaker runtime API
        runtime = boto3.client("sagemaker-runtime", endpoint_url=server.url, region_name=REGION)
        body = {"instances": [" ".join(preprocess.tokenize(WALTER_JOHNSON))], "configuration": {"k": 2}}
        response = runtime.invoke_endpoint(
            EndpointName="dbpedia-classifier", ContentType="application/json", Body=json.dumps(body)
        )
        # THEN it answers as BlazingText does: Athlete first
        answer = json.loads(response["Body"].read())
        assert answer[0]["label"][0] == "__label__Athlete" and len(answer[0]["prob"]) == 2
    finally:
        server.shutdown()
        server.server_close()


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_a_second_run_reuses_the_job_uploads_nothing_and_changes_nothing(deployed: Deployed) -> None:
    # GIVEN the finished run, and a record of every upload and every SageMaker create or update call
    settings = deployed.settings
    calls = deployed.hooks.count(
        "before-call.s3.PutObject",
        "before-call.s3.CreateMultipartUpload",
        "before-call.sagemaker.CreateTrainingJob",
        "before-call.sagemaker.CreateModel",
        "before-call.sagemaker.CreateEndpointConfig",
        "before-call.sagemaker.CreateEndpoint",
        "before-call.sagemaker.UpdateEndpoint",
    )
    before = _snapshot(settings.build_dir) | _snapshot(settings.terraform_dir)
    # WHEN it runs again with the same data and settings
    again = sagemaker_pipeline.run(settings)
    # THEN the finished job is reused, nothing is uploaded or created, and no local file is rewritten
    assert again.reused
    assert calls == []
    assert len(deployed.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]) == 1
    assert _snapshot(settings.build_dir) | _snapshot(settings.terraform_dir) == before


def test_the_trained_version_is_an_approved_model_package_and_the_live_one(deployed: Deployed) -> None:
    # GIVEN the run with --approve  WHEN the endpoint's model package group is read from moto
    settings = deployed.settings
    found, live = sagemaker_pipeline.list_packages(settings)
    # THEN it holds one package: the artifact's S3 URI and image, the version's checksums and evaluation
    (package,) = found
    manifest = json.loads(deployed.outcome.manifest.read_text())
    assert package.status == "Approved" and package.version == live == deployed.outcome.archive.parent.name
    assert package.model_data == deployed.job()["ModelArtifacts"]["S3ModelArtifacts"]
    assert package.metadata["data_sha256"] == manifest["data"]["sha256"]
    assert package.metadata["tokenizer"] == manifest["tokenizer"]
    assert float(package.metadata["test_accuracy"]) == pytest.approx(manifest["metrics"]["test_accuracy"])
    assert package.metadata["hp.epochs"] == manifest["hyperparameters"]["epochs"]
    assert len([k for k in package.metadata if k.startswith("f1.")]) == len(manifest["labels"])


def test_the_version_s_deploy_inputs_are_stored_beside_the_artifact_and_named_in_its_package(
    deployed: Deployed,
) -> None:
    # GIVEN the run's version  WHEN its folder in the bucket and its model package are read
    folder, sha = deployed.outcome.archive.parent, file_digest(deployed.outcome.archive)
    s3 = deployed.client("s3")
    (package,) = sagemaker_pipeline.list_packages(deployed.settings)[0]
    # THEN the archive, the vocabulary and the manifest (with the metrics) are under models/<sha256>/ beside
    # the project's other objects, byte for byte with their sha256, and the package names that folder
    for name in store.FILES:
        stored = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/models/{sha}/{name}")
        assert stored["Body"].read() == (folder / name).read_bytes()
        assert stored["Metadata"] == {"sha256": file_digest(folder / name)}
    assert package.metadata["deploy_inputs"] == f"s3://{BUCKET}/{PREFIX}/models/{sha}/"


def test_destroy_endpoint_finds_and_deletes_exactly_what_train_created(deployed: Deployed) -> None:
    # GIVEN what `invoke destroy --target aws --endpoint` finds: exactly what train created
    sagemaker = deployed.client("sagemaker")
    model_name, config_name = resource_names(deployed.settings, file_digest(deployed.artifact))
    resources = find_endpoint_resources(sagemaker, "dbpedia-classifier")
    assert resources == EndpointResources(
        "dbpedia-classifier", config_name, (model_name,), EndpointCapacity("instance", "ml.t2.medium", 1)
    )
    if terraform_binary() is None:
        (pytest.fail if in_ci() else pytest.skip)("terraform is not on PATH (the task runs terraform init)")
    # WHEN the task's function runs for the aws target (no stack was applied: an empty state)
    said: list[str] = []
    report = destroy(deployed.settings, endpoint=True, yes=True, echo=said.append)
    # THEN it listed the endpoint, its config and model with the endpoint's hourly cost, and removed them
    assert report.removed and any(config_name in line for line in report.listed)
    assert any("dbpedia-classifier" in line and "an hour" in line for line in report.billing), report.billing
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []


def test_destroy_all_lists_then_removes_the_packages_and_the_s3_prefix_and_sets_log_retention(
    deployed: Deployed,
) -> None:
    # GIVEN what train left besides the endpoint: its model package and group, the objects under the
    # project's prefix (channels, job output, the model's deploy inputs), the training jobs' log group
    # (as SageMaker makes it: no retention), and an object of someone else beside the prefix
    s3, logs = deployed.client("s3"), deployed.client("logs")
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}-other/keep.txt", Body=b"not the project's")
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/")["Contents"]]
    (package,) = sagemaker_pipeline.list_packages(deployed.settings)[0]
    # (moto 5.2 implements neither DeleteModelPackage nor DeleteModelPackageGroup: those two requests are
    # recorded and answered as SageMaker does, with an empty 200)
    deletes: list[tuple[str, dict[str, Any]]] = []

    def answered(params: dict[str, Any], model: Any, **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        deletes.append((model.name, json.loads(params["body"])))
        return AWSResponse(deployed.moto.url, 200, {}, None), {}

    for operation in ("DeleteModelPackage", "DeleteModelPackageGroup"):
        deployed.hooks.on(f"before-call.sagemaker.{operation}", answered)
    # WHEN `invoke destroy --target aws --all --dry-run` runs, then the same without --dry-run, declined
    said: list[str] = []
    listed = destroy(deployed.settings, everything=True, dry_run=True, echo=said.append)
    with pytest.raises(InfraError, match="cancelled"):
        destroy(deployed.settings, everything=True, confirm=lambda _: False, echo=said.append)
    # THEN it listed each and removed nothing
    assert f"model package {package.arn}" in listed.listed
    assert "model package group dbpedia-classifier" in listed.listed
    assert any(line.startswith(f"s3://{BUCKET}/{PREFIX}/: {len(keys)} objects") for line in listed.listed)
    assert any(line.startswith("log group /aws/sagemaker/TrainingJobs: kept") for line in listed.listed)
    assert len(s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/")["Contents"]) == len(keys)
    assert deletes == []
    # AND with --yes it removes them: the package, then its group, nothing under the prefix (the neighbour
    # stays), and the training jobs' logs now expire
    removed = destroy(deployed.settings, everything=True, yes=True, echo=said.append)
    assert removed.removed
    assert deletes == [
        ("DeleteModelPackage", {"ModelPackageName": package.arn}),
        ("DeleteModelPackageGroup", {"ModelPackageGroupName": "dbpedia-classifier"}),
    ]
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/")
    assert s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}-other/keep.txt")["Body"].read() == b"not the project's"
    [group] = logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/TrainingJobs")["logGroups"]
    assert group["retentionInDays"] == 14
    # AND a second run finds no object and no log group left to do (moto still lists the package)
    again = destroy(deployed.settings, everything=True, dry_run=True, echo=said.append).listed
    assert not [line for line in again if line.startswith(("s3://", "log group"))]
