"""Versions on AWS: a SageMaker model package group named after the endpoint, one package per artifact.

Each package carries the artifact's S3 URI and the BlazingText image (``InferenceSpecification``) and, as
``CustomerMetadataProperties``, the version id, the artifact and data checksums, the tokenizer scheme, the
hyperparameters, the evaluation (test accuracy, macro-F1, per-class F1) and ``deploy_inputs``, the S3 folder
of the version's deploy inputs (ml/aws/store.py); as ``ModelCard``, the version's model card
(ml/model_card.py). It is created PendingManualApproval unless approved at registration; ``invoke approve
--target aws`` updates it. The endpoint's alarms (terraform/monitoring.tf) are found by the metrics they
watch, not by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ml import model_card
from ml.aws.deploy import VARIANT
from ml.config import log
from ml.lambda_src import contract
from ml.versions import APPROVED, PENDING, Listed, Version

CONTENT_TYPES = [contract.JSON]
ALARMED_METRICS = ("Invocation5XXErrors", "ModelLatency")  # the endpoint's alarms in terraform/monitoring.tf


@dataclass(frozen=True)
class Package:
    """One model package: its ARN, the version it holds, approval, where its artifact is, when it was made."""

    arn: str
    version: str
    status: str
    model_data: str
    image: str
    metadata: dict[str, str]
    created: datetime | None = None


def metadata(version: Version, artifact_sha256: str, deploy_inputs: str = "") -> dict[str, str]:
    """What a package records about a version (string values, at most 50 keys, as SageMaker accepts)."""
    manifest, metrics = version.manifest, version.manifest["metrics"]
    data = manifest.get("data", {})
    values = {
        "version": version.id,
        "artifact_sha256": artifact_sha256,
        "data_sha256": str(data.get("sha256", "")),
        "test_sha256": str(data.get("test_sha256", "")),
        "tokenizer": str(manifest.get("tokenizer", "")),
        "test_accuracy": f"{metrics['test_accuracy']:.6f}",
        "test_macro_f1": f"{metrics['test_macro_f1']:.6f}",
        **({"deploy_inputs": deploy_inputs} if deploy_inputs else {}),
        **{f"hp.{k}": str(v) for k, v in manifest.get("hyperparameters", {}).items()},
        **{f"f1.{k}": f"{v:.6f}" for k, v in metrics.get("test_per_class_f1", {}).items()},
    }
    return {key[:128]: value[:256] for key, value in values.items()}


def package_card(version: Version) -> dict[str, str]:
    """The package's ``ModelCard``: the version's card (ml/model_card.py), a draft until reviewed."""
    content = json.dumps(model_card.card(version.manifest, version.id), sort_keys=True)
    return {"ModelCardContent": content, "ModelCardStatus": "Draft"}


def _package(description: dict[str, Any]) -> Package:
    container = description.get("InferenceSpecification", {}).get("Containers", [{}])[0]
    meta = dict(description.get("CustomerMetadataProperties") or {})
    return Package(
        description["ModelPackageArn"],
        meta.get("version", ""),
        description.get("ModelApprovalStatus", PENDING),
        container.get("ModelDataUrl", ""),
        container.get("Image", ""),
        meta,
        description.get("CreationTime"),
    )


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def listed(package: Package, live: str | None) -> Listed:
    """A package as ``invoke models`` lists a version (``live``: the version the endpoint serves)."""
    metrics = package.metadata
    return Listed(
        package.version,
        package.created,
        _number(metrics.get("test_accuracy")),
        _number(metrics.get("test_macro_f1")),
        package.status,
        package.version == live,
    )


def packages(client: Any, group: str) -> list[Package]:
    """Every package in ``group``, oldest first (none when the group does not exist)."""
    arns: list[str] = []
    kwargs: dict[str, Any] = {"ModelPackageGroupName": group, "ModelPackageType": "Versioned"}
    while True:
        try:
            page = client.list_model_packages(**kwargs, SortBy="CreationTime", SortOrder="Ascending")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ValidationException":
                return []
            raise
        arns += [s["ModelPackageArn"] for s in page.get("ModelPackageSummaryList", [])]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return [_package(client.describe_model_package(ModelPackageName=arn)) for arn in arns]


def register(
    client: Any,
    group: str,
    version: Version,
    *,
    image: str,
    model_data: str,
    artifact_sha256: str,
    approve: bool,
    deploy_inputs: str = "",
) -> Package:
    """The package for ``version`` in ``group`` (both created when missing); approved when ``approve``.

    A package registered before its deploy inputs were stored gets ``deploy_inputs`` added.
    """
    try:
        client.describe_model_package_group(ModelPackageGroupName=group)
    except ClientError:
        client.create_model_package_group(
            ModelPackageGroupName=group, ModelPackageGroupDescription=f"versions of the endpoint {group}"
        )
        log.info("created model package group %s", group)
    found = [p for p in packages(client, group) if p.metadata.get("artifact_sha256") == artifact_sha256]
    if found:
        package = found[0]
    else:
        arn = client.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=f"version {version.id}",
            InferenceSpecification={
                "Containers": [{"Image": image, "ModelDataUrl": model_data}],
                "SupportedContentTypes": CONTENT_TYPES,
                "SupportedResponseMIMETypes": CONTENT_TYPES,
            },
            ModelApprovalStatus=APPROVED if approve else PENDING,
            CustomerMetadataProperties=metadata(version, artifact_sha256, deploy_inputs),
            ModelCard=package_card(version),
        )["ModelPackageArn"]
        log.info("registered version %s as %s", version.id, arn)
        package = _package(client.describe_model_package(ModelPackageName=arn))
    if deploy_inputs and package.metadata.get("deploy_inputs") != deploy_inputs:
        # all the metadata and the status, which AWS keeps: moto replaces the one and clears the other
        client.update_model_package(
            ModelPackageArn=package.arn,
            ModelApprovalStatus=package.status,
            CustomerMetadataProperties={**package.metadata, "deploy_inputs": deploy_inputs},
        )
        package = _package(client.describe_model_package(ModelPackageName=package.arn))
    if approve and package.status != APPROVED:
        package = set_status(client, package, APPROVED, "approved at registration (--approve)")
    return package


def set_status(client: Any, package: Package, status: str, note: str) -> Package:
    """Approve or reject a package; return it as SageMaker now describes it."""
    client.update_model_package(
        ModelPackageArn=package.arn, ModelApprovalStatus=status, ApprovalDescription=note[:1000]
    )
    return _package(client.describe_model_package(ModelPackageName=package.arn))


def _same(found: list[dict[str, str]] | None, wanted: list[dict[str, str]]) -> bool:
    return sorted((d["Name"], d["Value"]) for d in found or []) == sorted(
        (d["Name"], d["Value"]) for d in wanted
    )


def endpoint_alarm_states(cloudwatch: Any, endpoint: str) -> dict[str, str]:
    """The alarms on the endpoint's 5xx errors and model latency (terraform/monitoring.tf): name → state
    (``OK``, ``ALARM``, ``INSUFFICIENT_DATA``), sorted by name."""
    dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": VARIANT}]
    states: dict[str, str] = {}
    for metric in ALARMED_METRICS:
        answer = cloudwatch.describe_alarms_for_metric(
            MetricName=metric, Namespace="AWS/SageMaker", Dimensions=dimensions
        )
        # filtered here too: moto 5.2 answers every alarm on the metric, whatever the dimensions
        states |= {
            a["AlarmName"]: a.get("StateValue", "")
            for a in answer.get("MetricAlarms", [])
            if _same(a.get("Dimensions"), dimensions)
        }
    return dict(sorted(states.items()))


def endpoint_alarms(cloudwatch: Any, endpoint: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names of the endpoint's alarms and of those among them in ALARM now (``deploy``'s ``alarms``
    and ``firing``)."""
    states = endpoint_alarm_states(cloudwatch, endpoint)
    return tuple(states), tuple(name for name, state in states.items() if state == "ALARM")
