"""The CI roles of terraform/ci-role/, proven by running the workflows' commands as them with IAM enforced.

Each role holds exactly its policy from the repo, in the emulator's view (ops/infra/iam_view.py: moto checks
actions, and resources for S3 and for IAM calls on an existing role only); the ARNs the commands used are
checked against the original policy in-process. The tests share one account and one apply, in file order:
the plan role plans the new stack, the deploy role applies that plan, both plan again, and the deploy
role destroys stack and endpoint last.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ops.infra.apply import apply
from ops.infra.destroy import destroy
from ops.infra.errors import InfraError
from ops.infra.iam_view import Call, CallRecorder, refused, state_arns, uncovered_resources
from ops.infra.plan import PlanReport, plan
from ops.infra.terraform import ApplyResult, TerraformError

from .conftest import (
    ACCOUNT,
    CONFIG,
    DEPLOY_ROLE,
    MODEL,
    NAME,
    PLAN_ROLE,
    REGION,
    Account,
    acting_as,
    lock_files,
    state,
)

pytestmark = pytest.mark.slow


@dataclass
class Applied:
    """The stack as the workflows make it: planned by the plan role, that plan applied by the deploy role."""

    account: Account
    planned: PlanReport
    result: ApplyResult
    state: dict[str, Any]


@pytest.fixture(scope="module")
def applied(iam_account: Account) -> Applied:
    """plan.yml's `invoke plan --target aws` as the plan role on the empty state, then apply.yml's
    `invoke infra --target aws --plan-file build/tfplan` as the deploy role: the one apply the tests share."""
    settings = iam_account.settings()
    with acting_as(iam_account.emulator.become(PLAN_ROLE)):
        planned = plan(settings, echo=lambda _: None)
    with acting_as(iam_account.emulator.become(DEPLOY_ROLE)):
        result = apply(settings, echo=lambda _: None, plan_file=planned.plan_path)
    return Applied(iam_account, planned, result, state(iam_account))


def test_the_plan_role_plans_a_new_stack_and_the_deploy_role_applies_that_plan(applied: Applied) -> None:
    """The first pull request's plan (nothing to read yet: the state, its lock) and main's apply of it."""
    assert applied.planned.has_changes and applied.planned.violations == ()
    assert applied.result.added == applied.planned.summary.totals["add"] > 20
    assert lock_files(applied.account) == []


def test_a_second_plan_as_the_deploy_role_has_no_changes(applied: Applied) -> None:
    """After the apply, a plan as the deploy role (it refreshes every resource) would change nothing."""
    with acting_as(applied.account.emulator.become(DEPLOY_ROLE)):
        report = plan(applied.account.settings(), echo=lambda _: None)
    assert not report.has_changes, report.markdown_path.read_text()
    assert lock_files(applied.account) == []


def test_every_resource_the_deploy_role_created_matches_its_policy(applied: Applied) -> None:
    """moto checks most of the deploy role's calls against resource "*": each ARN in the state must be one
    the ORIGINAL policy lets the role create (the action that creates its type, on that ARN)."""
    services = {arn.split(":")[2] for _, _, arn in state_arns(applied.state)}
    assert services >= {
        "iam",
        "lambda",
        "apigateway",
        "logs",
        "s3",
        "sns",
        "cloudwatch",
        "cloudfront",
        "wafv2",
    }
    assert uncovered_resources(applied.account.emulator.become(DEPLOY_ROLE).policies, applied.state) == []


@pytest.mark.parametrize("role", [PLAN_ROLE, DEPLOY_ROLE])
def test_each_policy_fits_iams_inline_limit(applied: Applied, role: str) -> None:
    """AWS refuses a role whose inline policies exceed 10,240 characters (whitespace aside); moto does not."""
    policies = applied.account.emulator.become(role).policies
    assert sum(len(json.dumps(policy, separators=(",", ":"))) for policy in policies) <= 10_240


def test_the_resource_check_finds_a_resource_outside_the_policy(applied: Applied) -> None:
    """The check above is not vacuous: a log group's ARN in another account matches no pattern."""
    tampered = json.loads(
        json.dumps(applied.state).replace(f":{ACCOUNT}:log-group:", ":999999999999:log-group:")
    )
    missing = uncovered_resources(applied.account.emulator.become(DEPLOY_ROLE).policies, tampered)
    assert missing and all(":999999999999:log-group:" in line for line in missing)


def test_the_plan_role_plans_the_applied_stack_with_the_state_lock(applied: Applied) -> None:
    """The next pull request's plan: it refreshes every resource (the read rights) and takes and frees the
    lock (moto checks S3 by resource: the lock object and the state key)."""
    with acting_as(applied.account.emulator.become(PLAN_ROLE)):
        report = plan(applied.account.settings(), echo=lambda _: None)
    assert not report.has_changes
    assert report.summary.changes == ()
    assert lock_files(applied.account) == []


