"""What ``invoke destroy --target aws --all`` takes beyond the stack and the endpoint (README, AWS costs).

The endpoint's model packages and their group (ml/aws/versions.py), everything under the project's S3
prefix (``s3://<bucket>/<s3_prefix>/``: channels, training output, Batch Transform, the models' deploy
inputs) and, as SageMaker creates its log groups without one, a retention on them: they are kept (their
logs may still be wanted) but expire. Listed first (:func:`find`), removed by :func:`remove`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ml.aws.session import SageMakerError
from ml.aws.train import LOG_GROUP
from ml.aws.versions import packages

LOG_RETENTION_DAYS = 14  # as the stack's own log groups (terraform/variables.tf log_retention_days)
DELETE_BATCH = 1000  # keys a DeleteObjects request takes


def sagemaker_log_groups(endpoint: str) -> tuple[str, ...]:
    """The log groups SageMaker writes for this project: training jobs, the endpoint, transform jobs."""
    return (LOG_GROUP, f"/aws/sagemaker/Endpoints/{endpoint}", "/aws/sagemaker/TransformJobs")


@dataclass(frozen=True)
class Leftovers:
    """What :func:`remove` would remove or change, as :func:`find` found it."""

    group: str | None  # the model package group, when it exists
    packages: tuple[str, ...]  # model package ARNs
    bucket: str
    prefix: str  # without slashes; the objects are under "<prefix>/"
    keys: tuple[str, ...]
    size: int  # bytes of those objects
    log_groups: tuple[tuple[str, int | None], ...]  # (name, retention in days now; None: never expires)
    boto: Any = field(repr=False, compare=False)  # the session they were found with, to remove them

    def describe(self) -> list[str]:
        """One line per item, as ``invoke destroy`` lists it."""
        lines = [f"model package {arn}" for arn in self.packages]
        lines += [f"model package group {self.group}"] if self.group else []
        if self.keys:
            lines.append(
                f"s3://{self.bucket}/{self.prefix}/: {len(self.keys)} objects, {self.size:,} bytes "
                "(channels, training output, transform, the models' deploy inputs)"
            )
        lines += [
            f"log group {name}: kept, expiring after {LOG_RETENTION_DAYS} days "
            f"(now: {f'{days} days' if days else 'never expires'})"
            for name, days in self.log_groups
        ]
        return lines


def _group_exists(sagemaker: Any, group: str) -> bool:
    try:
        sagemaker.describe_model_package_group(ModelPackageGroupName=group)
    except sagemaker.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationException":
            return False
        raise
    return True


def _objects(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
            found += page.get("Contents", [])
    except s3.exceptions.NoSuchBucket:
        return []
    return found


def find(boto: Any, endpoint: str, bucket: str, prefix: str) -> Leftovers:
    """List the endpoint's model packages and group, the objects under ``prefix/`` in ``bucket`` (empty:
    SageMaker's default bucket, ``sagemaker-<region>-<account>``, as training uses) and the SageMaker log
    groups whose retention is not yet ``LOG_RETENTION_DAYS``.

    Raises:
        SageMakerError: ``prefix`` is empty (the whole bucket would go).
    """
    prefix = prefix.strip("/")
    if not prefix:
        raise SageMakerError("s3_prefix is empty: --all would remove the whole bucket; set DBP_S3_PREFIX")
    sagemaker, s3, logs = boto.client("sagemaker"), boto.client("s3"), boto.client("logs")
    if not bucket:
        bucket = f"sagemaker-{boto.region_name}-{boto.client('sts').get_caller_identity()['Account']}"
    objects = _objects(s3, bucket, prefix)
    log_groups = []
    for name in sagemaker_log_groups(endpoint):
        for group in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]:
            if group["logGroupName"] == name and group.get("retentionInDays") != LOG_RETENTION_DAYS:
                log_groups.append((name, group.get("retentionInDays")))
    return Leftovers(
        group=endpoint if _group_exists(sagemaker, endpoint) else None,
        packages=tuple(package.arn for package in packages(sagemaker, endpoint)),
        bucket=bucket,
        prefix=prefix,
        keys=tuple(item["Key"] for item in objects),
        size=sum(item.get("Size", 0) for item in objects),
        log_groups=tuple(log_groups),
        boto=boto,
    )


def remove(leftovers: Leftovers) -> None:
    """Delete the packages, then their group and the objects; set the log groups' retention."""
    boto = leftovers.boto
    sagemaker, s3, logs = boto.client("sagemaker"), boto.client("s3"), boto.client("logs")
    for arn in leftovers.packages:
        sagemaker.delete_model_package(ModelPackageName=arn)
    if leftovers.group:
        sagemaker.delete_model_package_group(ModelPackageGroupName=leftovers.group)
    for start in range(0, len(leftovers.keys), DELETE_BATCH):
        batch = [{"Key": key} for key in leftovers.keys[start : start + DELETE_BATCH]]
        errors = s3.delete_objects(Bucket=leftovers.bucket, Delete={"Objects": batch, "Quiet": True}).get(
            "Errors", []
        )
        if errors:
            first = errors[0]
            raise SageMakerError(
                f"S3 kept {len(errors)} objects of s3://{leftovers.bucket}/{leftovers.prefix}/, e.g. "
                f"{first.get('Key')}: {first.get('Code')} {first.get('Message', '')}".rstrip()
            )
    for name, _ in leftovers.log_groups:
        logs.put_retention_policy(logGroupName=name, retentionInDays=LOG_RETENTION_DAYS)
