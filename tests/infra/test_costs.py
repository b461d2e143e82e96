"""ops/infra/costs.py: the cost of the planned stack, checked against figures worked out by hand below."""

from __future__ import annotations

import importlib
from dataclasses import replace
from typing import Any

import pytest

from ml.deploy import EndpointCapacity
from ops.infra.costs import (
    StackFacts,
    Usage,
    billing_note,
    endpoint_billing,
    estimate,
    load_prices,
    render_markdown,
)
from ops.infra.plan_json import Plan

PRICES = {
    "as_of": "2026-11-30",
    "sources": {"sagemaker": "https://aws.amazon.com/sagemaker/pricing/"},
    "hours_per_month": 730,
    "sagemaker": {
        "instance_per_hour": {"ml.t2.medium": 0.065},
        "serverless_per_gb_second": 0.00002,
        "data_processed_per_gb": 0.016,
    },
    "lambda": {"per_million_requests": 0.2, "per_gb_second": 0.0000166667},
    "api_gateway_http": {"per_million_requests": 1.0},
    "s3": {"storage_per_gb_month": 0.023, "get_per_thousand": 0.0004},
    "cloudwatch": {
        "alarm_metric_per_month": 0.1,
        "custom_metric_per_month": 0.3,
        "dashboard_per_month": 3.0,
        "logs_ingested_per_gb": 0.5,
        "logs_stored_per_gb_month": 0.03,
    },
}
INSTANCE = StackFacts(
    capacity=EndpointCapacity("instance", instance_type="ml.t2.medium", instance_count=1),
    max_instances=2,
    lambda_memory_mb=256,
    log_retention_days=14,
    alarm_metrics=6,
    dashboards=1,
    labels=14,
)
SERVERLESS = replace(INSTANCE, capacity=EndpointCapacity("serverless", memory_mb=2048, max_concurrency=5))
MILLION = Usage(requests_per_month=1_000_000)
GIB = 1024**3

# By hand, for 1,000,000 requests a month (the defaults of Usage):
ENDPOINT_INSTANCE = 1 * 0.065 * 730  # 47.45: one instance, every hour
ENDPOINT_SERVERLESS = 1e6 * 0.020 * 2 * 0.00002  # 0.80: 20 ms at 2 GB per request
DATA = 1e6 * 2048 / GIB * 0.016  # 0.0305
LAMBDA = 1e6 / 1e6 * 0.2 + 1e6 * 0.120 * 0.25 * 0.0000166667  # 0.20 + 0.50
API = 1.0
S3 = 100_000 / GIB * 0.023 + 1e6 * 1.0 / 1000 * 0.0004  # 0.40
ALARMS = 6 * 0.1
METRICS = (2 * (1 + 4) + (1 + 14) + 4) * 0.3  # 8.70: Requests + Latency by 4 outcomes, Answers by 14 labels
DASHBOARD = 3.0
LOGS = 1e6 * 1200 / GIB * (0.5 + 14 / 30 * 0.03)  # 0.574
REST = DATA + LAMBDA + API + S3 + ALARMS + METRICS + DASHBOARD + LOGS  # 15.00


def test_an_instance_backed_stack_costs_its_instances_every_hour_plus_per_request_items() -> None:
    # GIVEN one ml.t2.medium (autoscaling up to 2) and a million requests a month
    result = estimate(INSTANCE, MILLION, PRICES)
    # THEN each line and the total match the figures worked out by hand
    per_item = [line.per_month for line in result.lines]
    assert per_item == pytest.approx(
        [ENDPOINT_INSTANCE, DATA, LAMBDA, API, S3, ALARMS, METRICS, DASHBOARD, LOGS]
    )
    assert result.per_month == pytest.approx(62.455, abs=0.001)
    assert result.per_hour == pytest.approx(62.455 / 730, abs=1e-5)
    assert result.ceiling_per_month == pytest.approx(2 * 0.065 * 730)  # 94.90


