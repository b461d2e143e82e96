"""``--target aws`` failures end the task with one line and exit code 1, never a traceback.

moto cannot fail a training job or an endpoint: those tests answer DescribeTrainingJob / DescribeEndpoint with
moto's own response marked Failed (a recorded-response hook, tests/aws/conftest.py).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from invoke import Context
from invoke.exceptions import Exit

from ml import pipeline
from ml.aws import session as aws_session
from ml.aws import train as sm
from ml.config import ConfigError
from ml.fsutil import file_digest
from ml.pipeline import TrainOutcome
from ops.infra.moto_server import MotoServer
from ops.settings import Settings, load_settings
from tests.helpers import make_settings, run_invoke

from .conftest import ACCOUNT, ROLE_ARN, Hooks, aws_settings, container_stand_in, recorded


def _train_task(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run `invoke train --target aws` in-process; return its exit message (it must exit with code 1)."""
    import tasks

    monkeypatch.setenv("DBP_BUILD_DIR", str(settings.build_dir))
    monkeypatch.setenv("DBP_TERRAFORM_DIR", str(settings.terraform_dir))
    with pytest.raises(Exit) as stopped:
        tasks.train(Context(), target="aws", role_arn=ROLE_ARN)
    assert stopped.value.code == 1
    message = str(stopped.value.message)
    assert message.startswith("error: ") and "\n" not in message
    return message


def test_without_a_role_connect_uses_the_stack_s_bootstrap_role_in_the_caller_s_account(
    aws: MotoServer, tmp_path: Path
) -> None:
    # GIVEN no DBP_ROLE_ARN and no --role-arn, and a stack named other-stack
    settings = make_settings(tmp_path, target="aws", endpoint_name="other-stack")
    # WHEN connecting  THEN the role is the one terraform/bootstrap creates for that stack, in STS's account
    assert (
        aws_session.connect(settings).role_arn
        == f"arn:aws:iam::{ACCOUNT}:role/other-stack-sagemaker-execution"
    )


def test_a_profile_that_does_not_exist_is_named_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN AWS_PROFILE naming no profile (a typo)  WHEN a run opens its AWS session
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    # THEN the project's one-line error names it (the tasks print it and exit 1)
    with pytest.raises(aws_session.SageMakerError, match="no AWS profile named 'no-such-profile'"):
        aws_session.boto_session("us-east-1")


def test_without_credentials_train_says_how_to_configure_them(aws: MotoServer, tmp_path: Path) -> None:
    # GIVEN a role but no credentials anywhere boto3 looks (the endpoint URL keeps any call on moto)
    hidden = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
    env = {name: value for name, value in os.environ.items() if name not in hidden}
    env |= {
        "DBP_BUILD_DIR": str(tmp_path / "build"),
        "DBP_TERRAFORM_DIR": str(tmp_path / "tf"),
        "DBP_ROLE_ARN": ROLE_ARN,
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
    }
    # WHEN `invoke train --target aws` runs
    result = run_invoke(env, "train", "--target", "aws")
    # THEN one clear line, exit 1, no traceback
    assert result.returncode == 1
    assert "error: no AWS credentials found: run `aws configure`" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("role", ["my-sagemaker-role", "arn:aws:iam::123456789012:user/someone"])
def test_a_role_that_is_not_a_role_arn_is_refused_before_any_aws_call(role: str) -> None:
    # GIVEN a role name or a user ARN  WHEN connecting  THEN a ConfigError says what is expected
    with pytest.raises(ConfigError, match=r"must be an IAM role ARN \(arn:aws:iam::<account>:role/<name>\)"):
        aws_session.connect(load_settings(target="aws", role_arn=role))