def test_the_plan_role_without_one_read_fails_naming_it(applied: Applied) -> None:
    """Take iam:GetRole from the plan role: its plan stops, and the message names the action."""
    with (
        acting_as(applied.account.emulator.become(PLAN_ROLE, without=("iam:GetRole",))),
        pytest.raises(TerraformError, match="is not authorized to perform: iam:GetRole"),
    ):
        plan(applied.account.settings(), echo=lambda _: None)


def test_the_plan_role_cannot_write(applied: Applied) -> None:
    """The plan role's policy has no write: an apply as the plan role is refused at its first change."""
    plan_role = applied.account.emulator.become(PLAN_ROLE)
    with pytest.raises(ClientError, match="is not authorized to perform: sns:CreateTopic"):
        applied.account.emulator.client("sns", plan_role.env).create_topic(Name=f"{NAME}-alarms-2")


ROLE_CHANGES = {
    "put_role_policy": {
        "PolicyName": "more",
        "PolicyDocument": json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    },
    "attach_role_policy": {"PolicyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    "update_assume_role_policy": {"PolicyDocument": json.dumps({"Version": "2012-10-17", "Statement": []})},
}


@pytest.mark.parametrize("operation", sorted(ROLE_CHANGES))
@pytest.mark.parametrize("target", [DEPLOY_ROLE, PLAN_ROLE])
def test_the_deploy_role_cannot_change_the_ci_roles(applied: Applied, operation: str, target: str) -> None:
    """The deploy role may write the Lambda's role only; an explicit Deny covers the two CI roles.

    Checked twice: by the resource check against the ORIGINAL policy (what AWS decides), and on the
    emulator, which evaluates IAM calls that name an existing role against that role's ARN, so the Deny
    (kept as written in the emulator view) refuses the call there too.
    """
    deploy = applied.account.emulator.become(DEPLOY_ROLE)
    action = "iam:" + "".join(word.title() for word in operation.split("_"))
    target_arn = f"arn:aws:iam::{ACCOUNT}:role/{target}"
    lambda_arn = f"arn:aws:iam::{ACCOUNT}:role/{NAME}-lambda"
    assert [call.resource for call in refused(deploy.policies, [Call(action, target_arn)])] == [target_arn]
    if action != "iam:AttachRolePolicy":  # not granted on any role: the Lambda's role is inline-only
        assert refused(deploy.policies, [Call(action, lambda_arn)]) == []
    iam = applied.account.emulator.client("iam", deploy.env)
    with pytest.raises(ClientError, match=f"is not authorized to perform: {action}"):
        getattr(iam, operation)(RoleName=target, **ROLE_CHANGES[operation])


def test_destroy_without_one_action_fails_naming_it_and_removes_nothing(applied: Applied) -> None:
    """destroy.yml less sagemaker:DescribeEndpoint: it stops before removing anything, naming the action."""
    before = state(applied.account)["resources"]
    with (
        acting_as(applied.account.emulator.become(DEPLOY_ROLE, without=("sagemaker:DescribeEndpoint",))),
        pytest.raises(InfraError, match="is not authorized to perform: sagemaker:DescribeEndpoint"),
    ):
        destroy(applied.account.settings(), endpoint=True, yes=True, echo=lambda _: None)
    assert state(applied.account)["resources"] == before


def test_the_deploy_role_destroys_the_stack_and_the_endpoint(applied: Applied) -> None:
    """destroy.yml with `endpoint: true` as the deploy role (last: it removes what the others share).

    Everything goes: the state is empty, and the endpoint, its config and its model are gone; the calls
    SageMaker saw name resources the ORIGINAL policy grants.
    """
    recorder = CallRecorder(REGION, ACCOUNT)
    with acting_as(applied.account.emulator.become(DEPLOY_ROLE), recorder):
        report = destroy(applied.account.settings(), endpoint=True, yes=True, echo=lambda _: None)
    assert report.removed
    assert state(applied.account)["resources"] == []
    sagemaker = applied.account.emulator.client("sagemaker")
    assert sagemaker.list_endpoints()["Endpoints"] == []
    assert sagemaker.list_endpoint_configs()["EndpointConfigs"] == []
    assert sagemaker.list_models()["Models"] == []
    actions = {call.action: call.resource for call in recorder.calls}
    assert actions["sagemaker:DeleteEndpointConfig"].endswith(f":endpoint-config/{CONFIG}")
    assert actions["sagemaker:DeleteModel"].endswith(f":model/{MODEL}")
    assert {"sagemaker:DescribeEndpoint", "sagemaker:DeleteEndpoint"} <= set(actions)
    assert refused(applied.account.emulator.become(DEPLOY_ROLE).policies, recorder.calls) == []
