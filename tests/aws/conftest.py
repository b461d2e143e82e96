"""Fixtures for the ``--target aws`` tests: a moto_server standing in for S3, SageMaker, STS, IAM and
CloudWatch Logs, settings that reuse the prepared data of the ``trained`` model, and botocore hooks for what
moto lacks.

moto marks a training job Completed the moment it is created and writes no artifact, and it cannot fail a job
or an endpoint. The hooks below attach to every boto3 session the code under test opens (through
``ml.aws.session.boto_session``): ``after-call`` hooks stand in for the training container, and
``before-call`` hooks answer an operation with moto's own answer, changed (a recorded-response test). Each
test that uses one says so.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.awsrequest import AWSResponse

from ml.aws import session as aws_session
from ml.aws import train as sagemaker_train
from ml.hyperparameters import Hyperparameters
from ml.package import pack
from ml.pipeline import TrainOutcome
from ml.train import train
from ops.infra.moto_server import MotoServer
from ops.settings import Settings
from tests.helpers import TEST_ROWS, make_settings

ACCOUNT = "123456789012"  # a realistic account id: the tfvars of a real endpoint must not look local
REGION = "us-east-1"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/dbpedia-sagemaker-execution"
BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"  # the SDK's default bucket name for this account and region
IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/blazingtext:1"  # image_uris.retrieve, offline
# What BlazingText prints at the end of a supervised job (as in AWS's own examples).
BLAZINGTEXT_LOG = [
    "#train_accuracy: 0.9961",
    "Number of train examples: 11340",
    "#validation_accuracy: 0.9766",
]

Handler = Callable[..., Any]


def reset(moto: MotoServer) -> None:
    """Forget every resource moto holds."""
    urllib.request.urlopen(urllib.request.Request(f"{moto.url}/moto-api/reset", method="POST"), timeout=10)


def point_at(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Send boto3 and the SDK to ``moto`` with dummy credentials; no caller's DBP_* variable leaks in (the
    tests' row cap is kept)."""
    for name, value in moto.aws_env(REGION).items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    for name in [n for n in os.environ if n.startswith("DBP_")]:
        monkeypatch.delenv(name)
    for name, value in TEST_ROWS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # Against moto only: the SDK's role check calls iam:SimulatePrincipalPolicy, which moto answers with 500.
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")
    # The tasks' preflight asks the same and SageMaker's quotas: its own tests (test_preflight_on_moto.py)
    # answer those two gaps; the other tests start past it.
    monkeypatch.setenv("DBP_PREFLIGHT", "false")


