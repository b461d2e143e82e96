"""The reviewer's tfplan.md, from a real plan of terraform/ against moto_server, and applying a saved plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.infra.apply import apply_plan_file
from ops.infra.errors import InfraError
from ops.infra.local_workdir import local_override
from ops.infra.moto_server import MotoServer
from ops.infra.review import COMMENT_LIMIT, show_details
from ops.infra.stack import Stack
from ops.infra.terraform import TerraformRunner, write_cli_config
from ops.settings import load_settings
from ops.targets import select
from tests.helpers import table_rows

from .conftest import ENDPOINT, REGION, Reviewed

pytestmark = pytest.mark.slow


def test_the_review_opens_with_what_a_reviewer_decides_then_cost_changes_and_the_full_plan(
    reviewed: Reviewed,
) -> None:
    # GIVEN `invoke plan --target local` of today's stack  WHEN its tfplan.md is read
    markdown = reviewed.report.markdown_path.read_text()
    headings = [line for line in markdown.splitlines() if line.startswith("####")]
    # THEN the sections come in the reviewer's order, and terraform show closes it, collapsed
    assert headings == [
        "#### Policy",
        "#### Replaced or destroyed",
        "#### IAM statements",
        "#### Reachable from the internet",
        "#### Limits",
        "#### Cost estimate",
        "#### Changes by resource type",
    ]
    assert markdown.index("**Plan: ") < markdown.index("#### Policy")
    show = markdown[markdown.index("<details><summary>terraform show</summary>") :]
    assert "# aws_lambda_function.classifier will be created" in show and show.endswith("</details>\n")
    assert len(markdown) <= COMMENT_LIMIT


def test_every_iam_statement_is_a_row_with_effect_actions_resources_and_conditions(
    reviewed: Reviewed,
) -> None:
    # GIVEN the review's IAM table  WHEN its rows are read
    markdown = reviewed.report.markdown_path.read_text()
    iam = markdown[markdown.index("#### IAM statements") : markdown.index("#### Reachable")]
    rows = {(row[0], row[3]): row for row in table_rows(iam)[2:]}
    # THEN the role policy's two statements, the trust policy, the Lambda permission and the bucket policy
    # are there; values known only after apply name what they are computed from
    invoke = rows[("`aws_iam_role_policy.lambda` (identity)", "`sagemaker:InvokeEndpoint`")]
    assert invoke[1] == "Allow" and invoke[4] == f"`{ENDPOINT.endpoint_arn}`"
    logs = rows[("`aws_iam_role_policy.lambda` (identity)", "`logs:CreateLogStream`<br>`logs:PutLogEvents`")]
    assert logs[4] == "`<aws_cloudwatch_log_group.lambda.arn>`"
    trust = rows[("`aws_iam_role.lambda` (trust)", "`sts:AssumeRole`")]
    assert trust[2] == "`Service:lambda.amazonaws.com`"
    permission = rows[("`aws_lambda_permission.api` (resource)", "`lambda:InvokeFunction`")]
    assert permission[5] == "`AWS:SourceArn = <aws_apigatewayv2_api.classifier.execution_arn>`"
    feedback = rows[("`aws_iam_role_policy.lambda_feedback` (identity)", "`s3:PutObject`")]
    assert feedback[4] == "`<aws_s3_bucket.feedback.arn>`"  # + "/feedback/*", unknown before apply
    assert len(rows) == 7  # and the feedback route's Lambda permission


def test_what_is_public_and_the_limits_are_listed(reviewed: Reviewed) -> None:
    # GIVEN the review  WHEN its public and limits sections are read
    markdown = reviewed.report.markdown_path.read_text()
    public = markdown[markdown.index("#### Reachable") : markdown.index("#### Limits")]
    limits = markdown[markdown.index("#### Limits") : markdown.index("#### Cost estimate")]
    # THEN the distribution and its WAF, routes with their auth and the bucket policy's principals are named
    assert (
        "CloudFront distribution `aws_cloudfront_distribution.edge`" in public
        and "WAF web ACL: yes" in public
    )
    assert "- route `POST /classify` (`aws_apigatewayv2_route.classify`): authorization NONE" in public
    assert "- route `POST /feedback` (`aws_apigatewayv2_route.feedback`): authorization NONE" in public
    assert (
        "- `aws_s3_bucket_policy.site` lets `Service:cloudfront.amazonaws.com` s3:GetObject on "
        "<aws_s3_bucket.site.arn> (8 values) when StringEquals AWS:SourceArn = "  # + model-card.html
        "<aws_cloudfront_distribution.edge.arn>"
    ) in public
    assert "S3 website" not in public and "CORS" not in public
    # AND the stage's throttling, the Lambda's timeout and concurrency and the scaling bounds, as planned
    assert "- stage `aws_apigatewayv2_stage.default`: burst 20, rate 10 requests/s" in limits
    assert "- WAF `aws_wafv2_web_acl.edge` rule `rate-per-client-ip`: 300 requests per 300 s per IP" in limits
    assert "Lambda `aws_lambda_function.classifier`: timeout 25 s, 256 MB, concurrency unreserved" in limits
    assert "autoscaling `aws_appautoscaling_target.endpoint[0]`: 1 to 2" in limits


def test_terraform_show_is_cut_with_a_note_to_fit_a_comment() -> None:
    # GIVEN a plan text longer than the room left  WHEN it is put in the collapsed block
    long_show = "\n".join(f"  + line {i}" for i in range(20_000))
    block = show_details(long_show, 10_000)
    # THEN the block fits, says it was cut and where the whole plan is; a short one is kept whole
    assert len(block) <= 10_000 and "cut here to fit a GitHub comment" in block
    assert block.endswith("```\n\n</details>\n")
    assert "  + line 3\n" in show_details("  + line 3\n", 10_000)


def test_a_saved_plan_is_for_the_aws_target_only(tmp_path: Path) -> None:
    # GIVEN the local target, whose emulator lives for one command  WHEN a plan file is given to apply
    settings = load_settings(build_dir=tmp_path / "build", target="local")
    # THEN it is refused before anything starts
    with pytest.raises(InfraError, match="--plan-file is for --target aws"):
        select(settings).apply(settings, tmp_path / "tfplan")
    assert not settings.build_dir.exists()


def _small_stack(moto: MotoServer, tmp: Path) -> Stack:
    """One SNS topic named by a variable, in its own working directory on the session's moto_server."""
    workdir = tmp / "tf"
    workdir.mkdir()
    (workdir / "main.tf").write_text(
        'variable "name" {\n  type        = string\n  description = "topic name"\n}\n\n'
        'provider "aws" {\n  region = "us-east-1"\n}\n\n'
        'provider "aws" {\n  alias  = "us_east_1"\n  region = "us-east-1"\n}\n\n'
        'resource "aws_sns_topic" "t" {\n  name = var.name\n}\n'
    )
    (workdir / "local_override.tf").write_text(local_override(moto.url))
    runner = TerraformRunner(
        workdir,
        write_cli_config(tmp / "terraform.rc"),
        env=moto.aws_env(REGION),
        variables={"name": "review-a"},
    )
    runner.init()
    return Stack("local", runner, ENDPOINT)


def test_a_stale_saved_plan_is_refused_in_one_line_and_a_missing_one_named(
    terraform: str, moto: MotoServer, tmp_path: Path
) -> None:
    """A fresh saved plan applied exactly is apply.yml's step in the rehearsal (tests/rehearsal); the topic
    is left to the session's moto_server, which ends with the session (each Terraform command here loads
    the 700 MB provider: docs/ci.md)."""
    # GIVEN a saved plan, then a change to the state made after it (another apply)
    stack = _small_stack(moto, tmp_path)
    stale = tmp_path / "stale.tfplan"
    stack.runner.plan(out=stale)
    stack.runner.variables["name"] = "review-b"
    stack.runner.apply()
    # WHEN the first plan is applied  THEN Terraform refuses it and the task says so in one line
    with pytest.raises(InfraError, match=r"stale\.tfplan is stale: the state changed") as refused:
        apply_plan_file(stack, stale, echo=lambda _: None)
    assert "\n" not in str(refused.value)
    # AND a missing file is named
    with pytest.raises(InfraError, match="no plan file at"):
        apply_plan_file(stack, tmp_path / "missing.tfplan", echo=lambda _: None)
