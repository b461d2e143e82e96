"""The real Terraform stack that test_stack_on_moto.py applied (the session fixture ``applied``), read back
with boto3: its alarms, dashboard and drift alarms, the model card it serves, and no secret in its state.
"""

from __future__ import annotations

import json
import re

import pytest

from .conftest import (
    ALARM_EMAIL,
    DRIFT_BAND,
    MODEL_CARD,
    Applied,
)
from .secret_scan import KNOWN_SHARED, secrets_in

pytestmark = pytest.mark.slow

ALARMS = {
    "dbpedia-classifier-api-5xx-rate",
    "dbpedia-classifier-lambda-errors",
    "dbpedia-classifier-lambda-throttles",
    "dbpedia-classifier-endpoint-model-latency-p99",
    "dbpedia-classifier-endpoint-5xx",
    "dbpedia-classifier-unknown-text-rate",  # drift.tf: its high side, and one a label of the band each side
    "dbpedia-classifier-label-share-athlete",
    "dbpedia-classifier-label-share-athlete-low",
    "dbpedia-classifier-label-share-film",
    "dbpedia-classifier-label-share-film-low",
}


def test_alarms_watch_the_api_lambda_and_endpoint_and_notify_the_topic(applied: Applied) -> None:
    # GIVEN the applied stack  WHEN its alarms, topic and subscriptions are read back
    alarms = {
        alarm["AlarmName"]: alarm
        for alarm in applied.client("cloudwatch").describe_alarms(AlarmNamePrefix="dbpedia-classifier-")[
            "MetricAlarms"
        ]
    }
    topic = applied.result.outputs["alarm_topic_arn"]
    sns = applied.client("sns")
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    # THEN the alarms exist, each enabled and notifying the topic, which mails the configured address
    assert set(alarms) == ALARMS
    assert topic in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    for alarm in alarms.values():
        assert alarm["ActionsEnabled"] and alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", ALARM_EMAIL)
    # AND the endpoint alarms watch its AllTraffic variant: ModelLatency at p99 (microseconds) and 5xx errors
    endpoint_dimensions = [
        {"Name": "EndpointName", "Value": "dbpedia-classifier"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    latency = alarms["dbpedia-classifier-endpoint-model-latency-p99"]
    assert (latency["Namespace"], latency["MetricName"], latency["ExtendedStatistic"]) == (
        "AWS/SageMaker",
        "ModelLatency",
        "p99",
    )
    assert latency["Threshold"] == 500_000 and _sorted(latency["Dimensions"]) == endpoint_dimensions
    errors = alarms["dbpedia-classifier-endpoint-5xx"]
    assert (errors["MetricName"], errors["Statistic"]) == ("Invocation5XXErrors", "Sum")
    assert _sorted(errors["Dimensions"]) == endpoint_dimensions
    # AND the Lambda alarms count Errors and Throttles of the function
    for name, metric in (("lambda-errors", "Errors"), ("lambda-throttles", "Throttles")):
        alarm = alarms[f"dbpedia-classifier-{name}"]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", metric, "Sum")
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "dbpedia-classifier"}]
    # AND the API alarm is a rate: 5xx over requests of this API, in percent, above 5
    rate = alarms["dbpedia-classifier-api-5xx-rate"]
    queries = {query["Id"]: query for query in rate["Metrics"]}
    assert queries["rate"]["Expression"] == "IF(requests > 0, 100 * errors / requests, 0)"
    assert queries["rate"]["ReturnData"] and rate["Threshold"] == 5
    api_id = applied.api()["ApiId"]
    for query_id, metric in (("errors", "5xx"), ("requests", "Count")):
        stat = queries[query_id]["MetricStat"]
        assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"]) == (
            "AWS/ApiGateway",
            metric,
            "Sum",
        )
        assert stat["Metric"]["Dimensions"] == [{"Name": "ApiId", "Value": api_id}]


def test_the_dashboard_graphs_the_alarmed_metrics(applied: Applied) -> None:
    # GIVEN the applied stack  WHEN its dashboard is read back
    body = json.loads(
        applied.client("cloudwatch").get_dashboard(DashboardName="dbpedia-classifier")["DashboardBody"]
    )
    widgets = body["widgets"]
    graphed = {
        line[1]
        for widget in widgets
        if widget["type"] == "metric"
        for line in widget["properties"]["metrics"]
        if isinstance(line[0], str)
    }
    # THEN it shows every alarm, and graphs each metric an alarm watches (and the autoscaling metric)
    [alarm_widget] = [w for w in widgets if w["type"] == "alarm"]
    assert len(alarm_widget["properties"]["alarms"]) == len(ALARMS)
    assert {"Count", "5xx", "Errors", "Throttles", "ModelLatency", "Invocation5XXErrors"} <= graphed
    assert "InvocationsPerInstance" in graphed
    # AND the live metrics of the Lambda's EMF lines (lambda/metrics.py): shares and latency by name, the
    # requests by outcome and the answers by label as searches of this function's dimensions
    assert {"UnknownText", "LowConfidence", "Explained", "Latency"} <= graphed
    searches = [
        line[0]["expression"]
        for widget in widgets
        if widget["type"] == "metric"
        for line in widget["properties"]["metrics"]
        if isinstance(line[0], dict) and line[0]["expression"].startswith("SEARCH(")
    ]
    assert any("Function,Outcome}" in s and 'MetricName="Requests"' in s for s in searches)
    assert any("Function,Label}" in s and 'MetricName="Answers"' in s for s in searches)
    assert applied.result.outputs["dashboard_url"].endswith("#dashboards/dashboard/dbpedia-classifier")


