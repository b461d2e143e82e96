"""ops/infra/preflight_gaps.py in front of a real moto_server: it answers only moto's two gaps (IAM's policy
simulator, SageMaker's Service Quotas) and forwards the rest, signed as the caller signed it, so it also works
with moto's IAM enforcement switched on (``/moto-api/reset-auth``)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from ops.infra.moto_server import MotoServer
from ops.infra.preflight_gaps import PreflightGapProxy

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/worker"


def _policy(*statements: dict[str, object]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def enforced() -> Iterator[tuple[MotoServer, dict[str, str], dict[str, str]]]:
    """A moto_server with an admin, an engineer allowed iam:GetRole only, a role; then IAM enforcement on."""
    with MotoServer(account_id=ACCOUNT) as moto:
        iam = moto.client("iam")
        keys = {}
        for user, action in (("admin", "*"), ("engineer", "iam:GetRole")):
            iam.create_user(UserName=user)
            allow = {"Effect": "Allow", "Action": action, "Resource": "*"}
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=_policy(allow))
            keys[user] = iam.create_access_key(UserName=user)["AccessKey"]
        trust = {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
        iam.create_role(RoleName="worker", AssumeRolePolicyDocument=_policy(trust))
        iam.put_role_policy(
            RoleName="worker",
            PolicyName="p",
            PolicyDocument=_policy(
                {"Effect": "Allow", "Action": ["ec2:DescribeVpcs", "s3:GetObject"], "Resource": "*"},
                {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::secret/*"},
            ),
        )
        # moto reads the body of reset-auth as data: a form content type (urllib's default) is a 500
        request = urllib.request.Request(
            f"{moto.url}/moto-api/reset-auth",
            data=b"0",
            method="POST",
            headers={"Content-Type": "text/plain"},
        )
        urllib.request.urlopen(request, timeout=10).close()
        yield moto, keys["admin"], keys["engineer"]


def test_simulation_evaluates_the_role_s_policies_and_the_rest_goes_to_moto_signed(
    enforced: tuple[MotoServer, dict[str, str], dict[str, str]],
) -> None:
    moto, admin, engineer = enforced
    with PreflightGapProxy(moto.url, credentials=(admin["AccessKeyId"], admin["SecretAccessKey"])) as gaps:
        iam = boto3.client(
            "iam",
            region_name="us-east-1",
            endpoint_url=gaps.url,
            aws_access_key_id=engineer["AccessKeyId"],
            aws_secret_access_key=engineer["SecretAccessKey"],
        )

        # WHEN the engineer simulates the role's policies  THEN allows, implicit and explicit denies are IAM's
        def decisions(resource: str) -> dict[str, str]:
            answer = iam.simulate_principal_policy(
                PolicySourceArn=ROLE,
                ActionNames=["ec2:DescribeVpcs", "ec2:DescribeSubnets", "s3:GetObject"],
                ResourceArns=[resource],
            )
            return {r["EvalActionName"]: r["EvalDecision"] for r in answer["EvaluationResults"]}

        assert decisions("arn:aws:s3:::data/x") == {
            "ec2:DescribeVpcs": "allowed",
            "ec2:DescribeSubnets": "implicitDeny",
            "s3:GetObject": "allowed",
        }
        assert decisions("arn:aws:s3:::secret/x")["s3:GetObject"] == "explicitDeny"
        # AND a role that does not exist is IAM's NoSuchEntity
        with pytest.raises(ClientError, match="NoSuchEntity"):
            iam.simulate_principal_policy(
                PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/none", ActionNames=["a:B"]
            )
        # AND the rest reaches moto with the engineer's own signature: allowed GetRole, refused ListUsers
        assert iam.get_role(RoleName="worker")["Role"]["Arn"] == ROLE
        with pytest.raises(ClientError, match="AccessDenied"):
            iam.list_users()


def test_sagemaker_quotas_come_from_the_tables_and_other_services_from_moto() -> None:
    with MotoServer(account_id=ACCOUNT) as moto, PreflightGapProxy(moto.url) as gaps:
        gaps.applied = {"ml.m5.large for endpoint usage": 4}
        quotas = boto3.client(
            "service-quotas",
            region_name="us-east-1",
            endpoint_url=gaps.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        # WHEN SageMaker's quotas are listed  THEN they are the table's; AWS's defaults are empty until set
        listed = quotas.list_service_quotas(ServiceCode="sagemaker")["Quotas"]
        assert [(q["QuotaName"], q["Value"]) for q in listed] == [("ml.m5.large for endpoint usage", 4.0)]
        assert quotas.list_aws_default_service_quotas(ServiceCode="sagemaker")["Quotas"] == []
        # AND another service's defaults are moto's own (vpc)
        assert quotas.list_aws_default_service_quotas(ServiceCode="vpc")["Quotas"]
