"""Train the BlazingText built-in algorithm on SageMaker from the prepared channels (``--target aws``).

The seed notebook's steps with SDK v3: a session on an explicit bucket, the ``train`` / ``validation``
channels uploaded to S3 (unchanged files skipped by checksum), a ``ModelTrainer`` running the image
``image_uris.retrieve("blazingtext", region)`` in supervised mode with the local trainer's hyperparameters
and ``text/plain`` channels, streaming the job's logs. Jobs are named after their inputs (prepared-data key,
hyperparameters, image), so a re-run finds the finished job and reuses it. The SDK appends a timestamp
to every job name it starts; the content key is the part that is looked up.

Everything that talks to AWS runs inside :func:`aws_errors`, which turns AWS failures into
:class:`SageMakerError` with a one-line message. The SDK is imported only here and only when needed: it
takes seconds to import.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ml.config import ConfigError, Settings, log
from ml.errors import ProjectError
from ml.fsutil import atomic_path, file_digest
from ml.package import unpack
from ml.preprocess import Prepared

CHANNELS = ("train", "validation")
CONTENT_TYPE = "text/plain"
JOB_PREFIX = "blazingtext"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
EXECUTION_ROLE_SUFFIX = "sagemaker-execution"  # the role terraform/bootstrap creates: <endpoint name>-<this>
_ACCURACY_LINE = re.compile(r"#(train|validation)_accuracy:\s*([0-9.]+)")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")


class SageMakerError(ProjectError):
    """An AWS call failed, or a training job or endpoint ended badly; the message says what to do."""


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn AWS client failures (no credentials, refused calls, unreachable service) into SageMakerError."""
    try:
        yield
    except NoCredentialsError:
        raise SageMakerError(
            "no AWS credentials found: run `aws configure` (or `aws sso login`), or set AWS_PROFILE, "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    except ClientError as exc:
        raise SageMakerError(f"AWS refused the request: {exc}") from None
    except BotoCoreError as exc:
        raise SageMakerError(f"AWS could not be reached: {exc}") from None


def boto_session(region: str) -> boto3.Session:
    """The boto3 session every AWS call of a run goes through (credentials from the usual chain)."""
    return boto3.Session(region_name=region)


@dataclass(frozen=True)
class Aws:
    """One run's AWS context: clients, the SDK session, where data goes, the role and the image."""

    boto: boto3.Session
    session: Any  # sagemaker.core.helper.session_helper.Session
    sagemaker: Any
    s3: Any
    bucket: str
    prefix: str
    role_arn: str
    image: str

    def uri(self, *parts: str) -> str:
        """``s3://<bucket>/<prefix>/<parts…>``."""
        return "/".join([f"s3://{self.bucket}", self.prefix, *parts])


def check_role_arn(role_arn: str) -> None:
    """ConfigError unless ``role_arn`` is empty (the default role) or an IAM role ARN."""
    if role_arn and not _ROLE_ARN.match(role_arn):
        raise ConfigError(
            "setting 'role_arn' must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), "
            f"not {role_arn!r}"
        )


def execution_role_arn(role_arn: str, endpoint_name: str, caller_arn: str) -> str:
    """``role_arn``, else the role terraform/bootstrap creates, ``<endpoint_name>-sagemaker-execution``, in
    the caller's account and partition (``caller_arn`` is STS's answer)."""
    if role_arn:
        return role_arn
    partition, account = caller_arn.split(":")[1], caller_arn.split(":")[4]
    return f"arn:{partition}:iam::{account}:role/{endpoint_name}-{EXECUTION_ROLE_SUFFIX}"


def blazingtext_image(region: str) -> str:
    """The BlazingText image of ``region`` (the SDK's table, offline); SageMakerError where there is none."""
    from sagemaker.core import image_uris

    try:
        return str(image_uris.retrieve("blazingtext", region))
    except ValueError:
        raise SageMakerError(
            f"region {region} has no SageMaker BlazingText image (sagemaker {metadata.version('sagemaker')} "
            "knows none there): pass --region with one that has it, e.g. us-east-1 or eu-west-1"
        ) from None


def connect(settings: Settings) -> Aws:
    """Check the region, find the account and the role, make sure the bucket exists, resolve the image.

    The role is ``settings.role_arn``, else the stack's ``<endpoint_name>-sagemaker-execution`` in the
    caller's account (terraform/bootstrap creates it).

    Raises:
        ConfigError: a malformed role ARN, or no region.
        SageMakerError: the region has no BlazingText image.
        NoCredentialsError / ClientError: no credentials, or AWS refused (see :func:`aws_errors`).
    """
    check_role_arn(settings.role_arn)
    if not settings.region:
        raise ConfigError("setting 'region' is required for --target aws: set DBP_REGION or pass --region")
    image = blazingtext_image(settings.region)
    from sagemaker.core.helper.session_helper import Session

    boto = boto_session(settings.region)
    caller = boto.client("sts").get_caller_identity()
    account = caller["Account"]
    role_arn = execution_role_arn(settings.role_arn, settings.endpoint_name, caller["Arn"])
    bucket = settings.bucket or f"sagemaker-{settings.region}-{account}"
    # An explicit default bucket: the SDK would otherwise ask STS at the real regional URL for the account.
    session = Session(boto_session=boto, default_bucket=bucket)
    session.default_bucket()  # creates the bucket when it does not exist yet
    log.info(
        "AWS account %s, region %s, bucket %s, role %s, image %s",
        account,
        settings.region,
        bucket,
        role_arn,
        image,
    )
    return Aws(
        boto=boto,
        session=session,
        sagemaker=boto.client("sagemaker"),
        s3=boto.client("s3"),
        bucket=bucket,
        prefix=settings.s3_prefix.strip("/"),
        role_arn=role_arn,
        image=image,
    )


# --- S3 ------------------------------------------------------------------------------------------


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``; SageMakerError for anything else."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise SageMakerError(f"not an S3 object URL: {uri!r} (expected s3://bucket/key)")
    return bucket, key


def upload_if_changed(s3: Any, path: Path, uri: str, content_type: str = CONTENT_TYPE) -> bool:
    """Upload ``path`` to ``uri`` unless the object there carries the same sha256; True when uploaded."""
    bucket, key = split_s3_uri(uri)
    digest = file_digest(path)
    try:
        stored = s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get("sha256")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        stored = None
    if stored == digest:
        log.info("unchanged, not uploaded: %s", uri)
        return False
    s3.upload_file(
        str(path), bucket, key, ExtraArgs={"ContentType": content_type, "Metadata": {"sha256": digest}}
    )
    log.info("uploaded %s (%s bytes)", uri, f"{path.stat().st_size:,}")
    return True


def upload_channels(aws: Aws, prepared: Prepared) -> dict[str, str]:
    """Upload the train and validation files; return each channel's S3 prefix (what the job reads)."""
    channels = {}
    for name in CHANNELS:
        prefix = aws.uri("data", prepared.key, name) + "/"
        upload_if_changed(aws.s3, prepared.path(name), prefix + f"{name}.txt")
        channels[name] = prefix
    return channels


def download(s3: Any, uri: str, dest: Path) -> Path:
    """Download an S3 object to ``dest`` atomically; SageMakerError when it is not there."""
    bucket, key = split_s3_uri(uri)
    try:
        with atomic_path(dest) as tmp:
            s3.download_file(bucket, key, str(tmp))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise SageMakerError(f"there is no object at {uri}") from None
        raise
    log.info("downloaded %s to %s", uri, dest)
    return dest


# --- the training job ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """What a training job is made of; equal specs train the same model."""

    image: str
    hyperparameters: dict[str, str]
    channels: dict[str, str]  # channel name → S3 prefix

    def key(self, prepared_key: str) -> str:
        """The content key in the job's name: prepared data, hyperparameters and image."""
        # early stopping off was sent as "false" before it was left out: the same key, so such jobs are reused
        parts = [prepared_key, {"early_stopping": "false"} | self.hyperparameters, self.image]
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]

    def matches(self, job: dict[str, Any]) -> bool:
        """True when a DescribeTrainingJob answer ran this spec (image, hyperparameters, channels)."""
        channels = {
            c["ChannelName"]: (c["DataSource"]["S3DataSource"]["S3Uri"], c.get("ContentType"))
            for c in job.get("InputDataConfig", [])
        }
        return (
            job["AlgorithmSpecification"].get("TrainingImage") == self.image
            and _without_stopping_off(job.get("HyperParameters", {})) == self.hyperparameters
            and channels == {name: (uri, CONTENT_TYPE) for name, uri in self.channels.items()}
        )


def _without_stopping_off(hyperparameters: dict[str, str]) -> dict[str, str]:
    """A job's hyperparameters without ``early_stopping: "false"``, which older runs sent (the default)."""
    return {k: v for k, v in hyperparameters.items() if (k, v) != ("early_stopping", "false")}


@dataclass(frozen=True)
class TrainingJob:
    """A Completed training job: its name, key, artifact, final accuracies and whether it was reused."""

    name: str
    key: str
    model_data: str  # s3://…/model.tar.gz
    accuracy: dict[str, float]  # "train" / "validation", as the job reported them
    billable_seconds: int | None
    reused: bool

    def describe(self) -> dict[str, Any]:
        """The job as the manifest records it."""
        return {
            "training_job": self.name,
            "key": self.key,
            "model_data": self.model_data,
            "train_accuracy": self.accuracy.get("train"),
            "validation_accuracy": self.accuracy.get("validation"),
            "billable_seconds": self.billable_seconds,
        }


def artifact_producer(
    aws: Aws, job: TrainingJob, cache_root: Path
) -> Callable[[Path], tuple[Path, dict[str, Any]]]:
    """For the pipeline: download the job's ``model.tar.gz`` as is, unpack ``model.bin``, describe the job."""

    def produce(archive: Path) -> tuple[Path, dict[str, Any]]:
        download(aws.s3, job.model_data, archive)
        record = {**job.describe(), "image": aws.image, "sdk": metadata.version("sagemaker")}
        return unpack(archive, cache_root), {"sagemaker": record}

    return produce


def jobs_named(client: Any, key: str) -> list[dict[str, Any]]:
    """Summaries of the training jobs whose name holds ``key``, newest first."""
    summaries: list[dict[str, Any]] = []
    for page in client.get_paginator("list_training_jobs").paginate(NameContains=key):
        summaries += page["TrainingJobSummaries"]
    return sorted(summaries, key=lambda s: s["CreationTime"], reverse=True)


def find_job(client: Any, key: str, spec: JobSpec) -> dict[str, Any] | None:
    """The newest job with this key and these inputs that is Completed or still running, described."""
    for summary in jobs_named(client, key):
        if summary["TrainingJobStatus"] not in ("Completed", "InProgress"):
            continue
        job = client.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        if spec.matches(job):
            return job
    return None


def final_accuracy(aws: Aws, job: dict[str, Any]) -> dict[str, float]:
    """BlazingText's last ``#train_accuracy`` / ``#validation_accuracy`` log lines, else its metric."""
    accuracy: dict[str, float] = {}
    logs = aws.boto.client("logs")
    try:
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=LOG_GROUP, logStreamNamePrefix=job["TrainingJobName"] + "/"
        )
        for page in pages:
            for event in page["events"]:
                for split, value in _ACCURACY_LINE.findall(event["message"]):
                    accuracy[split] = float(value)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    for metric in job.get("FinalMetricDataList", []):
        if metric["MetricName"] == "validation:accuracy":
            accuracy.setdefault("validation", float(metric["Value"]))
    return accuracy