class Hooks:
    """botocore event handlers registered on every boto3 session the code under test opens."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._handlers: list[tuple[str, Handler]] = []
        original = aws_session.boto_session

        def hooked(region: str) -> boto3.Session:
            session = original(region)
            for event, handler in self._handlers:
                session.events.register(event, handler)
            return session

        monkeypatch.setattr(aws_session, "boto_session", hooked)

    def on(self, event: str, handler: Handler) -> None:
        """Register ``handler`` for ``event`` (e.g. ``after-call.sagemaker.CreateTrainingJob``)."""
        self._handlers.append((event, handler))

    def count(self, *events: str) -> list[str]:
        """Record each call of the given events (``before-call.s3.PutObject`` …) into the returned list."""
        seen: list[str] = []
        for event in events:
            self.on(event, lambda event_name, **_: seen.append(event_name))
        return seen


def container_stand_in(moto: MotoServer, archive: Path) -> Handler:
    """``after-call.sagemaker.CreateTrainingJob``: do what the BlazingText container would, as moto does not.

    Puts ``archive`` (a real model.tar.gz) where SageMaker writes the job's artifact, and BlazingText's final
    log lines into the job's CloudWatch log stream.
    """
    sagemaker, s3, logs = (moto.client(service) for service in ("sagemaker", "s3", "logs"))

    def handler(parsed: dict[str, Any], **_: Any) -> None:
        name = parsed["TrainingJobArn"].rsplit("/", 1)[1]
        uri = sagemaker.describe_training_job(TrainingJobName=name)["ModelArtifacts"]["S3ModelArtifacts"]
        bucket, key = aws_session.split_s3_uri(uri)
        s3.upload_file(str(archive), bucket, key)
        group, stream = sagemaker_train.LOG_GROUP, f"{name}/algo-1-1700000000"
        if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
        events = [{"timestamp": now + i, "message": line} for i, line in enumerate(BLAZINGTEXT_LOG)]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)

    return handler


def recorded(moto: MotoServer, operation: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Handler:
    """``before-call.sagemaker.<operation>``: answer with moto's own response to the same request, changed."""
    real = getattr(moto.client("sagemaker"), xform_name(operation))

    def handler(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        response = real(**json.loads(params["body"]))
        response.pop("ResponseMetadata", None)
        return AWSResponse(f"{moto.url}/", 200, {}, None), change(response)

    return handler


def aws_settings(tmp: Path, trained: tuple[Settings, TrainOutcome], **overrides: Any) -> Settings:
    """Settings for target aws under ``tmp``, starting from a copy of the trained run's prepared data."""
    trained_settings, _ = trained
    settings = make_settings(tmp, target="aws", role_arn=ROLE_ARN, **overrides)
    shutil.copytree(trained_settings.data_dir, settings.data_dir)
    return settings


@pytest.fixture(scope="session")
def moto_aws() -> Iterator[MotoServer]:
    """One moto_server for the aws tests, with a realistic account id."""
    with MotoServer(account_id=ACCOUNT) as server:
        yield server


@pytest.fixture
def aws(moto_aws: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The moto_server, emptied, with the environment pointing boto3 and the SDK at it."""
    reset(moto_aws)
    point_at(moto_aws, monkeypatch)
    return moto_aws


@pytest.fixture
def hooks(aws: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Hooks:
    """Hooks on the boto3 sessions of the code under test (see the module docstring)."""
    return Hooks(monkeypatch)


def trainer_stand_in(moto: MotoServer, threads: int, seed: int) -> Handler:
    """``after-call.sagemaker.CreateTrainingJob``: train real fastText on the job's own channels.

    Where a test needs the model to come from what the job was given (its train channel as uploaded, its
    hyperparameters), this does what BlazingText's supervised mode does: fit on ``train``, write
    ``model.tar.gz`` (``model.bin`` inside) where SageMaker puts the job's artifact, and log the final
    accuracies in the job's CloudWatch log stream.
    """
    sagemaker, s3, logs = (moto.client(service) for service in ("sagemaker", "s3", "logs"))

    def handler(parsed: dict[str, Any], **_: Any) -> None:
        name = parsed["TrainingJobArn"].rsplit("/", 1)[1]
        job = sagemaker.describe_training_job(TrainingJobName=name)
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            for channel in job["InputDataConfig"]:
                bucket, prefix = aws_session.split_s3_uri(channel["DataSource"]["S3DataSource"]["S3Uri"])
                [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
                s3.download_file(bucket, key, str(folder / f"{channel['ChannelName']}.txt"))
            given = {k: v for k, v in job["HyperParameters"].items() if k != "mode"}
            result = train(
                folder / "train.txt",
                folder / "validation.txt",
                folder / "model.bin",
                Hyperparameters(**given),  # type: ignore[arg-type]  # pydantic reads SageMaker's strings
                threads,
                seed,
            )
            bucket, key = aws_session.split_s3_uri(job["ModelArtifacts"]["S3ModelArtifacts"])
            s3.upload_file(str(pack(result.model_path, folder / "model.tar.gz")), bucket, key)
        group, stream = sagemaker_train.LOG_GROUP, f"{name}/algo-1-1700000000"
        if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        line = f"#validation_accuracy: {result.validation_accuracy:.4f}"
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": int(time.time() * 1000), "message": line}],
        )

    return handler
