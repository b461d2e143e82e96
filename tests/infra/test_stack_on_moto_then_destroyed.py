"""The real Terraform stack that test_stack_on_moto.py read back (the session fixture ``applied``): planned
again, drift shown, and finally destroyed, so keep these tests in this order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ml.aws.resources import find_endpoint_resources
from ops.infra.apply import check_no_drift
from ops.infra.destroy import destroy_stack
from ops.infra.errors import InfraError
from ops.infra.plan import plan_stack
from tests.helpers import table_rows

from .conftest import (
    Applied,
)

pytestmark = pytest.mark.slow


def test_a_second_plan_finds_no_drift(applied: Applied, tmp_path: Path) -> None:
    # GIVEN the applied stack  WHEN it is planned again with the same inputs (-detailed-exitcode)
    report = plan_stack(applied.stack, tmp_path, review=True)
    # THEN Terraform exits 0, "no changes": a second `invoke infra` would change nothing
    assert report.has_changes is False and report.summary.changes == ()
    markdown = report.markdown_path.read_text()
    assert "**No changes.**" in markdown
    # AND the policy, reading the applied values now (policy JSON, the API's host, the log group ARN), passes
    assert report.violations == ()
    assert ":log-group:/aws/lambda/dbpedia-classifier:*" in markdown


def test_an_edited_site_file_and_a_changed_variable_show_up_as_drift_in_the_summary(
    applied: Applied, tmp_path: Path
) -> None:
    # GIVEN an edit to app.js and a different LOG_LEVEL
    app_js = applied.site_dir / "app.js"
    original = app_js.read_text()
    applied.stack.runner.variables["log_level"] = "DEBUG"
    app_js.write_text(original + "\n// edited\n")
    try:
        # WHEN the no-drift check plans the stack
        with pytest.raises(InfraError, match="the stack drifts") as drift:
            check_no_drift(applied.stack, tmp_path)
    finally:
        app_js.write_text(original)
        del applied.stack.runner.variables["log_level"]
    # THEN the plan, its JSON and a markdown summary are written; they show exactly two in-place updates,
    # and the error carries the summary
    assert (tmp_path / "tfplan").stat().st_size > 0
    assert json.loads((tmp_path / "tfplan.json").read_text())["resource_changes"]
    markdown = (tmp_path / "tfplan.md").read_text()
    assert "**Plan: 0 to add, 2 to change, 0 to destroy.**" in markdown
    assert ["`aws_lambda_function`", "0", "1", "0"] in table_rows(markdown)
    assert ["`aws_s3_object`", "0", "1", "0"] in table_rows(markdown)
    assert '- `~` update `aws_s3_object.site_file["app.js"]`' in markdown
    assert markdown in str(drift.value)


def test_destroy_dry_run_lists_everything_and_removes_nothing(applied: Applied) -> None:
    # GIVEN the applied stack and a deployed SageMaker endpoint
    sagemaker = applied.client("sagemaker")
    _deploy_endpoint(sagemaker)
    lines: list[str] = []
    # WHEN destroy runs as a dry run
    report = destroy_stack(applied.stack, sagemaker=sagemaker, dry_run=True, echo=lines.append)
    # THEN it lists the Terraform resources and the endpoint's three resources, and removes none
    assert not report.removed
    assert "terraform aws_lambda_function.classifier" in report.listed
    assert report.listed[-3:] == (
        "SageMaker endpoint dbpedia-classifier",
        "SageMaker endpoint config dbpedia-classifier-config",
        "SageMaker model dbpedia-classifier-model",
    )
    assert any("aws_s3_bucket.site" in line for line in lines)
    # AND it says what of it bills: the endpoint with its instances and hourly cost first, then the rest
    assert report.billing[0] == (
        "SageMaker endpoint dbpedia-classifier (1 × ml.m5.large): every hour it is InService, "
        "about $0.115 an hour, $83.95 a month"
    )
    billed = {line.split(":")[0] for line in report.billing[1:]}
    assert {
        "aws_lambda_function.classifier",
        "aws_apigatewayv2_api.classifier",
        "aws_s3_bucket.site",
        "aws_cloudwatch_dashboard.classifier",
        "aws_cloudwatch_log_group.lambda",
        "aws_cloudwatch_log_group.api_access",
        "aws_sns_topic.alarms",
    } | {
        f"aws_cloudwatch_metric_alarm.{name}" for name in ("api_5xx_rate", "lambda_errors", "endpoint_5xx")
    } <= billed
    assert not any(line.startswith(("aws_iam_role", "aws_s3_object")) for line in report.billing)
    assert "aws_lambda_function.classifier" in applied.stack.runner.state_list()
    assert find_endpoint_resources(sagemaker, "dbpedia-classifier") is not None


def test_destroy_asks_and_a_no_removes_nothing(applied: Applied) -> None:
    # GIVEN the applied stack  WHEN destroy asks and the answer is no
    questions: list[str] = []

    def say_no(question: str) -> bool:
        questions.append(question)
        return False

    lines: list[str] = []
    with pytest.raises(InfraError, match="cancelled: nothing was removed"):
        destroy_stack(applied.stack, confirm=say_no, echo=lines.append)
    # THEN it asked once and the stack is intact
    assert len(questions) == 1 and "Remove these" in questions[0]
    # AND, not asked to remove the endpoint, it said that the endpoint keeps billing
    assert any("endpoint dbpedia-classifier, if deployed, keeps" in line for line in lines)
    assert "aws_lambda_function.classifier" in applied.stack.runner.state_list()


def test_destroy_with_yes_removes_the_stack_and_the_endpoint(applied: Applied) -> None:
    # GIVEN the applied stack and the endpoint (deployed by the dry-run test; again if run alone)
    sagemaker = applied.client("sagemaker")
    if find_endpoint_resources(sagemaker, "dbpedia-classifier") is None:
        _deploy_endpoint(sagemaker)
    # WHEN destroy runs with yes and the endpoint client
    report = destroy_stack(
        applied.stack, sagemaker=sagemaker, yes=True, confirm=_never_asked, echo=lambda _: None
    )
    # THEN the state is empty, nothing of the stack is left in moto, and nothing keeps billing
    assert report.removed
    assert applied.stack.runner.state_list() == []
    assert applied.client("lambda").list_functions()["Functions"] == []
    assert applied.client("apigatewayv2").get_apis()["Items"] == []
    cloudfront = applied.client("cloudfront")
    assert cloudfront.list_distributions()["DistributionList"].get("Items", []) == []
    assert cloudfront.list_origin_access_controls()["OriginAccessControlList"].get("Items", []) == []
    assert applied.client("wafv2").list_web_acls(Scope="CLOUDFRONT")["WebACLs"] == []
    assert not any(
        b["Name"].startswith("dbpedia-classifier-site-")
        for b in applied.client("s3").list_buckets()["Buckets"]
    )
    assert find_endpoint_resources(sagemaker, "dbpedia-classifier") is None
    configs = [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]]
    assert "dbpedia-classifier-config" not in configs
    assert "dbpedia-classifier-model" not in [m["ModelName"] for m in sagemaker.list_models()["Models"]]


def _never_asked(question: str) -> bool:
    raise AssertionError(f"asked despite yes=True: {question}")


def _deploy_endpoint(sagemaker) -> None:
    """What `invoke train --target aws` leaves behind: a model, an endpoint config and the endpoint."""
    sagemaker.create_model(
        ModelName="dbpedia-classifier-model",
        ExecutionRoleArn="arn:aws:iam::000000000000:role/sagemaker",
        PrimaryContainer={"Image": "811284229777.dkr.ecr.us-east-1.amazonaws.com/blazingtext:1"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="dbpedia-classifier-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "dbpedia-classifier-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(
        EndpointName="dbpedia-classifier", EndpointConfigName="dbpedia-classifier-config"
    )