def test_drift_alarms_judge_the_high_side_on_a_day_and_the_low_side_on_a_week_of_enough_answers(
    applied: Applied,
) -> None:
    # GIVEN the stack applied with a version's band  WHEN its drift alarms are read back
    cloudwatch = applied.client("cloudwatch")
    alarms = {
        a["AlarmName"]: a
        for a in cloudwatch.describe_alarms(AlarmNamePrefix="dbpedia-classifier-")["MetricAlarms"]
    }
    unknown = alarms["dbpedia-classifier-unknown-text-rate"]
    queries = {q["Id"]: q for q in unknown["Metrics"]}
    # THEN the unknown-text alarm compares the day's share of answers without a label (the Sum of
    # UnknownText over its SampleCount: it is 0 or 1 on every answer) with the band's high edge, from 100
    # answers; the band has no low_answers, so it has no low side
    part, answers = queries["part"]["MetricStat"], queries["answers"]["MetricStat"]
    assert (part["Metric"]["Namespace"], part["Metric"]["MetricName"], part["Stat"]) == (
        "DbpediaClassifier",
        "UnknownText",
        "Sum",
    )
    assert (answers["Metric"]["MetricName"], answers["Stat"]) == ("UnknownText", "SampleCount")
    assert part["Period"] == answers["Period"] == 86400
    assert part["Metric"]["Dimensions"] == [{"Name": "Function", "Value": "dbpedia-classifier"}]
    band = DRIFT_BAND["unknown_text"]
    assert queries["outside"]["Expression"] == (
        f"IF(answers >= 100 AND FILL(part, 0) / answers > {band['high']:g}, 1, 0)"
    )
    assert (unknown["Threshold"], unknown["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert "dbpedia-classifier-unknown-text-rate-low" not in alarms
    # AND each label of the band has its high alarm on its share of the day's labelled answers
    film = {q["Id"]: q for q in alarms["dbpedia-classifier-label-share-film"]["Metrics"]}
    dimensions = film["part"]["MetricStat"]["Metric"]["Dimensions"]
    assert {d["Name"]: d["Value"] for d in dimensions} == {"Function": "dbpedia-classifier", "Label": "Film"}
    assert (film["answers"]["MetricStat"]["Metric"]["MetricName"], film["answers"]["MetricStat"]["Stat"]) == (
        "Answers",
        "Sum",
    )
    assert film["outside"]["Expression"] == "IF(answers >= 100 AND FILL(part, 0) / answers > 0.14, 1, 0)"
    # AND its low alarm judges a week (CloudWatch's longest evaluation) once it holds the band's low_answers
    # answers; a label never answered in it counts 0 (FILL), below the edge
    low = alarms["dbpedia-classifier-label-share-film-low"]
    low_queries = {q["Id"]: q for q in low["Metrics"]}
    assert (
        low_queries["outside"]["Expression"] == "IF(answers >= 300 AND FILL(part, 0) / answers < 0.03, 1, 0)"
    )
    assert (
        low_queries["part"]["MetricStat"]["Period"]
        == low_queries["answers"]["MetricStat"]["Period"]
        == 604800
    )
    low_dimensions = low_queries["part"]["MetricStat"]["Metric"]["Dimensions"]
    assert {d["Name"]: d["Value"] for d in low_dimensions} == {
        "Function": "dbpedia-classifier",
        "Label": "Film",
    }
    assert (low["Threshold"], low["EvaluationPeriods"], low["TreatMissingData"]) == (1, 1, "notBreaching")
    assert "a week of at least 300 answers" in low["AlarmDescription"]


def test_the_site_serves_the_deployed_version_s_model_card(applied: Applied) -> None:
    # GIVEN the stack applied with a version's card  WHEN the site bucket's card is read
    s3 = applied.client("s3")
    bucket = applied.result.outputs["site_bucket_name"]
    card = s3.get_object(Bucket=bucket, Key="model-card.html")
    # THEN it is the card page, as HTML, never cached (the distribution may read it: CONTENT_TYPES)
    assert card["Body"].read().decode() == MODEL_CARD
    assert (card["ContentType"], card["CacheControl"]) == ("text/html; charset=utf-8", "no-cache")


def test_state_outputs_and_the_lambda_environment_hold_no_secret(applied: Applied) -> None:
    # GIVEN the stack applied to moto  WHEN its outputs, state outputs and Lambda environment are scanned
    state = json.loads((applied.stack.runner.working_dir / "terraform.tfstate").read_text(encoding="utf-8"))
    function = applied.client("lambda").get_function_configuration(
        FunctionName=applied.result.outputs["lambda_function_name"]
    )
    variables = function["Environment"]["Variables"]
    shared = variables["ORIGIN_VERIFY_SECRET"]
    # THEN none holds a secret: credentials come from the Lambda's role, never from configuration
    assert secrets_in(applied.result.outputs) == []
    assert secrets_in(state["outputs"]) == []
    assert secrets_in({k: v for k, v in variables.items() if k not in KNOWN_SHARED}) == []
    # AND the known shared value (KNOWN_SHARED) is a fresh random one that no output shows
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", shared)
    assert shared not in json.dumps(applied.result.outputs) and shared not in json.dumps(state["outputs"])


def _sorted(dimensions: list[dict]) -> list[dict]:
    return sorted(dimensions, key=lambda dimension: dimension["Name"])