def test_a_failed_training_job_ends_the_task_with_sagemaker_s_reason(
    hooks: Hooks,
    aws: MotoServer,
    trained: tuple[Settings, TrainOutcome],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a job SageMaker reports Failed (moto's answer to DescribeTrainingJob, marked Failed)
    reason = "ClientError: No training data was found in channel 'train'"
    failed = recorded(
        aws, "DescribeTrainingJob", lambda r: r | {"TrainingJobStatus": "Failed", "FailureReason": reason}
    )
    hooks.on("before-call.sagemaker.DescribeTrainingJob", failed)
    settings = aws_settings(tmp_path, trained)
    # WHEN `invoke train --target aws` runs
    message = _train_task(settings, monkeypatch)
    # THEN the message names the job and SageMaker's reason, and nothing was deployed
    assert message.startswith("error: training job blazingtext-")
    assert f"ended Failed: {reason}; its logs are in CloudWatch, /aws/sagemaker/TrainingJobs" in message
    assert aws.client("sagemaker").list_endpoints()["Endpoints"] == []
    assert not settings.tfvars_path.exists()


def test_a_failed_endpoint_ends_the_task_with_the_reason_and_the_teardown_command(
    hooks: Hooks,
    aws: MotoServer,
    trained: tuple[Settings, TrainOutcome],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a trained job (the container stand-in writes its artifact), an endpoint SageMaker reports Failed
    hooks.on("after-call.sagemaker.CreateTrainingJob", container_stand_in(aws, trained[1].archive))
    reason = "The primary container for production variant AllTraffic did not pass the ping health check."
    failed = recorded(
        aws, "DescribeEndpoint", lambda r: r | {"EndpointStatus": "Failed", "FailureReason": reason}
    )
    hooks.on("before-call.sagemaker.DescribeEndpoint", failed)
    settings = aws_settings(tmp_path, trained)
    monkeypatch.setenv("DBP_APPROVE", "true")  # past the gate: an AWS deploy needs an approved version
    # WHEN `invoke train --target aws` runs
    message = _train_task(settings, monkeypatch)
    # THEN the message gives the reason and how to remove the failed endpoint; the tfvars were not written
    assert message == (
        f"error: endpoint dbpedia-classifier is Failed: {reason}; its logs are in CloudWatch, "
        "/aws/sagemaker/Endpoints/dbpedia-classifier. "
        "Remove it with `invoke destroy --target aws --endpoint` and run again"
    )
    assert not settings.tfvars_path.exists()


def test_a_running_job_with_the_same_inputs_is_waited_for_not_started_again(
    hooks: Hooks,
    aws: MotoServer,
    trained: tuple[Settings, TrainOutcome],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a job for these inputs, still InProgress when the next run looks (moto finishes jobs at once:
    # its answer to the first DescribeTrainingJob is marked InProgress, later ones pass unchanged)
    settings = aws_settings(tmp_path, trained)
    _, prepared = pipeline.prepare_data(settings)
    first = sm.train(aws_session.connect(settings), settings, prepared)
    statuses = iter(["InProgress"])
    running = recorded(
        aws, "DescribeTrainingJob", lambda r: r | {"TrainingJobStatus": next(statuses, "Completed")}
    )
    hooks.on("before-call.sagemaker.DescribeTrainingJob", running)
    creates = hooks.count("before-call.sagemaker.CreateTrainingJob")
    # WHEN training runs again
    with caplog.at_level(logging.INFO, logger="dbpedia"):
        again = sm.train(aws_session.connect(settings), settings, prepared)
    # THEN it waited for that job and started none
    assert f"training job {first.name} has the same inputs and is running: waiting" in caplog.text
    assert creates == []
    assert (again.name, again.reused, first.reused) == (first.name, True, False)


def test_a_role_sagemaker_cannot_assume_yet_is_asked_again_and_then_trains(
    hooks: Hooks,
    aws: MotoServer,
    trained: tuple[Settings, TrainOutcome],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a role created seconds ago: SageMaker's first two CreateTrainingJob answers are its
    # "Could not assume role" ValidationException (moto never checks the role: the hook answers that gap)
    message = f"Could not assume role {ROLE_ARN}. Please ensure that the role exists and allows principal "
    refusals = iter([message + "'sagemaker.amazonaws.com' to assume the role."] * 2)

    attempts: list[str | None] = []

    def not_yet(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        refused = next(refusals, None)
        attempts.append(refused)
        if refused is None:
            return None  # IAM caught up: moto answers
        error = {"Code": "ValidationException", "Message": refused}
        return AWSResponse(f"{aws.url}/", 400, {}, None), {"Error": error, "ResponseMetadata": {}}

    hooks.on("before-call.sagemaker.CreateTrainingJob", not_yet)
    monkeypatch.setattr(sm, "ROLE_RETRY_SECONDS", (0.0, 0.0, 0.0))
    settings = aws_settings(tmp_path, trained)
    _, prepared = pipeline.prepare_data(settings)
    # WHEN training starts  THEN it asks again until SageMaker takes the job, saying why it waits
    with caplog.at_level(logging.INFO, logger="dbpedia"):
        job = sm.train(aws_session.connect(settings), settings, prepared)
    assert len(attempts) == 3 and attempts[-1] is None and not job.reused
    assert caplog.text.count(f"SageMaker cannot assume {ROLE_ARN} yet") == 2
    # AND a role that never becomes assumable ends in SageMaker's error after the last retry
    refusals = iter([message + "'sagemaker.amazonaws.com' to assume the role."] * 9)
    other = aws_settings(tmp_path / "other", trained, epochs=3)  # other inputs: a new job, none reused
    _, prepared = pipeline.prepare_data(other)
    with pytest.raises(ClientError, match="Could not assume role"):
        sm.train(aws_session.connect(other), other, prepared)
    assert len(attempts) == 3 + 4  # the first ask and one a delay


def test_uploads_skip_files_whose_checksum_is_already_in_s3(aws: MotoServer, tmp_path: Path) -> None:
    # GIVEN a channel file and a bucket
    s3: Any = aws.client("s3")
    s3.create_bucket(Bucket="channels-bucket")
    path, uri = tmp_path / "train.txt", "s3://channels-bucket/p/data/k/train/train.txt"
    path.write_text("__label__Company acme builds rockets\n", encoding="utf-8")
    # WHEN it is uploaded twice, then changed  THEN only the first and the changed upload happen
    assert aws_session.upload_if_changed(s3, path, uri) is True
    assert aws_session.upload_if_changed(s3, path, uri) is False
    path.write_text("__label__Artist someone paints\n", encoding="utf-8")
    assert aws_session.upload_if_changed(s3, path, uri) is True
    stored = s3.get_object(Bucket="channels-bucket", Key="p/data/k/train/train.txt")
    assert stored["Body"].read() == path.read_bytes()
    assert stored["Metadata"]["sha256"] == file_digest(path)


def test_a_job_an_older_run_sent_early_stopping_false_is_reused_under_the_same_key(
    hooks: Hooks, aws: MotoServer, trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    # GIVEN a finished job for these inputs as an older run started it: early stopping off sent as "false"
    # (moto's answer to DescribeTrainingJob carries it, as SageMaker's would)
    settings = aws_settings(tmp_path, trained)
    _, prepared = pipeline.prepare_data(settings)
    first = sm.train(aws_session.connect(settings), settings, prepared)
    sent_false = recorded(
        aws,
        "DescribeTrainingJob",
        lambda r: r | {"HyperParameters": {**r["HyperParameters"], "early_stopping": "false"}},
    )
    hooks.on("before-call.sagemaker.DescribeTrainingJob", sent_false)
    creates = hooks.count("before-call.sagemaker.CreateTrainingJob")
    # WHEN training runs again, leaving early stopping out
    hyperparameters = settings.hyperparameters.as_blazingtext()
    again = sm.train(aws_session.connect(settings), settings, prepared)
    # THEN the job is reused: its key is what the older spec's was, and its "false" is the same training
    older = sm.JobSpec(
        aws_session.connect(settings).image, {**hyperparameters, "early_stopping": "false"}, {}
    )
    assert "early_stopping" not in hyperparameters
    assert older.key(prepared.key) == first.key == again.key
    assert creates == [] and (again.name, again.reused) == (first.name, True)
