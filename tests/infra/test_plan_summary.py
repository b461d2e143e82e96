"""ops/infra/plan_summary.py: a plan's changes counted like Terraform's "Plan:" line, rendered for a PR."""

from __future__ import annotations

from typing import Any

from ops.infra.plan_json import Plan
from ops.infra.plan_summary import render_plan_markdown, summarize_plan
from tests.helpers import table_rows


def _change(address: str, actions: list[str], mode: str = "managed") -> dict[str, Any]:
    kind = address.removeprefix("data.").split(".")[0]
    return {"address": address, "mode": mode, "type": kind, "change": {"actions": actions}}


PLAN_JSON = {
    "resource_changes": [
        _change('aws_s3_object.site_file["app.js"]', ["create"]),
        _change("aws_s3_object.config_js", ["update"]),
        _change("aws_lambda_function.classifier", ["delete", "create"]),
        _change("aws_iam_role.lambda", ["create"]),
        _change('aws_s3_object.site_file["old.js"]', ["delete"]),
        _change("aws_s3_bucket.site", ["no-op"]),
        _change("aws_cloudwatch_log_group.old", ["forget"]),
        _change("data.aws_iam_policy_document.lambda", ["read"], mode="data"),
    ]
}


def test_plan_summary_counts_like_terraform_and_groups_by_type() -> None:
    # GIVEN a plan with creates, an update, a replacement, a delete, a forget, a no-op and a data read
    # WHEN it is summarised
    summary = summarize_plan(Plan.read(PLAN_JSON))
    # THEN a replacement counts as one add and one destroy; no-ops and reads are left out
    assert summary.totals == {"add": 3, "change": 1, "destroy": 2, "forget": 1}
    assert summary.by_type() == {
        "aws_cloudwatch_log_group": {"add": 0, "change": 0, "destroy": 0, "forget": 1},
        "aws_iam_role": {"add": 1, "change": 0, "destroy": 0, "forget": 0},
        "aws_lambda_function": {"add": 1, "change": 0, "destroy": 1, "forget": 0},
        "aws_s3_object": {"add": 1, "change": 1, "destroy": 1, "forget": 0},
    }


def test_plan_markdown_is_ready_to_paste_in_a_pull_request() -> None:
    # GIVEN the summary of a plan  WHEN it is rendered
    markdown = render_plan_markdown(summarize_plan(Plan.read(PLAN_JSON)), "Terraform plan")
    # THEN it has Terraform's totals line, one table row per type, and every address with its action
    assert "**Plan: 3 to add, 1 to change, 2 to destroy, 1 to forget.**" in markdown
    assert ["`aws_lambda_function`", "1", "0", "1"] in table_rows(markdown)
    assert ["`aws_s3_object`", "1", "1", "1"] in table_rows(markdown)
    assert "- `-/+` replace `aws_lambda_function.classifier`" in markdown
    assert "aws_s3_bucket.site" not in markdown and "data.aws_iam_policy_document" not in markdown
    assert "<details><summary>6 resources</summary>" in markdown


def test_plan_markdown_of_an_empty_plan_says_no_changes() -> None:
    # GIVEN a plan with only no-ops  WHEN it is rendered  THEN it says so, with no table
    markdown = render_plan_markdown(
        summarize_plan(Plan.read({"resource_changes": [PLAN_JSON["resource_changes"][5]]})), "T"
    )
    assert "**No changes.**" in markdown and "|" not in markdown
