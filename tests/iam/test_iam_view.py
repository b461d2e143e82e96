"""The emulator view of a policy and the resource check (ops/infra/iam_view.py), in-process."""

from __future__ import annotations

from typing import Any

from ops.infra.iam_view import (
    Call,
    call_resource,
    emulator_view,
    refused,
    state_arns,
    uncovered_resources,
)

ACCOUNT = "111122223333"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/stack-lambda"
POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Role", "Effect": "Allow", "Action": ["iam:GetRole", "iam:PutRolePolicy"], "Resource": ROLE},
        {
            "Sid": "Pass",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": ROLE,
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        },
        {"Sid": "Bucket", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::state"]},
        {
            "Sid": "Alarms",
            "Effect": "Allow",
            "Action": ["cloudwatch:PutMetricAlarm"],
            "Resource": ["arn:aws:cloudwatch:us-east-1:1:alarm:x"],
        },
        {
            "Sid": "Api",
            "Effect": "Allow",
            "Action": ["apigateway:POST"],
            "Resource": ["arn:aws:apigateway:us-east-1::/apis"],
        },
        {
            "Sid": "Never",
            "Effect": "Deny",
            "Action": ["iam:PutRolePolicy"],
            "Resource": [f"arn:aws:iam::{ACCOUNT}:role/stack-ci-*"],
        },
    ],
}


def by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


def test_the_view_widens_allows_except_s3_and_keeps_denies_as_written() -> None:
    view = by_sid(emulator_view(POLICY))
    assert view["Role"]["Resource"] == ["*"]
    assert view["Bucket"]["Resource"] == ["arn:aws:s3:::state"]
    assert view["Never"]["Resource"] == [f"arn:aws:iam::{ACCOUNT}:role/stack-ci-*"]
    assert view["Never"]["Effect"] == "Deny"


def test_the_view_drops_conditions_moto_would_read_as_a_deny() -> None:
    assert "Condition" not in by_sid(emulator_view(POLICY))["Pass"]


def test_the_view_adds_the_names_moto_checks() -> None:
    view = by_sid(emulator_view(POLICY))
    assert view["Alarms"]["Action"] == ["cloudwatch:PutMetricAlarm", "monitoring:PutMetricAlarm"]
    assert {"apigateway:POST", "apigateway:CreateApi", "apigateway:CreateRoute"} <= set(view["Api"]["Action"])
    assert "apigateway:GetApi" not in view["Api"]["Action"]  # a GET
    assert view["Bucket"]["Action"] == ["s3:ListBucket", "s3:HeadBucket"]


def test_the_view_leaves_out_the_actions_asked_and_empty_statements() -> None:
    view = by_sid(emulator_view(POLICY, without=("iam:GetRole", "s3:ListBucket")))
    assert view["Role"]["Action"] == ["iam:PutRolePolicy"]
    assert "Bucket" not in view


def test_the_original_policy_refuses_calls_outside_its_resources_and_under_its_deny() -> None:
    allowed = Call("iam:PutRolePolicy", ROLE)
    elsewhere = Call("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/other")
    denied = Call("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/stack-ci-deploy")
    passed = Call("iam:PassRole", ROLE)  # its condition is not evaluated: the check is about resources
    assert refused([POLICY], [allowed, elsewhere, denied, passed, allowed]) == [elsewhere, denied]


def test_a_deny_in_one_policy_refuses_what_another_allows() -> None:
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    denied = Call("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/stack-ci-plan")
    assert refused([everything, POLICY], [denied]) == [denied]


def test_state_arns_reads_a_state_file_and_skips_what_iam_does_not_authorize() -> None:
    state = {
        "version": 4,
        "resources": [
            {
                "mode": "managed",
                "type": "aws_iam_role",
                "name": "lambda",
                "instances": [{"attributes": {"arn": ROLE}}],
            },
            {
                "mode": "managed",
                "type": "aws_s3_object",
                "name": "file",
                "instances": [{"index_key": "a.js", "attributes": {"arn": "arn:aws:s3:::site/a.js"}}],
            },
            {
                "mode": "data",
                "type": "aws_caller_identity",
                "name": "me",
                "instances": [{"attributes": {"arn": ROLE}}],
            },
            {
                "mode": "managed",
                "type": "aws_appautoscaling_policy",
                "name": "p",
                "instances": [{"attributes": {"arn": "arn:aws:autoscaling:us-east-1:1:scalingPolicy:x"}}],
            },
        ],
    }
    assert list(state_arns(state)) == [
        ("aws_iam_role", "aws_iam_role.lambda", ROLE),
        ("aws_s3_object", 'aws_s3_object.file["a.js"]', "arn:aws:s3:::site/a.js"),
    ]
    assert uncovered_resources([POLICY], state) == [
        f"aws_iam_role.lambda {ROLE}: iam:CreateRole",
        'aws_s3_object.file["a.js"] arn:aws:s3:::site/a.js: s3:PutObject',
    ]
    granted = {
        "Effect": "Allow",
        "Action": ["iam:CreateRole", "s3:PutObject"],
        "Resource": [ROLE, "arn:aws:s3:::site/*"],
    }
    assert uncovered_resources([POLICY, {"Statement": [granted]}], state) == []


def test_a_resource_type_without_a_known_creating_action_is_reported() -> None:
    resource = {
        "mode": "managed",
        "type": "aws_new_thing",
        "name": "x",
        "instances": [{"attributes": {"arn": "arn:aws:new:::x"}}],
    }
    assert uncovered_resources([POLICY], {"resources": [resource]}) == [
        "aws_new_thing.x arn:aws:new:::x: no creating action known for aws_new_thing (add it to CREATED_BY)"
    ]


def test_call_resource_names_sagemaker_resources_as_their_arns() -> None:
    def arn(operation: str, **params: str) -> str:
        return call_resource("sagemaker", operation, params, "us-east-1", ACCOUNT)

    assert arn("DeleteEndpointConfig", EndpointConfigName="Stack-Abc") == (
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint-config/stack-abc"
    )
    assert arn("DescribeModel", ModelName="m") == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/m"
    assert arn("DescribeModelPackage", ModelPackageName="arn:aws:sagemaker:x") == "arn:aws:sagemaker:x"
    assert arn("ListEndpoints") == "*"
    assert arn("CreateModelPackage", ModelPackageGroupName="Stack") == (
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/stack/*"
    )
    assert (
        call_resource("s3", "GetObject", {"Bucket": "b", "Key": "k"}, "us-east-1", ACCOUNT)
        == "arn:aws:s3:::b/k"
    )
    assert (
        call_resource("sns", "Publish", {"TopicArn": "arn:aws:sns:t"}, "us-east-1", ACCOUNT)
        == "arn:aws:sns:t"
    )
