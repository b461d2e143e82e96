"""What the planned stack costs per hour and per month at a stated traffic, from the price table.

The prices are ``ops/infra/prices.json`` (dated, with their sources; not re-checked on this offline
machine). The stack's facts come from the Terraform plan (endpoint capacity, autoscaling ceiling, Lambda
memory, log retention, alarms, dashboards); the traffic from the settings (``requests_per_month``) and the
per-request assumptions of :class:`Usage`, printed with every estimate. See docs/cost.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.deploy import EndpointCapacity
from ml.tables import markdown_table
from ops.infra.plan_json import Plan

PRICES = Path(__file__).with_name("prices.json")
GIB = 1024**3


def _usd(amount: float) -> str:
    """A price as written on the pricing pages: ``$0.0000166667``, ``$0.2``."""
    return "$" + f"{amount:.10f}".rstrip("0").rstrip(".")


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    """The price table."""
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Usage:
    """The traffic an estimate assumes: requests a month, and what one request uses."""

    requests_per_month: int
    lambda_ms_per_request: float = 120.0  # billed duration: tokenize, call the endpoint, answer
    endpoint_ms_per_request: float = 20.0  # serverless billed compute per request
    payload_bytes_per_request: int = 2048  # to and from the endpoint (SageMaker data processed)
    log_bytes_per_request: int = 1200  # Lambda's JSON line + START/END/REPORT + the API's access log line
    site_gets_per_request: float = 1.0  # a page view (5 files) per five classifications
    site_bytes: int = 100_000  # the site's files in S3
    edge_bytes_per_request: int = 20_000  # CloudFront to the viewer: the answer + a fifth of a page view
    outcomes_per_month: int = 4  # Outcome values seen in a month: ok, unknown_text, bad_request, one failure

    def describe(self) -> str:
        """The assumptions in one sentence."""
        return (
            f"{self.requests_per_month:,} requests a month; per request {self.lambda_ms_per_request:g} ms of "
            f"Lambda, {self.endpoint_ms_per_request:g} ms of serverless endpoint compute, "
            f"{self.payload_bytes_per_request:,} bytes to and from the endpoint, "
            f"{self.log_bytes_per_request:,} bytes of logs, {self.site_gets_per_request:g} site GETs, "
            f"{self.edge_bytes_per_request:,} bytes out of CloudFront; "
            f"{self.outcomes_per_month} request outcomes a month"
        )


@dataclass(frozen=True)
class StackFacts:
    """What the plan says about the stack, as far as cost goes."""

    capacity: EndpointCapacity
    max_instances: int
    lambda_memory_mb: int
    log_retention_days: int
    alarm_metrics: int  # CloudWatch bills each metric an alarm evaluates
    dashboards: int
    distributions: int = 0  # CloudFront: per request and GB out
    web_acls: int = 0  # WAF: per web ACL a month, per rule a month, per request
    waf_rules: int = 0
    labels: int = 0  # the model's classes: the Lambda counts answers by label

    def custom_metrics(self, outcomes: int) -> int:
        """The metrics the Lambda's EMF lines create (lambda/metrics.py), each billed a month once it is
        written: ``Requests`` and ``Latency`` by function and by each outcome seen, ``Answers`` by function
        and by each label, ``UnknownText``, ``LowConfidence``, ``Explained`` and ``ExplainInstances``."""
        return 2 * (1 + outcomes) + (1 + self.labels) + 4

    @classmethod
    def from_plan(cls, plan: Plan) -> StackFacts:
        """Read the facts from a plan: its variables and the resources that exist after apply."""
        variables = plan.variables
        alarms = [r.after for r in plan.of_type("aws_cloudwatch_metric_alarm")]
        acls = [r.after for r in plan.of_type("aws_wafv2_web_acl")]
        return cls(
            capacity=EndpointCapacity.from_tfvars(variables["endpoint_capacity"]),
            max_instances=int(variables["autoscaling"]["max_instances"]),
            lambda_memory_mb=int(variables["lambda_memory_mb"]),
            log_retention_days=int(variables["log_retention_days"]),
            alarm_metrics=sum(
                max(1, sum(1 for query in alarm.get("metric_query") or [] if query.get("metric")))
                for alarm in alarms
            ),
            dashboards=len(plan.of_type("aws_cloudwatch_dashboard")),
            distributions=len(plan.of_type("aws_cloudfront_distribution")),
            web_acls=len(acls),
            waf_rules=sum(len(acl.get("rule") or []) for acl in acls),
            labels=int((variables.get("lambda_settings") or {}).get("n_labels", 0)),
        )


@dataclass(frozen=True)
class CostLine:
    """One billed item: what it is, how it is billed, and its cost a month."""

    item: str
    basis: str
    per_month: float


@dataclass(frozen=True)
class Estimate:
    """Cost lines of the stack at a usage, and the ceiling of an autoscaled endpoint."""

    lines: tuple[CostLine, ...]
    usage: Usage
    hours_per_month: float
    as_of: str
    source: str
    ceiling_per_month: float | None = None  # every instance up to max_instances running

    @property
    def per_month(self) -> float:
        """The total a month."""
        return sum(line.per_month for line in self.lines)

    @property
    def per_hour(self) -> float:
        """The total per hour (a month is ``hours_per_month`` hours)."""
        return self.per_month / self.hours_per_month


def instance_hourly(prices: dict[str, Any], instance_type: str) -> float:
    """The hourly rate of a SageMaker hosting instance; KeyError naming the price table when unknown."""
    table = prices["sagemaker"]["instance_per_hour"]
    if instance_type not in table:
        raise KeyError(f"no hourly price for {instance_type} in {PRICES.name}: add it (see its sources)")
    return float(table[instance_type])


def endpoint_line(facts: StackFacts, usage: Usage, prices: dict[str, Any]) -> CostLine:
    """The endpoint: instances bill every hour; serverless bills compute per request."""
    capacity, hours = facts.capacity, prices["hours_per_month"]
    if capacity.mode == "serverless":
        rate = prices["sagemaker"]["serverless_per_gb_second"]
        gb_seconds = (
            usage.requests_per_month * usage.endpoint_ms_per_request / 1000 * capacity.memory_mb / 1024
        )
        return CostLine(
            f"SageMaker endpoint, {capacity.describe()}",
            f"{_usd(rate)} per GB-second of compute, nothing while idle",
            gb_seconds * rate,
        )
    rate = instance_hourly(prices, capacity.instance_type)
    return CostLine(
        f"SageMaker endpoint, {capacity.describe()} (the autoscaling floor)",
        f"{_usd(rate)} per instance-hour, every hour it is InService, traffic or not",
        capacity.instance_count * rate * hours,
    )


def estimate(facts: StackFacts, usage: Usage, prices: dict[str, Any]) -> Estimate:
    """The stack's cost a month and an hour at ``usage``."""
    requests = usage.requests_per_month
    sm, lam, cw, s3 = prices["sagemaker"], prices["lambda"], prices["cloudwatch"], prices["s3"]
    lambda_gb_seconds = requests * usage.lambda_ms_per_request / 1000 * facts.lambda_memory_mb / 1024
    logs_gb = requests * usage.log_bytes_per_request / GIB
    metrics = facts.custom_metrics(usage.outcomes_per_month) if requests else 0
    lines = [
        endpoint_line(facts, usage, prices),
        CostLine(
            "SageMaker data processed",
            f"{_usd(sm['data_processed_per_gb'])} per GB in and out",
            requests * usage.payload_bytes_per_request / GIB * sm["data_processed_per_gb"],
        ),
        CostLine(
            f"Lambda, {facts.lambda_memory_mb} MB",
            f"{_usd(lam['per_million_requests'])} per million requests"
            f" + {_usd(lam['per_gb_second'])} per GB-second",
            requests / 1e6 * lam["per_million_requests"] + lambda_gb_seconds * lam["per_gb_second"],
        ),
        CostLine(
            "API Gateway HTTP API",
            f"{_usd(prices['api_gateway_http']['per_million_requests'])} per million requests",
            requests / 1e6 * prices["api_gateway_http"]["per_million_requests"],
        ),
        CostLine(
            "S3 site bucket",
            f"{_usd(s3['storage_per_gb_month'])} per GB-month"
            f" + {_usd(s3['get_per_thousand'])} per 1,000 GETs",
            usage.site_bytes / GIB * s3["storage_per_gb_month"]
            + requests * usage.site_gets_per_request / 1000 * s3["get_per_thousand"],
        ),
        CostLine(
            f"CloudWatch alarms ({facts.alarm_metrics} alarm metrics)",
            f"{_usd(cw['alarm_metric_per_month'])} per alarm metric a month",
            facts.alarm_metrics * cw["alarm_metric_per_month"],
        ),
        CostLine(
            f"CloudWatch custom metrics ({metrics}: the Lambda's, by outcome and label)",
            f"{_usd(cw['custom_metric_per_month'])} per metric a month",
            metrics * cw["custom_metric_per_month"],
        ),
        CostLine(
            f"CloudWatch dashboard ({facts.dashboards})",
            f"{_usd(cw['dashboard_per_month'])} a month each (an account's first 3 are free)",
            facts.dashboards * cw["dashboard_per_month"],
        ),
        CostLine(
            f"CloudWatch Logs ({facts.log_retention_days}-day retention)",
            f"{_usd(cw['logs_ingested_per_gb'])} per GB ingested"
            f" + {_usd(cw['logs_stored_per_gb_month'])} per GB-month",
            logs_gb * cw["logs_ingested_per_gb"]
            + logs_gb * min(1.0, facts.log_retention_days / 30) * cw["logs_stored_per_gb_month"],
        ),
    ]
    lines += edge_lines(facts, usage, prices)
    ceiling = None
    if facts.capacity.mode == "instance":
        ceiling = (
            facts.max_instances
            * instance_hourly(prices, facts.capacity.instance_type)
            * prices["hours_per_month"]
        )
    return Estimate(
        tuple(lines),
        usage,
        prices["hours_per_month"],
        prices["as_of"],
        prices["sources"]["sagemaker"],
        ceiling,
    )


