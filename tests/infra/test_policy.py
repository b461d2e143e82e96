"""The policy rules (ops/infra/policy.py) on real plans: the stack as it is, and a copy with bad changes."""

from __future__ import annotations

import pytest
from invoke.exceptions import Exit

from commands.cli import cli_errors
from ops.infra import policy
from ops.infra.apply import apply_plan_file
from ops.infra.moto_server import MotoServer
from ops.infra.plan import PlanReport, plan_stack, require_policy
from ops.infra.policy import PolicyError
from ops.infra.stack import Stack

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

data "aws_iam_policy_document" "site_read_by_cloudfront" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.site.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }
}

resource "aws_s3_bucket_public_access_block" "site" {
  block_public_policy = false
}

data "aws_iam_policy_document" "lambda_feedback" {
  statement {
    actions   = ["s3:PutObject"]
    resources = ["*"]
  }
}

resource "aws_cloudfront_distribution" "edge" {
  web_acl_id = null
  origin {
    origin_id                = local.site_origin_id
    domain_name              = aws_s3_bucket.site.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.site.id
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

resource "aws_s3_bucket_website_configuration" "site" {
  bucket = aws_s3_bucket.site.id
  index_document {
    suffix = "index.html"
  }
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


@pytest.fixture(scope="module")
def bad(
    terraform: str, moto: MotoServer, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Stack, PlanReport]:
    """The stack with wildcard and extra grants, an admin attachment, a public bucket and website, the edge
    without WAF or API origin, zero throttling and concurrency, and a web ACL without a rate rule: planned."""
    tmp = tmp_path_factory.mktemp("bad")
    stack, _, _ = local_stack(moto, tmp)
    (stack.runner.working_dir / "bad_override.tf").write_text(BAD_OVERRIDE)
    (stack.runner.working_dir / "bad_extra.tf").write_text(BAD_EXTRA)
    return stack, plan_stack(stack, tmp / "build", review=True)


def test_the_stack_with_its_edge_passes_every_rule(reviewed: Reviewed) -> None:
    # GIVEN the plan of the stack as it is (private bucket behind CloudFront + WAF)  WHEN the rules run
    # THEN none is broken, and the review says so
    assert reviewed.report.violations == ()
    require_policy(reviewed.report)
    rules = ", ".join(f"`{rule}`" for rule in policy.RULES)
    assert f"All {len(policy.RULES)} rules pass: {rules}." in reviewed.report.markdown_path.read_text()


def test_a_plan_breaking_the_rules_is_reported_rule_by_rule(bad: tuple[Stack, PlanReport]) -> None:
    # GIVEN the bad copy's plan  WHEN its violations are read
    found = {(v.rule, v.reason) for v in bad[1].violations}
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
            "only the endpoint, its own logs and feedback objects are allowed",
        ),
        (
            "lambda-role-least-privilege",
            f"aws_iam_role_policy.lambda_feedback lets {role} put objects in *, "
            "not only under feedback/ of a bucket of this plan",
        ),
        ("nothing-public-but-the-edge", "aws_cloudfront_distribution.edge has no WAF web ACL"),
        (
            "nothing-public-but-the-edge",
            "aws_s3_bucket_website_configuration.site serves a bucket as a public S3 website",
        ),
        (
            "nothing-public-but-the-edge",
            "aws_s3_bucket_public_access_block.site sets block_public_policy = false",
        ),
        (
            "nothing-public-but-the-edge",
            "aws_s3_bucket_policy.site grants s3:GetObject to anyone (principal *)",
        ),
        (
            "nothing-public-but-the-edge",
            "aws_apigatewayv2_route.classify (POST /classify) is open to anyone and no CloudFront "
            "distribution of this plan fronts its API",
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
    assert f"**{len(found)} violation(s): do not apply.**" in bad[1].markdown_path.read_text()


def test_the_task_fails_with_one_line_per_violation_and_no_traceback(bad: tuple[Stack, PlanReport]) -> None:
    # GIVEN the reviewed plan with violations  WHEN the plan task checks the policy
    report = bad[1]
    with pytest.raises(Exit) as ended, cli_errors():
        require_policy(report)
    # THEN it exits 1 with a count, where the report is, and one line per violation
    lines = str(ended.value.message).splitlines()
    assert ended.value.code == 1
    count = len(report.violations)
    assert lines[0] == f"error: the plan has {count} policy violation(s) ({report.markdown_path} lists them):"
    assert lines[1:] == [f"  {v}" for v in report.violations]


def test_a_plan_file_breaking_the_rules_is_never_applied(bad: tuple[Stack, PlanReport]) -> None:
    # GIVEN the bad plan's saved file  WHEN `invoke infra --plan-file` is given it
    stack, report = bad
    # THEN the policy refuses it before Terraform applies anything
    with pytest.raises(PolicyError, match="policy violation"):
        apply_plan_file(stack, report.plan_path, echo=lambda _: None)
    assert stack.runner.state_list() == []