def model_trainer(
    aws: Aws, settings: Settings, image: str, base_job_name: str, hyperparameters: dict[str, str]
) -> Any:
    """The SDK's BlazingText ``ModelTrainer``: one training instance, outputs under ``<prefix>/output``."""
    from sagemaker.core.helper.iam_role_resolver import RoleValidationError
    from sagemaker.core.training.configs import Compute, OutputDataConfig
    from sagemaker.train import ModelTrainer

    try:
        return ModelTrainer(
            training_image=image,
            role=aws.role_arn,
            sagemaker_session=aws.session,
            base_job_name=base_job_name,
            hyperparameters=hyperparameters,
            compute=Compute(instance_type=settings.training_instance_type, instance_count=1),
            output_data_config=OutputDataConfig(s3_output_path=aws.uri("output")),
        )
    except RoleValidationError as exc:  # the SDK checks the role's permissions and trust first
        raise SageMakerError(f"the execution role cannot be used: {exc}") from None


def input_channels(channels: dict[str, str]) -> list[Any]:
    """The uploaded channels as the SDK's ``InputData`` (``text/plain``, as BlazingText wants them)."""
    from sagemaker.core.training.configs import InputData

    return [
        InputData(channel_name=name, data_source=uri, content_type=CONTENT_TYPE)
        for name, uri in channels.items()
    ]


