"""The ML engineer's managed policy (terraform/bootstrap/), proven by running `invoke approve` and
`invoke models` with `--target aws` as a principal holding exactly that policy, with IAM enforced.

`invoke train --target aws` (first deploy and guarded update), `rollback` and `classify --target aws` run
as the same principal in tests/rehearsal/test_rehearse.py;
tests/aws/test_preflight_on_moto.py checks the policy against every call of train, tune, approve, rollback,
classify and preflight on the ARNs they name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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
