"""The emulated account itself (ops/infra/iam_emulator.py): a principal holds its policy and nothing more.

No Terraform here: boto3 calls as a role made from a managed policy, the way the lead proves a policy that
no role of the repo carries (the ML engineer's).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from ops.infra.iam_emulator import IamEmulator, managed_policy
from ops.infra.iam_view import Call, CallRecorder, refused

ACCOUNT = "444455556666"
ACTIONS = [
    "sagemaker:ListEndpoints",
    "sagemaker:DescribeEndpoint",
    "lambda:ListFunctions",  # a GET without a body: moto's signature check (ops/infra/moto_server.py)
    "application-autoscaling:DescribeScalableTargets",  # through the tag proxy, which keeps the Host
    "cloudwatch:DescribeAlarms",  # moto checks it as monitoring:DescribeAlarms
]
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ACTIONS[:1] + ACTIONS[2:], "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": ACTIONS[1],
            "Resource": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/ours",
        },
    ],
}


@pytest.fixture(scope="module")
def account() -> Iterator[IamEmulator]:
    with IamEmulator(ACCOUNT) as emulator:
        iam = emulator.client("iam")
        iam.create_policy(PolicyName="proof-policy", PolicyDocument=json.dumps(POLICY))
        yield emulator


def calls(account: IamEmulator, env: dict[str, str | None]) -> None:
    account.client("sagemaker", env).list_endpoints()
    account.client("lambda", env).list_functions()
    account.client("application-autoscaling", env).describe_scalable_targets(ServiceNamespace="sagemaker")
    account.client("cloudwatch", env).describe_alarms()


def test_a_role_made_from_a_managed_policy_may_call_what_it_grants(account: IamEmulator) -> None:
    document = managed_policy(account.client("iam"), f"arn:aws:iam::{ACCOUNT}:policy/proof-policy")
    principal = account.become("policy-proof", [document])
    calls(account, principal.env)
    assert principal.arn == f"arn:aws:iam::{ACCOUNT}:role/policy-proof"
    assert principal.policies == (POLICY,)


def test_what_the_policy_does_not_grant_is_refused_naming_the_action(account: IamEmulator) -> None:
    principal = account.become("policy-proof", [POLICY])
    with pytest.raises(ClientError, match="is not authorized to perform: sagemaker:ListModels"):
        account.client("sagemaker", principal.env).list_models()


@pytest.mark.parametrize("action", ["lambda:ListFunctions", "cloudwatch:DescribeAlarms"])
def test_a_role_without_one_action_is_refused_it(account: IamEmulator, action: str) -> None:
    principal = account.become("policy-proof", [POLICY], without=(action,))
    name = action.replace("cloudwatch:", "monitoring:")
    with pytest.raises(ClientError, match=f"is not authorized to perform: {name}"):
        calls(account, principal.env)


def test_the_recorder_names_the_arns_the_calls_used(account: IamEmulator) -> None:
    """moto checked DescribeEndpoint against "*"; the recorder and the original policy check its ARN."""
    principal = account.become("policy-proof", [POLICY])
    recorder = CallRecorder("us-east-1", ACCOUNT)
    sagemaker = account.client("sagemaker", principal.env)
    recorder.watch(sagemaker.meta.events)
    for name in ("ours", "theirs"):
        with pytest.raises(ClientError, match="Could not find endpoint"):
            sagemaker.describe_endpoint(EndpointName=name)
    theirs = Call("sagemaker:DescribeEndpoint", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/theirs")
    assert refused(principal.policies, recorder.calls) == [theirs]