def edge_lines(facts: StackFacts, usage: Usage, prices: dict[str, Any]) -> list[CostLine]:
    """CloudFront (every classification and site GET passes it) and WAF (every request it inspects)."""
    lines = []
    viewer_requests = usage.requests_per_month * (1 + usage.site_gets_per_request)
    if facts.distributions:
        cf = prices["cloudfront"]
        lines.append(
            CostLine(
                "CloudFront",
                f"{_usd(cf['https_per_10k_requests'])} per 10,000 HTTPS requests"
                f" + {_usd(cf['data_out_per_gb'])} per GB out",
                viewer_requests / 10_000 * cf["https_per_10k_requests"]
                + usage.requests_per_month * usage.edge_bytes_per_request / GIB * cf["data_out_per_gb"],
            )
        )
    if facts.web_acls:
        waf = prices["waf"]
        lines.append(
            CostLine(
                f"WAF ({facts.web_acls} web ACL, {facts.waf_rules} rule{'s' * (facts.waf_rules != 1)})",
                f"{_usd(waf['web_acl_per_month'])} per web ACL"
                f" + {_usd(waf['rule_per_month'])} per rule a month"
                f" + {_usd(waf['per_million_requests'])} per million requests",
                facts.web_acls * waf["web_acl_per_month"]
                + facts.waf_rules * waf["rule_per_month"]
                + viewer_requests / 1e6 * waf["per_million_requests"],
            )
        )
    return lines


