"""The policy rules (ops/infra/policy.py) on real plans: today's stack, and a copy with bad changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from invoke.exceptions import Exit

from ops.infra import policy
from ops.infra import stack as infra
from ops.infra.moto_server import MotoServer
from ops.infra.policy import PolicyError
from ops.infra.stack import plan_stack
from tasks import cli_errors

from .conftest import Reviewed, local_stack

pytestmark = pytest.mark.slow

# A copy of terraform/ with everything our rules forbid that the provider lets through to a plan.
BAD_OVERRIDE = """
data "aws_iam_policy_document" "lambda" {
  statement {
    sid       = "TooMuch"
    actions   = ["sagemaker:*", "s3:GetObject"]
    resources = ["*"]
  }
}

resource "aws_apigatewayv2_stage" "default" {
  default_route_settings {
    throttling_burst_limit = 0
    throttling_rate_limit  = 0
  }
}

resource "aws_lambda_function" "classifier" {
  reserved_concurrent_executions = 0
}
"""
BAD_EXTRA = """
resource "aws_iam_role_policy_attachment" "admin" {
  role       = aws_iam_role.lambda.name
  policy_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
}

resource "aws_wafv2_web_acl" "no_rate_rule" {
  name  = "review-no-rate-rule"
  scope = "REGIONAL"
  default_action {
    allow {}
  }
  visibility_config {
    cloudwatch_metrics_enabled = false
    metric_name                = "review"
    sampled_requests_enabled   = false
  }
}
"""


def test_todays_public_site_bucket_and_open_route_break_nothing_public_but_the_edge(
    reviewed: Reviewed,
) -> None:
    # GIVEN the plan of today's stack (S3 website with a public-read policy, the API reached directly)
    violations = {(v.rule, v.reason) for v in reviewed.report.violations}
    # THEN exactly the public parts break the edge rule, and every other rule passes
    rule = "nothing-public-but-the-edge"
    assert violations == {
        (rule, "aws_s3_bucket_website_configuration.site serves a bucket as a public S3 website"),
        (rule, "aws_s3_bucket_public_access_block.site sets block_public_policy = false"),
        (rule, "aws_s3_bucket_public_access_block.site sets restrict_public_buckets = false"),
        (rule, "aws_s3_bucket_policy.site grants s3:GetObject to anyone (principal *)"),
        (
            rule,
            "aws_apigatewayv2_route.classify (POST /classify) is open to anyone and no CloudFront "
            "distribution of this plan fronts its API",
        ),
    }
    assert f"**{len(violations)} violation(s): do not apply.**" in reviewed.report.markdown_path.read_text()


def test_the_task_fails_with_one_line_per_violation_and_no_traceback(reviewed: Reviewed) -> None:
    # GIVEN the reviewed plan with violations  WHEN the plan task checks the policy
    with pytest.raises(Exit) as ended, cli_errors():
        infra.require_policy(reviewed.report)
    # THEN it exits 1 with a count, where the report is, and one line per violation
    lines = str(ended.value.message).splitlines()
    assert ended.value.code == 1
    assert lines[0] == (
        f"error: the plan has {len(reviewed.report.violations)} policy violation(s) "
        f"({reviewed.report.markdown_path} lists them):"
    )
    assert lines[1:] == [f"  {v}" for v in reviewed.report.violations]


def test_a_plan_breaking_the_rules_is_reported_rule_by_rule_and_never_applied(
    terraform: str, moto: MotoServer, tmp_path: Path
) -> None:
    # GIVEN the stack with wildcard and extra grants, an admin attachment, zero throttling and concurrency,
    # and a web ACL without a rate rule
    stack, _, _ = local_stack(moto, tmp_path)
    (stack.runner.working_dir / "bad_override.tf").write_text(BAD_OVERRIDE)
    (stack.runner.working_dir / "bad_extra.tf").write_text(BAD_EXTRA)
    # WHEN it is planned for review
    report = plan_stack(stack, tmp_path / "build", review=True)
    found = {(v.rule, v.reason) for v in report.violations}
    role = "aws_iam_role.lambda"
    # THEN each rule names what breaks it
    assert {
        ("no-wildcard-actions", "aws_iam_role_policy.lambda allows wildcard action(s) sagemaker:*"),
        (
            "lambda-role-least-privilege",
            "aws_iam_role_policy_attachment.admin attaches arn:aws:iam::aws:policy/AdministratorAccess "
            f"to {role}",
        ),
        (
            "lambda-role-least-privilege",
            f"aws_iam_role_policy.lambda grants {role} s3:GetObject, sagemaker:*: "
            "only the endpoint and its own logs are allowed",
        ),
        ("limits-above-zero", "aws_apigatewayv2_stage.default sets throttling_burst_limit = 0"),
        ("limits-above-zero", "aws_apigatewayv2_stage.default sets throttling_rate_limit = 0"),
        (
            "limits-above-zero",
            "aws_lambda_function.classifier reserves 0 concurrent executions (it could never run)",
        ),
        ("limits-above-zero", "aws_wafv2_web_acl.no_rate_rule has no rate-based rule"),
    } <= found
    assert {rule for rule, _ in found} == set(policy.RULES)
    # AND `invoke infra --plan-file` refuses that plan before Terraform applies anything
    with pytest.raises(PolicyError, match="policy violation"):
        infra.apply_plan_file(stack, report.plan_path, echo=lambda _: None)
    assert stack.runner.state_list() == []
