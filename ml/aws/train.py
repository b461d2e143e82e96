"""Train the BlazingText built-in algorithm on SageMaker from the prepared channels (``--target aws``).

The seed notebook's steps with SDK v3: the ``train`` / ``validation`` channels uploaded to S3 (unchanged
files skipped by checksum), a ``ModelTrainer`` running the image ``image_uris.retrieve("blazingtext",
region)`` in supervised mode with the local trainer's hyperparameters and ``text/plain`` channels, streaming
the job's logs. Jobs are named after their inputs (prepared-data key, hyperparameters, image), so a re-run
finds the finished job and reuses it. The SDK appends a timestamp to every job name it starts; the content
key is the part that is looked up. The session, the account and S3: ml/aws/session.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ml.aws.config import AwsSettings
from ml.aws.preflight import ROLE_RETRY_SECONDS
from ml.aws.session import Aws, SageMakerError, download, upload_if_changed
from ml.config import log
from ml.feedback import ForTraining
from ml.package import unpack
from ml.preprocess import Prepared

CHANNELS = ("train", "validation")
CONTENT_TYPE = "text/plain"
JOB_PREFIX = "blazingtext"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
_ACCURACY_LINE = re.compile(r"#(train|validation)_accuracy:\s*([0-9.]+)")


def data_key(prepared: Prepared, fed: ForTraining | None) -> str:
    """What names a run's train channel: the prepared data's key, and the accepted feedback's digest."""
    return prepared.key if fed is None else f"{prepared.key}-feedback-{fed.sha256[:16]}"


def upload_channels(
    aws: Aws, prepared: Prepared, fed: ForTraining | None = None, scratch: Path | None = None
) -> dict[str, str]:
    """Upload the train and validation files; return each channel's S3 prefix (what the job reads).

    With ``fed`` the train channel is the prepared rows and the accepted feedback's lines (ml/feedback.py
    writes it into ``scratch``, removed afterwards), under a prefix of its own (``data_key``); the
    validation channel stays the prepared one.
    """
    channels = {}
    for name in CHANNELS:
        key = data_key(prepared, fed) if name == "train" else prepared.key
        prefix = aws.uri("data", key, name) + "/"
        path = prepared.path(name)
        if fed is not None and name == "train":
            assert scratch is not None, "a train channel with feedback is written to a scratch folder"
            scratch.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=".feedback-channel.", dir=scratch) as folder:
                upload_if_changed(
                    aws.s3, fed.channel(path, Path(folder) / "train.txt"), prefix + "train.txt", CONTENT_TYPE
                )
        else:
            upload_if_changed(aws.s3, path, prefix + f"{name}.txt", CONTENT_TYPE)
        channels[name] = prefix
    return channels


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
    aws: Aws, settings: AwsSettings, image: str, base_job_name: str, hyperparameters: dict[str, str]
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


def _assuming_fails(exc: ClientError) -> bool:
    """CreateTrainingJob's answer while IAM propagates a role made seconds ago ("Could not assume role")."""
    error = exc.response.get("Error", {})
    return error.get("Code") == "ValidationException" and "assume role" in str(error.get("Message", ""))


def _start(aws: Aws, settings: AwsSettings, key: str, spec: JobSpec) -> None:
    """Start a training job for ``spec`` and stream its logs until it ends (however it ends); asked again
    while SageMaker cannot assume a new role yet (``ROLE_RETRY_SECONDS``, as the preflight waits for it)."""
    from sagemaker.core.utils.exceptions import FailedStatusError

    trainer = model_trainer(aws, settings, spec.image, f"{JOB_PREFIX}-{key}", spec.hyperparameters)
    for delay in (*ROLE_RETRY_SECONDS, None):
        try:
            with suppress(FailedStatusError):  # the job's own description says why; see train()
                trainer.train(input_data_config=input_channels(spec.channels), wait=True, logs=True)
            return
        except ClientError as exc:
            if delay is None or not _assuming_fails(exc):
                raise
            log.info(
                "SageMaker cannot assume %s yet (IAM propagates a new role for seconds): retrying in %gs",
                aws.role_arn,
                delay,
            )
            time.sleep(delay)


def _attach(aws: Aws, name: str) -> None:
    """Stream the logs of a running job until it ends (however it ends)."""
    from sagemaker.core.resources import TrainingJob as SdkTrainingJob
    from sagemaker.core.utils.exceptions import FailedStatusError

    with suppress(FailedStatusError):  # the job's own description says why; see train()
        SdkTrainingJob.get(training_job_name=name, session=aws.boto).wait(logs=True)


def train(aws: Aws, settings: AwsSettings, prepared: Prepared, fed: ForTraining | None = None) -> TrainingJob:
    """Upload the channels (with the accepted feedback in train when ``fed``), then reuse a finished job with
    the same inputs, wait for a running one, or train.

    Raises:
        SageMakerError: the job failed or stopped (with SageMaker's reason), or the role was refused.
    """
    channels = upload_channels(aws, prepared, fed, settings.model_dir)
    spec = JobSpec(aws.image, settings.hyperparameters.as_blazingtext(), channels)
    key = spec.key(data_key(prepared, fed))
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