def render_markdown(result: Estimate) -> str:
    """The estimate as a Markdown section for the plan summary."""
    lines = [
        "#### Cost estimate",
        "",
        f"At {result.usage.describe()}.",
        "",
        markdown_table(
            ("Item", "Billed", "Per month"),
            [
                *((line.item, line.basis, f"${line.per_month:,.2f}") for line in result.lines),
                ("**Total**", "", f"**${result.per_month:,.2f}** (${result.per_hour:,.4f} an hour)"),
            ],
            align=("left", "left", "right"),
        ),
        "",
    ]
    if result.ceiling_per_month is not None:
        lines += [
            "With autoscaling at its ceiling the endpoint alone would cost "
            f"${result.ceiling_per_month:,.2f} a month.",
            "",
        ]
    lines += [
        f"Prices: `ops/infra/prices.json` ({result.as_of}, us-east-1 on-demand, not re-checked here; "
        f"sources such as {result.source}). No free tier applied.",
        "",
    ]
    return "\n".join(lines)


# --- what bills, for `invoke destroy` ------------------------------------------------------------

_BILLING = {
    "aws_lambda_function": "Lambda: per request and GB-second of compute",
    "aws_apigatewayv2_api": "API Gateway: per request",
    "aws_s3_bucket": "S3: per GB stored and per request",
    "aws_cloudwatch_metric_alarm": "CloudWatch: per alarm metric a month",
    "aws_cloudwatch_dashboard": "CloudWatch: per dashboard a month",
    "aws_cloudwatch_log_group": "CloudWatch Logs: per GB ingested and stored",
    "aws_sns_topic": "SNS: per notification beyond the free tier",
    "aws_cloudfront_distribution": "CloudFront: per HTTPS request and GB out",
    "aws_wafv2_web_acl": "WAF: per web ACL and rule a month, per request",
}


def billing_note(address: str) -> str | None:
    """How the Terraform resource at ``address`` bills, or None when it costs nothing by itself."""
    return _BILLING.get(address.split(".")[0])


def endpoint_billing(name: str, capacity: EndpointCapacity, prices: dict[str, Any]) -> str:
    """How the SageMaker endpoint bills, with its hourly cost when it runs on instances."""
    if capacity.mode == "serverless":
        return (
            f"SageMaker endpoint {name} ({capacity.describe()}): per GB-second of compute, nothing while idle"
        )
    try:
        hourly = capacity.instance_count * instance_hourly(prices, capacity.instance_type)
    except KeyError as exc:
        return (
            f"SageMaker endpoint {name} ({capacity.describe()}): every hour it is InService ({exc.args[0]})"
        )
    return (
        f"SageMaker endpoint {name} ({capacity.describe()}): every hour it is InService, "
        f"about ${hourly:.3f} an hour, ${hourly * prices['hours_per_month']:,.2f} a month"
    )