def test_a_serverless_stack_costs_per_request_and_has_no_ceiling() -> None:
    # GIVEN the same traffic on a serverless endpoint of 2048 MB
    result = estimate(SERVERLESS, MILLION, PRICES)
    # THEN the endpoint costs its compute time only, and the total is mostly the fixed CloudWatch items
    assert result.lines[0].per_month == pytest.approx(ENDPOINT_SERVERLESS)
    assert result.per_month == pytest.approx(ENDPOINT_SERVERLESS + REST)
    assert result.per_month == pytest.approx(15.805, abs=0.001)
    assert result.ceiling_per_month is None


def test_no_traffic_leaves_the_instances_and_the_fixed_items() -> None:
    # GIVEN no requests at all  THEN the instance still bills every hour; per-request items cost nothing,
    # and the Lambda writes no metric
    idle = estimate(INSTANCE, Usage(requests_per_month=0), PRICES)
    assert idle.per_month == pytest.approx(ENDPOINT_INSTANCE + ALARMS + DASHBOARD + 100_000 / GIB * 0.023)


def test_an_instance_type_missing_from_the_table_is_named() -> None:
    # GIVEN an instance type the table has no price for  WHEN estimated  THEN the error says where to add it
    facts = replace(
        INSTANCE, capacity=EndpointCapacity("instance", instance_type="ml.g5.xlarge", instance_count=1)
    )
    with pytest.raises(KeyError, match=r"no hourly price for ml\.g5\.xlarge in prices\.json"):
        estimate(facts, MILLION, PRICES)


def test_the_markdown_states_the_traffic_the_prices_date_and_the_total() -> None:
    markdown = render_markdown(estimate(INSTANCE, MILLION, PRICES))
    assert "At 1,000,000 requests a month; per request 120 ms of Lambda" in markdown
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in markdown.splitlines() if "|" in line]
    assert ["**Total**", "", "**$62.45** ($0.0856 an hour)"] in rows
    assert "would cost $94.90 a month" in markdown
    assert "`ops/infra/prices.json` (2026-11-30" in markdown


def _planned(address: str, after: dict[str, Any] | None, actions: tuple[str, ...] = ("create",)) -> Any:
    """One managed resource change of `terraform show -json`: its values after the change."""
    change = {"actions": actions, "after": after}
    return {"address": address, "mode": "managed", "type": address.split(".")[0], "change": change}


def test_facts_are_read_from_the_plan() -> None:
    # GIVEN the parts of `terraform show -json` the estimate reads
    plan = {
        "variables": {
            "endpoint_capacity": {
                "value": {"mode": "instance", "instance_type": "ml.t2.medium", "instance_count": 1}
            },
            "autoscaling": {"value": {"max_instances": 2}},
            "lambda_memory_mb": {"value": 256},
            "log_retention_days": {"value": 14},
            "lambda_settings": {"value": {"n_labels": 14}},
        },
        "resource_changes": [
            _planned("aws_cloudwatch_metric_alarm.a", {"metric_query": []}),
            _planned(
                "aws_cloudwatch_metric_alarm.b",
                {"metric_query": [{"expression": "e"}, {"metric": [{}]}, {"metric": [{}]}]},
            ),
            _planned("aws_cloudwatch_dashboard.d", {}),
            _planned("aws_lambda_function.f", {}),
        ],
    }
    # THEN a plain alarm counts one metric, a metric-math alarm one per metric it reads; the labels are
    # the Lambda's class count
    assert StackFacts.from_plan(Plan.read(plan)) == replace(INSTANCE, alarm_metrics=3)


