"""Versions on AWS against moto_server: model package groups and packages (create, describe, list, update of
the approval status), and the endpoint's alarms found by the metrics they watch."""

from __future__ import annotations

from typing import Any

from ml.aws import registry as packages
from ml.config import Settings
from ml.pipeline import TrainOutcome
from ml.rollout import APPROVED, PENDING, REJECTED, find
from ops.infra.moto_server import MotoServer

from .conftest import IMAGE

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


def test_the_endpoints_alarms_are_found_by_the_metrics_they_watch(aws: MotoServer) -> None:
    # GIVEN the two endpoint alarms monitoring.tf creates, and alarms on another endpoint and metric
    cloudwatch = aws.client("cloudwatch")
    _alarm(cloudwatch, "stack-endpoint-5xx", "Invocation5XXErrors", GROUP)
    _alarm(cloudwatch, "stack-endpoint-model-latency-p99", "ModelLatency", GROUP)
    _alarm(cloudwatch, "other-endpoint-5xx", "Invocation5XXErrors", "other-endpoint")
    _alarm(cloudwatch, "stack-invocations", "Invocations", GROUP)
    # WHEN the deploy looks for the alarms guarding the endpoint THEN it finds exactly those two
    assert packages.endpoint_alarms(cloudwatch, GROUP) == (
        "stack-endpoint-5xx",
        "stack-endpoint-model-latency-p99",
    )
    assert packages.endpoint_alarms(cloudwatch, "none-here") == ()