def _start(aws: Aws, settings: Settings, key: str, spec: JobSpec) -> None:
    """Start a training job for ``spec`` and stream its logs until it ends (however it ends)."""
    from sagemaker.core.utils.exceptions import FailedStatusError

    trainer = model_trainer(aws, settings, spec.image, f"{JOB_PREFIX}-{key}", spec.hyperparameters)
    with suppress(FailedStatusError):  # the job's own description says why; see train()
        trainer.train(input_data_config=input_channels(spec.channels), wait=True, logs=True)


def _attach(aws: Aws, name: str) -> None:
    """Stream the logs of a running job until it ends (however it ends)."""
    from sagemaker.core.resources import TrainingJob as SdkTrainingJob
    from sagemaker.core.utils.exceptions import FailedStatusError

    with suppress(FailedStatusError):  # the job's own description says why; see train()
        SdkTrainingJob.get(training_job_name=name, session=aws.boto).wait(logs=True)


def train(aws: Aws, settings: Settings, prepared: Prepared) -> TrainingJob:
    """Upload the channels, then reuse a finished job with the same inputs, wait for a running one, or train.

    Raises:
        SageMakerError: the job failed or stopped (with SageMaker's reason), or the role was refused.
    """
    spec = JobSpec(aws.image, settings.hyperparameters.as_blazingtext(), upload_channels(aws, prepared))
    key = spec.key(prepared.key)
    found = find_job(aws.sagemaker, key, spec)
    if found is None:
        log.info("starting a training job on %s (key %s)", settings.training_instance_type, key)
        _start(aws, settings, key, spec)
        newest = jobs_named(aws.sagemaker, key)[0]["TrainingJobName"]
        job = aws.sagemaker.describe_training_job(TrainingJobName=newest)
    elif found["TrainingJobStatus"] == "InProgress":
        log.info("training job %s has the same inputs and is running: waiting", found["TrainingJobName"])
        _attach(aws, found["TrainingJobName"])
        job = aws.sagemaker.describe_training_job(TrainingJobName=found["TrainingJobName"])
    else:
        log.info("reusing training job %s: same data, hyperparameters and image", found["TrainingJobName"])
        job = found
    if job["TrainingJobStatus"] != "Completed":
        raise SageMakerError(
            f"training job {job['TrainingJobName']} ended {job['TrainingJobStatus']}: "
            f"{job.get('FailureReason', 'no reason given')}; its logs are in CloudWatch, {LOG_GROUP}"
        )
    accuracy = final_accuracy(aws, job)
    log.info(
        "training job %s: train accuracy %s, validation accuracy %s",
        job["TrainingJobName"],
        *(f"{accuracy[split]:.4f}" if split in accuracy else "not reported" for split in CHANNELS),
    )
    return TrainingJob(
        name=job["TrainingJobName"],
        key=key,
        model_data=job["ModelArtifacts"]["S3ModelArtifacts"],
        accuracy=accuracy,
        billable_seconds=job.get("BillableTimeInSeconds"),
        reused=found is not None,
    )
