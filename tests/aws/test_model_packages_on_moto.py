"""Versions on AWS against moto_server: model package groups and packages (create, describe, list, update of
the approval status), and the endpoint's alarms found by the metrics they watch."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from ml.aws import pipeline as sagemaker_pipeline
from ml.aws import versions as packages
from ml.aws.deploy import deploy, resource_names
from ml.aws.session import SageMakerError
from ml.pipeline import TrainOutcome
from ml.versions import APPROVED, PENDING, REJECTED, find
from ops.infra.moto_server import MotoServer
from ops.settings import Settings
from tests.helpers import make_settings

from .conftest import IMAGE, ROLE_ARN, Hooks

GROUP = "dbpedia-classifier"
DATA = "s3://bucket/dbpedia-classifier/output/job/output/model.tar.gz"


def _alarm(cloudwatch: Any, name: str, metric: str, endpoint: str) -> None:
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[
            {"Name": "EndpointName", "Value": endpoint},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
    )


def test_a_version_becomes_a_pending_package_that_is_listed_approved_and_rejected(
    aws: MotoServer, trained: tuple[Settings, TrainOutcome]
) -> None:
    settings, outcome = trained
    version = find(settings.model_dir / "versions", outcome.archive.parent.name)
    sha = version.manifest["model"]["sha256"]
    client = aws.client("sagemaker")
    # WHEN the version is registered without --approve
    package = packages.register(
        client, GROUP, version, image=IMAGE, model_data=DATA, artifact_sha256=sha, approve=False
    )
    # THEN the group exists and the package describes the artifact, image, checksums and evaluation, pending
    assert client.describe_model_package_group(ModelPackageGroupName=GROUP)["ModelPackageGroupName"] == GROUP
    described = client.describe_model_package(ModelPackageName=package.arn)
    assert described["ModelApprovalStatus"] == PENDING == package.status
    container = described["InferenceSpecification"]["Containers"][0]
    assert (container["ModelDataUrl"], container["Image"]) == (DATA, IMAGE)
    meta = described["CustomerMetadataProperties"]
    assert meta["version"] == version.id and meta["artifact_sha256"] == sha
    assert meta["data_sha256"] == version.manifest["data"]["sha256"]
    assert meta["test_sha256"] == version.manifest["data"]["test_sha256"]
    assert float(meta["test_macro_f1"]) == round(version.manifest["metrics"]["test_macro_f1"], 6)
    per_class = version.manifest["metrics"]["test_per_class_f1"]
    assert {k.removeprefix("f1."): float(v) for k, v in meta.items() if k.startswith("f1.")} == {
        k: round(v, 6) for k, v in per_class.items()
    }
    # AND registering it again (with --approve) finds the same package and approves it: listed once
    again = packages.register(
        client, GROUP, version, image=IMAGE, model_data=DATA, artifact_sha256=sha, approve=True
    )
    assert again.arn == package.arn and again.status == APPROVED
    assert [(p.arn, p.status) for p in packages.packages(client, GROUP)] == [(package.arn, APPROVED)]
    # AND an update of the approval status is what moto then describes
    rejected = packages.set_status(client, again, REJECTED, "worse on the latest data")
    assert rejected.status == REJECTED
    assert client.describe_model_package(ModelPackageName=package.arn)["ModelApprovalStatus"] == REJECTED
    # AND a group that does not exist lists nothing
    assert packages.packages(client, "no-such-group") == []


def test_a_package_registered_before_its_deploy_inputs_were_stored_gets_them_named(
    aws: MotoServer, trained: tuple[Settings, TrainOutcome]
) -> None:
    # GIVEN a package registered without deploy inputs (before the model store existed)
    settings, outcome = trained
    version = find(settings.model_dir / "versions", outcome.archive.parent.name)
    sha = version.manifest["model"]["sha256"]
    client = aws.client("sagemaker")
    first = packages.register(
        client, GROUP, version, image=IMAGE, model_data=DATA, artifact_sha256=sha, approve=True
    )
    assert "deploy_inputs" not in first.metadata
    # WHEN the same version is registered with them
    inputs = f"s3://bucket/dbpedia-classifier/models/{sha}/"
    again = packages.register(
        client,
        GROUP,
        version,
        image=IMAGE,
        model_data=DATA,
        artifact_sha256=sha,
        approve=True,
        deploy_inputs=inputs,
    )
    # THEN the one package names them, and keeps what it recorded before
    assert again.arn == first.arn and again.metadata == {**first.metadata, "deploy_inputs": inputs}
    assert [p.metadata.get("deploy_inputs") for p in packages.packages(client, GROUP)] == [inputs]


def test_the_endpoints_alarms_are_found_by_the_metrics_they_watch(aws: MotoServer) -> None:
    # GIVEN the two endpoint alarms monitoring.tf creates, and alarms on another endpoint and metric
    cloudwatch = aws.client("cloudwatch")
    _alarm(cloudwatch, "stack-endpoint-5xx", "Invocation5XXErrors", GROUP)
    _alarm(cloudwatch, "stack-endpoint-model-latency-p99", "ModelLatency", GROUP)
    _alarm(cloudwatch, "other-endpoint-5xx", "Invocation5XXErrors", "other-endpoint")
    _alarm(cloudwatch, "stack-invocations", "Invocations", GROUP)
    # WHEN the deploy looks for the alarms guarding the endpoint THEN it finds exactly those two
    assert packages.endpoint_alarms(cloudwatch, GROUP) == (
        ("stack-endpoint-5xx", "stack-endpoint-model-latency-p99"),
        (),
    )
    assert packages.endpoint_alarms(cloudwatch, "none-here") == ((), ())
    # AND one of them in ALARM is named as firing (what stops a guarded update: ml/aws/deploy.py)
    cloudwatch.set_alarm_state(AlarmName="stack-endpoint-5xx", StateValue="ALARM", StateReason="test")
    assert packages.endpoint_alarms(cloudwatch, GROUP)[1] == ("stack-endpoint-5xx",)


def test_rollback_puts_the_earlier_approved_package_back_through_the_guarded_update(
    aws: MotoServer, hooks: Hooks, trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    """moto has the endpoint, packages and alarms, but no UpdateEndpoint: a ``before-call`` hook records the
    request and answers it as SageMaker does; moto's endpoint then still serves the old config, which is
    what SageMaker shows after an automatic rollback, so this is also the rolled-back outcome end to end."""
    trained_settings, outcome = trained
    settings = make_settings(tmp_path, target="aws", role_arn=ROLE_ARN)
    client, cloudwatch = aws.client("sagemaker"), aws.client("cloudwatch")
    # GIVEN two approved packages, A (older) and B, the endpoint serving B, and the endpoint's two alarms
    version_a = find(trained_settings.model_dir / "versions", outcome.archive.parent.name)
    sha_a, sha_b = version_a.manifest["model"]["sha256"], "b" * 64
    version_b = replace(version_a, id=sha_b[:16])
    for version, sha in ((version_a, sha_a), (version_b, sha_b)):
        packages.register(
            client,
            GROUP,
            version,
            image=IMAGE,
            model_data=f"{DATA}.{sha[:4]}",
            artifact_sha256=sha,
            approve=True,
        )
    deploy(
        client,
        settings,
        image=IMAGE,
        model_data=f"{DATA}.bbbb",
        artifact_sha256=sha_b,
        role_arn=ROLE_ARN,
        poll_seconds=1,
    )
    _alarm(cloudwatch, "stack-endpoint-5xx", "Invocation5XXErrors", GROUP)
    _alarm(cloudwatch, "stack-endpoint-model-latency-p99", "ModelLatency", GROUP)
    updates: list[dict[str, Any]] = []

    def update_endpoint(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        updates.append(json.loads(params["body"]))
        return AWSResponse(f"{aws.url}/", 200, {}, None), {
            "EndpointArn": f"arn:aws:sagemaker:::endpoint/{GROUP}"
        }

    hooks.on("before-call.sagemaker.UpdateEndpoint", update_endpoint)
    created: list[dict[str, Any]] = []
    hooks.on("provide-client-params.sagemaker.CreateModel", lambda params, **_: created.append(dict(params)))
    # WHEN rolled back without --to
    with pytest.raises(
        SageMakerError, match=r"did not take the new config .* \(rolled back\) and still serves"
    ):
        sagemaker_pipeline.rollback(settings, None)
    # THEN A's package (artifact, image) was sent as a blue/green update guarded by both alarms
    model_a, config_a = resource_names(settings, sha_a)
    (update,) = updates
    assert update["EndpointConfigName"] == config_a
    assert update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"] == [
        {"AlarmName": "stack-endpoint-5xx"},
        {"AlarmName": "stack-endpoint-model-latency-p99"},
    ]
    (model,) = created
    assert model["ModelName"] == model_a
    assert model["PrimaryContainer"] == {"Image": IMAGE, "ModelDataUrl": f"{DATA}.{sha_a[:4]}"}
    # AND after the rollback the endpoint still serves B, A's config is gone again and B's resources stay
    assert sagemaker_pipeline.live_id(client, GROUP) == sha_b[:16]
    assert [c["EndpointConfigName"] for c in client.list_endpoint_configs()["EndpointConfigs"]] == [
        resource_names(settings, sha_b)[1]
    ]
    assert [m["ModelName"] for m in client.list_models()["Models"]] == [resource_names(settings, sha_b)[0]]
