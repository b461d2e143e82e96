"""An emulated account with IAM enforced (ops/infra/iam_emulator.py), the CI roles applied from the repo,
the endpoint `invoke train` would have deployed, and the aws target's working copy of terraform/.

One account serves the session and one apply every test of test_ci_roles.py: the stack's apply costs tens
of seconds, so the deploy role applies it once and the tests share it, in file order.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from ml.config import ROOT
from ml.deploy import EndpointCapacity, EndpointOutputs
from ops.infra.iam_emulator import IamEmulator, Principal
from ops.infra.iam_view import CallRecorder
from ops.infra.local_workdir import EDGE_NO_WAIT
from ops.infra.terraform import terraform_binary
from ops.settings import Settings, load_settings
from tests.helpers import in_ci
from tests.infra.conftest import write_endpoint_tfvars, write_model_vocabulary

ACCOUNT = "111122223333"  # not LOCAL_ACCOUNT_ID: the aws target refuses the local target's endpoint
REGION = "us-east-1"
NAME = "dbpedia-classifier"
STATE_BUCKET = "example-terraform-state"
STATE_KEY = f"{NAME}/terraform.tfstate"  # backend.tf.example's key, ci-role's state_key default
SHA = "5e" * 32
ENDPOINT = EndpointOutputs(
    aws_region=REGION,
    endpoint_arn=f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{NAME}",
    endpoint_name=NAME,
    sagemaker_runtime_url=f"https://runtime.sagemaker.{REGION}.amazonaws.com",
    endpoint_capacity=EndpointCapacity("instance", instance_type="ml.t2.medium", instance_count=1),
    model_sha256=SHA,
)
# Named as ml/aws/deploy.py resource_names names them: <name>-<16 hex digits>.
MODEL = f"{NAME}-{SHA[:16]}"
CONFIG = f"{NAME}-{'c0' * 8}"
PLAN_ROLE = f"{NAME}-ci-plan"
DEPLOY_ROLE = f"{NAME}-ci-deploy"


@dataclass
class Account:
    """The emulated account: the CI roles applied by the administrator, the endpoint deployed."""

    emulator: IamEmulator
    tmp: Path

    def settings(self) -> Settings:
        """The aws target's settings, in a fresh-enough copy of terraform/ (the repo's is never written)."""
        return load_settings(
            build_dir=self.tmp / "build", terraform_dir=self.tmp / "terraform", target="aws", region=REGION
        )


def copy_for_aws_target(dest: Path, state_bucket: str) -> Path:
    """terraform/ as a team's checkout has it for `--target aws`: the module, the endpoint's tfvars, and
    backend.tf made from backend.tf.example as .github/stack-inputs.sh makes it (the state in S3 with its
    lock file). One override for the emulator: the edge distribution does not wait the provider's 30 s for
    a deployment moto finishes at once. The provider and the backend find the emulator through the env."""
    dest.mkdir(parents=True)
    for path in [*(ROOT / "terraform").glob("*.tf"), *(ROOT / "terraform").glob("*.json")]:
        shutil.copy(path, dest / path.name)
    example = (ROOT / "terraform" / "backend.tf.example").read_text(encoding="utf-8")
    (dest / "backend.tf").write_text(
        example.replace("CHANGE-ME-terraform-state", state_bucket).replace("CHANGE-ME-region", REGION),
        encoding="utf-8",
    )
    (dest / "emulator_override.tf").write_text(EDGE_NO_WAIT, encoding="utf-8")
    write_endpoint_tfvars(dest, ENDPOINT)
    return dest


def deploy_endpoint(sagemaker: Any, role_arn: str) -> None:
    """What `invoke train --target aws` leaves running: a model, an endpoint config and the endpoint."""
    sagemaker.create_model(
        ModelName=MODEL,
        ExecutionRoleArn=role_arn,
        PrimaryContainer={
            "Image": "blazingtext",
            "ModelDataUrl": f"s3://sagemaker-bucket/{SHA}/model.tar.gz",
        },
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=CONFIG,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": MODEL,
                "InstanceType": "ml.t2.medium",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=NAME, EndpointConfigName=CONFIG)


@pytest.fixture(scope="session")
def iam_account(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Account]:
    """The account, with the CI roles (terraform/ci-role/, applied as the administrator) and the endpoint.

    One for the session: a module that uses it too should share test_ci_roles.py's xdist worker (add the
    fixture to ONE_WORKER in tests/conftest.py) and leave the stack as it found it."""
    if terraform_binary() is None:
        if in_ci():
            pytest.fail("CI=true but terraform is missing")
        pytest.skip("terraform is not installed here")
    tmp = tmp_path_factory.mktemp("iam")
    with IamEmulator(ACCOUNT, REGION) as emulator:
        emulator.client("s3").create_bucket(Bucket=STATE_BUCKET)
        emulator.apply(
            ROOT / "terraform" / "ci-role",
            tmp / "ci-role",
            {
                "github_repository": "example-org/dbpedia-classifier",
                "state_bucket": STATE_BUCKET,
                "name": NAME,
            },
        )
        deploy_endpoint(
            emulator.client("sagemaker"), f"arn:aws:iam::{ACCOUNT}:role/{NAME}-sagemaker-execution"
        )
        settings = Account(emulator, tmp).settings()
        copy_for_aws_target(settings.terraform_dir, STATE_BUCKET)
        write_model_vocabulary(settings, ENDPOINT)
        yield Account(emulator, tmp)


@contextmanager
def acting_as(principal: Principal, recorder: CallRecorder | None = None) -> Iterator[None]:
    """Run the project's functions as ``principal``: its env in os.environ (Terraform and boto3 read it)
    and a fresh default boto3 session (one made before would keep another principal's credentials).

    A ``recorder`` watches every boto3 session made meanwhile, the default one and those the code makes
    itself (``boto3.Session(region_name=...)``), so no call escapes it."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in principal.env.items():
            if value is None:
                patch.delenv(key, raising=False)
            else:
                patch.setenv(key, value)
        if recorder is not None:
            init = boto3.session.Session.__init__

            def watched(self: boto3.session.Session, *args: Any, **kwargs: Any) -> None:
                init(self, *args, **kwargs)
                recorder.watch(self.events)

            patch.setattr(boto3.session.Session, "__init__", watched)
        boto3.setup_default_session()
        try:
            yield
        finally:
            boto3.DEFAULT_SESSION = None


def state(account: Account) -> dict[str, Any]:
    """The stack's state as the S3 backend holds it (read by the administrator)."""
    body = account.emulator.client("s3").get_object(Bucket=STATE_BUCKET, Key=STATE_KEY)["Body"].read()
    return json.loads(body)


def lock_files(account: Account) -> list[str]:
    """The S3 backend's lock objects left in the state bucket (none once a command finished)."""
    listing = account.emulator.client("s3").list_objects_v2(Bucket=STATE_BUCKET)
    return [item["Key"] for item in listing.get("Contents", []) if item["Key"].endswith(".tflock")]
