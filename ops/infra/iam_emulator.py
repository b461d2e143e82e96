"""An emulated AWS account with IAM enforced, where a principal holds exactly its policy from the repo.

    with IamEmulator("111122223333") as account:
        roles = account.apply(ROOT / "terraform" / "ci-role", tmp / "ci-role", {"state_bucket": ...})
        deploy = account.become("dbpedia-classifier-ci-deploy")   # its policies' emulator view, assumed
        ... run the code with deploy.env (boto3 and Terraform read it) ...
        refused(deploy.policies, recorder.calls)                    # the resources, against the originals

The account is a moto_server (ops/infra/moto_server.py) with the gap proxies of ops/infra/moto_gaps.py in
front of Application Auto Scaling and CloudFront. An administrator (an IAM user with ``*`` on ``*`` and an
access key) is created before enforcement is switched on; then every request is checked. Root modules are
applied as the administrator (:meth:`IamEmulator.apply`), the way an administrator applies the bootstrap
and CI roles once. :meth:`IamEmulator.become` gives a role the emulator view of its policies (what moto can
enforce, and what it cannot: ops/infra/iam_view.py) and assumes it with moto's AssumeRole. The role's trust
policy is replaced by one that trusts the administrator: moto cannot exchange a GitHub OIDC token, so the
trust policies themselves are not proven here (terraform/ci-role/tests/ checks them).
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3

from ops.infra.iam_view import Policy, emulator_view
from ops.infra.moto_gaps import AppAutoScalingTagProxy, CloudFrontGapProxy
from ops.infra.moto_server import MotoServer
from ops.infra.terraform import TerraformRunner, write_cli_config

ADMIN = "administrator"
EVERYTHING: Policy = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
VIEW = "emulator-view"  # the name of the inline policies a principal holds on the emulator


@dataclass(frozen=True)
class Principal:
    """An assumed role: its ARN, its ORIGINAL policies (for the resource check) and its session's env."""

    arn: str
    policies: tuple[Policy, ...]
    env: dict[str, str | None]


def enforce(moto_url: str) -> None:
    """Switch moto's IAM enforcement on: every request from now on is checked (``/moto-api/reset-auth``)."""
    request = urllib.request.Request(
        f"{moto_url}/moto-api/reset-auth", data=b"0", headers={"Content-Type": "text/plain"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def role_policies(iam: Any, role: str) -> list[Policy]:
    """The documents of a role's inline and attached managed policies."""
    inline = [
        iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    return inline + [managed_policy(iam, item["PolicyArn"]) for item in attached]


def managed_policy(iam: Any, arn: str) -> Policy:
    """The default version's document of the managed policy ``arn``."""
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document: Policy = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    return document


class IamEmulator:
    """A moto_server account with an administrator and IAM enforced; use it as a context manager.

    Args:
        account_id: the account's id (moto reports it in every ARN).
        region: the region of the clients and of the env it hands out.
    """

    def __init__(self, account_id: str, region: str = "us-east-1") -> None:
        self.account_id = account_id
        self.region = region
        self.admin_arn = f"arn:aws:iam::{account_id}:user/{ADMIN}"
        self._exit = ExitStack()
        self._originals: dict[str, tuple[Policy, ...]] = {}

    def __enter__(self) -> IamEmulator:
        with ExitStack() as starting:
            self.moto = starting.enter_context(MotoServer(self.account_id))
            tags = starting.enter_context(AppAutoScalingTagProxy(self.moto.url))
            cloudfront = starting.enter_context(CloudFrontGapProxy(self.moto.url))
            # The provider's names (override files) and boto3's (clients, AWS_ENDPOINT_URL_<SERVICE>).
            self.services = {"appautoscaling": tags.url, "cloudfront": cloudfront.url}
            self._endpoints = {"application-autoscaling": tags.url, "cloudfront": cloudfront.url}
            iam = self.moto.client("iam", self.region)  # before enforcement: unchecked
            iam.create_user(UserName=ADMIN)
            iam.put_user_policy(UserName=ADMIN, PolicyName=ADMIN, PolicyDocument=json.dumps(EVERYTHING))
            key = iam.create_access_key(UserName=ADMIN)["AccessKey"]
            self.admin_env = self.env(key["AccessKeyId"], key["SecretAccessKey"])
            enforce(self.moto.url)
            self._exit = starting.pop_all()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._exit.close()

    def env(self, key_id: str, secret: str, token: str | None = None) -> dict[str, str | None]:
        """The environment that sends boto3 and Terraform (provider and S3 backend) here with these keys."""
        return {
            **self.moto.aws_env(self.region),
            "AWS_ACCESS_KEY_ID": key_id,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_SESSION_TOKEN": token,
            "AWS_ENDPOINT_URL_APPLICATION_AUTO_SCALING": self._endpoints["application-autoscaling"],
            "AWS_ENDPOINT_URL_CLOUDFRONT": self._endpoints["cloudfront"],
        }

    def client(self, service: str, env: dict[str, str | None] | None = None) -> Any:
        """A boto3 client for ``service`` with ``env``'s credentials (default: the administrator's)."""
        env = env or self.admin_env
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self._endpoints.get(service, self.moto.url),
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"],
        )

    def apply(self, module: Path, workdir: Path, variables: dict[str, Any]) -> TerraformRunner:
        """Apply the root module ``module`` as the administrator in a fresh copy at ``workdir`` (local state);
        return its initialised runner. The provider finds the emulator through the env (:meth:`env`)."""
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        for path in sorted(module.glob("*")):
            if path.is_file() and path.suffix in (".tf", ".tfvars", ".json"):
                shutil.copy2(path, workdir / path.name)
        cli_config = write_cli_config(workdir / "terraform.rc")
        runner = TerraformRunner(workdir, cli_config, env=self.admin_env, variables=variables)
        runner.init()
        runner.apply()
        return runner

    def become(
        self, role: str, policies: list[Policy] | None = None, *, without: tuple[str, ...] = ()
    ) -> Principal:
        """Give ``role`` exactly the emulator view of its policies (less the actions ``without``), assume it.

        ``policies`` (say, a managed policy's document: :func:`managed_policy`) are the originals for a role
        created here if missing; without them, the role's own policies as the repo's Terraform made them,
        read the first time and kept (later calls re-read what the first one saw, not the views).
        """
        iam = self.client("iam")
        trusted = {"Effect": "Allow", "Principal": {"AWS": self.admin_arn}, "Action": "sts:AssumeRole"}
        trust = {"Version": "2012-10-17", "Statement": [trusted]}
        if role not in self._originals:
            if policies is None:
                self._originals[role] = tuple(role_policies(iam, role))
            else:
                if role not in {item["RoleName"] for item in iam.list_roles()["Roles"]}:
                    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
                self._originals[role] = tuple(policies)
        originals = self._originals[role]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            iam.delete_role_policy(RoleName=role, PolicyName=name)
        for item in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=role, PolicyArn=item["PolicyArn"])
        for number, policy in enumerate(originals):
            view = emulator_view(policy, without)
            if not view["Statement"]:  # everything it granted is left out: IAM refuses an empty policy
                continue
            iam.put_role_policy(RoleName=role, PolicyName=f"{VIEW}-{number}", PolicyDocument=json.dumps(view))
        iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(trust))
        arn = iam.get_role(RoleName=role)["Role"]["Arn"]
        session = self.client("sts").assume_role(RoleArn=arn, RoleSessionName="proof")["Credentials"]
        env = self.env(session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"])
        return Principal(arn, originals, env)
