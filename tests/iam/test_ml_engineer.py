"""The ML engineer's managed policy (terraform/bootstrap/), proven by running `invoke approve`,
`invoke models` and `invoke feedback` with `--target aws` as a principal holding exactly that policy, with
IAM enforced.

`invoke train --target aws` (first deploy and guarded update), `rollback` and `classify --target aws` run
as the same principal in tests/rehearsal/test_rehearse.py, whose SageMaker calls are checked there against
the policy's resources as they ran; tests/aws/test_preflight_on_moto.py checks the policy against a list of
the calls train, tune, approve, rollback, classify and preflight make.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ml import feedback
from ml.aws import feedback as aws_feedback
from ml.aws import pipeline as sagemaker_pipeline
from ml.aws.session import SageMakerError
from ml.config import ROOT
from ml.versions import APPROVED
from ops.infra.iam_emulator import IamEmulator, managed_policy
from ops.infra.iam_view import CallRecorder, Policy, refused
from ops.infra.terraform import terraform_binary
from ops.settings import Settings, load_settings
from tests.helpers import in_ci

from .acting import acting_as

pytestmark = pytest.mark.slow

ACCOUNT = "111122223333"
REGION = "us-east-1"
NAME = "dbpedia-classifier"
VERSIONS = ("0123456789abcdef", "fedcba9876543210")  # one pending package for each test
ENGINEER = f"{NAME}-ml-engineer"
FEEDBACK_BUCKET = f"{NAME}-feedback-20261207000000000000000001"  # terraform/feedback.tf's bucket_prefix
ITEM = {
    "id": "0f" * 16,
    "received": "2026-12-07T10:00:00Z",
    "text": "A river in Bavaria.",
    "predicted": "Village",
    "correct": "NaturalPlace",
    "modelSha256": "5e" * 32,
}


def _stack_lambda_and_feedback(emulator: IamEmulator) -> None:
    """What `invoke infra --target aws` leaves that `invoke feedback` reads: the stack's Lambda, naming its
    feedback bucket, and one item a visitor sent (as lambda/feedback.py stores it). moto runs no Lambda."""
    trust = {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    role = emulator.client("iam").create_role(
        RoleName=f"{NAME}-lambda",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]}),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("handler.py", "def lambda_handler(event, context):\n    return {}\n")
    emulator.client("lambda").create_function(
        FunctionName=NAME,
        Runtime="python3.12",
        Role=role,
        Handler="handler.lambda_handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": {"FEEDBACK_BUCKET": FEEDBACK_BUCKET}},
    )
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=FEEDBACK_BUCKET)
    s3.put_object(Bucket=FEEDBACK_BUCKET, Key=f"feedback/2026-12-07/{ITEM['id']}.json", Body=json.dumps(ITEM))


@dataclass
class Bootstrapped:
    """An account where the administrator applied terraform/bootstrap and registered one pending version."""

    emulator: IamEmulator
    policy: Policy  # the ML engineer's managed policy, as the module made it
    settings: Settings


@pytest.fixture(scope="module")
def bootstrapped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bootstrapped]:
    if terraform_binary() is None:
        if in_ci():
            pytest.fail("CI=true but terraform is missing")
        pytest.skip("terraform is not installed here")
    tmp: Path = tmp_path_factory.mktemp("bootstrap")
    with IamEmulator(ACCOUNT, REGION) as emulator:
        runner = emulator.apply(ROOT / "terraform" / "bootstrap", tmp / "bootstrap", {"aws_region": REGION})
        policy = managed_policy(emulator.client("iam"), runner.outputs()["ml_engineer_policy_arn"])
        sagemaker = emulator.client("sagemaker")
        sagemaker.create_model_package_group(ModelPackageGroupName=NAME)
        for version in VERSIONS:
            container = {"Image": "blazingtext", "ModelDataUrl": f"s3://b/{NAME}/{version}.tar.gz"}
            sagemaker.create_model_package(
                ModelPackageGroupName=NAME,
                InferenceSpecification={
                    "Containers": [container],
                    "SupportedContentTypes": ["application/json"],
                    "SupportedResponseMIMETypes": ["application/json"],
                },
                ModelApprovalStatus="PendingManualApproval",
                CustomerMetadataProperties={"version": version, "artifact_sha256": version * 4},
            )
        _stack_lambda_and_feedback(emulator)
        settings = load_settings(build_dir=tmp / "build", target="aws", region=REGION, endpoint_name=NAME)
        yield Bootstrapped(emulator, policy, settings)


def test_the_ml_engineer_lists_and_approves_a_version_with_the_bootstrap_policy(
    bootstrapped: Bootstrapped,
) -> None:
    # GIVEN a principal holding exactly the ML engineer's policy, the calls of the SageMaker layer recorded
    engineer = bootstrapped.emulator.become(ENGINEER, [bootstrapped.policy])
    recorder = CallRecorder(REGION, ACCOUNT)
    # WHEN `invoke models --target aws` and `invoke approve VERSION --target aws` run as it
    with acting_as(engineer, recorder):
        listed, _ = sagemaker_pipeline.list_packages(bootstrapped.settings)
        said = sagemaker_pipeline.approve(bootstrapped.settings, VERSIONS[0][:8], APPROVED)
    # THEN both versions are listed and the one approved, and every call's ARN is allowed by the original
    assert [p.version for p in listed] == list(VERSIONS) and said.endswith(f": {APPROVED}")
    assert recorder.calls and refused(engineer.policies, recorder.calls) == []


def test_the_ml_engineer_without_one_action_fails_naming_it(bootstrapped: Bootstrapped) -> None:
    # GIVEN the same policy less sagemaker:UpdateModelPackage
    engineer = bootstrapped.emulator.become(
        ENGINEER, [bootstrapped.policy], without=("sagemaker:UpdateModelPackage",)
    )
    # WHEN the approval runs  THEN it stops with AWS's refusal, naming the action
    refusal = "not authorized to perform: sagemaker:UpdateModelPackage"
    with acting_as(engineer), pytest.raises(SageMakerError, match=refusal):
        sagemaker_pipeline.approve(bootstrapped.settings, VERSIONS[1][:8], APPROVED)


def test_the_ml_engineer_downloads_the_feedback_the_stack_s_lambda_names(
    bootstrapped: Bootstrapped, tmp_path: Path
) -> None:
    # GIVEN the ML engineer's policy, the calls recorded
    engineer = bootstrapped.emulator.become(ENGINEER, [bootstrapped.policy])
    recorder = CallRecorder(REGION, ACCOUNT)
    # WHEN `invoke feedback --target aws` downloads as it
    with acting_as(engineer, recorder):
        new = aws_feedback.collect(REGION, NAME, tmp_path)
    # THEN the item the visitor sent is on this machine, and every call's ARN is one the policy allows
    assert new == 1 and [item.id for item in feedback.items(tmp_path)] == [ITEM["id"]]
    assert {call.action for call in recorder.calls} >= {"lambda:GetFunctionConfiguration", "s3:GetObject"}
    assert refused(engineer.policies, recorder.calls) == []


@pytest.mark.parametrize("action", ["lambda:GetFunctionConfiguration", "s3:ListBucket", "s3:GetObject"])
def test_the_feedback_download_without_one_action_fails_naming_it(
    bootstrapped: Bootstrapped, tmp_path: Path, action: str
) -> None:
    # GIVEN the policy less one of the feedback download's actions
    engineer = bootstrapped.emulator.become(ENGINEER, [bootstrapped.policy], without=(action,))
    # WHEN it downloads  THEN it stops in one line naming the action, and nothing is written
    with acting_as(engineer), pytest.raises(aws_feedback.FeedbackDownloadError, match=action):
        aws_feedback.collect(REGION, NAME, tmp_path)
    assert feedback.items(tmp_path) == []