def test_the_custom_metrics_counted_are_those_the_lambda_writes() -> None:
    # GIVEN the Lambda's EMF lines for answers of each of 3 labels, an unknown text and 2 failures
    from ml import lambda_src  # noqa: F401  (puts lambda/ on the path)

    metrics = importlib.import_module("metrics")
    answers = [{"label": label, "probability": 0.9} for label in ("A", "B", "C")]
    lines = [metrics.record("r", 200, "ok", 1.0, answer) for answer in answers]
    lines += [metrics.record("r", 200, "unknown_text", 1.0, {"label": None, "probability": 0.2})]
    lines += [
        metrics.record("r", code, outcome, 1.0, None)
        for code, outcome in ((400, "bad_request"), (504, "endpoint_timeout"))
    ]
    # WHEN the distinct metrics (name and dimension values) CloudWatch would create are counted
    streams = {
        (metric["Name"], tuple(line[key] for key in dimensions))
        for line in lines
        for directive in line["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
        for dimensions in directive["Dimensions"]
    }
    # THEN the estimate counts as many for 3 labels and 4 outcomes
    assert len(streams) == replace(INSTANCE, labels=3).custom_metrics(outcomes=4)


def test_the_price_table_is_dated_and_sourced() -> None:
    prices = load_prices()
    assert prices["as_of"] == "2026-11-30" and prices["sources"]["sagemaker"].startswith(
        "https://aws.amazon.com/"
    )
    assert prices["sagemaker"]["instance_per_hour"]["ml.t2.medium"] == 0.065  # the issue's figure


def test_destroy_names_what_bills() -> None:
    # GIVEN resources of the stack  THEN the billed ones say how, the free ones say nothing
    assert billing_note("aws_lambda_function.classifier") == "Lambda: per request and GB-second of compute"
    assert billing_note("aws_cloudwatch_metric_alarm.endpoint_5xx") is not None
    assert billing_note('aws_s3_object.site_file["app.js"]') is None
    assert billing_note("aws_appautoscaling_target.endpoint[0]") is None
    line = endpoint_billing("e", INSTANCE.capacity, PRICES)
    assert line == (
        "SageMaker endpoint e (1 × ml.t2.medium): every hour it is InService, about $0.065 an hour, "
        "$47.45 a month"
    )


def test_cloudfront_and_waf_bill_per_request_and_waf_per_acl_and_rule() -> None:
    # GIVEN the stack with its distribution and a web ACL of two rules, and a million classifications
    prices = {
        **PRICES,
        "cloudfront": {"https_per_10k_requests": 0.01, "data_out_per_gb": 0.085},
        "waf": {"web_acl_per_month": 5.0, "rule_per_month": 1.0, "per_million_requests": 0.6},
    }
    facts = replace(INSTANCE, distributions=1, web_acls=1, waf_rules=2)
    result = estimate(facts, MILLION, prices)
    lines = {line.item: line.per_month for line in result.lines}
    # THEN every classification and site GET (2M viewer requests) is billed by both, by hand:
    cloudfront = 2e6 / 10_000 * 0.01 + 1e6 * 20_000 / GIB * 0.085  # 2.00 + 1.58
    waf = 5.0 + 2 * 1.0 + 2e6 / 1e6 * 0.6  # 8.20
    assert lines["CloudFront"] == pytest.approx(cloudfront)
    assert lines["WAF (1 web ACL, 2 rules)"] == pytest.approx(waf)
    assert result.per_month == pytest.approx(62.455 + cloudfront + waf, abs=0.001)
    # AND with no traffic WAF still bills its ACL and rules
    idle = {line.item: line.per_month for line in estimate(facts, Usage(0), prices).lines}
    assert (idle["CloudFront"], idle["WAF (1 web ACL, 2 rules)"]) == (0, 7.0)


def test_the_edge_is_read_from_the_plan_and_named_by_destroy() -> None:
    plan = {
        "variables": {
            "endpoint_capacity": {"value": {"mode": "serverless", "memory_mb": 2048, "max_concurrency": 5}},
            "autoscaling": {"value": {"max_instances": 2}},
            "lambda_memory_mb": {"value": 256},
            "log_retention_days": {"value": 14},
        },
        "resource_changes": [
            _planned("aws_cloudfront_distribution.edge", {}),
            _planned("aws_wafv2_web_acl.edge", {"rule": [{"name": "a"}, {"name": "b"}]}),
            _planned("aws_wafv2_web_acl.gone", None, actions=("delete",)),
        ],
    }
    facts = StackFacts.from_plan(Plan.read(plan))
    assert (facts.distributions, facts.web_acls, facts.waf_rules) == (1, 1, 2)
    assert billing_note("aws_cloudfront_distribution.edge") is not None
    assert billing_note("aws_wafv2_web_acl.edge") is not None
    assert billing_note("aws_cloudfront_origin_access_control.site") is None
