"""The handler's one log line per request is CloudWatch Embedded Metric Format (lambda/metrics.py).

Real events through the real handler and a real local endpoint; each line is checked against the EMF
specification's rules (a root ``_aws`` with a millisecond timestamp, directives whose dimensions and metrics
name root members, numeric metric values) and for what it counts.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import WALTER_JOHNSON, load_event

import contract
import handler
import metrics


def emf_line(capsys: pytest.CaptureFixture[str], body: str | None) -> tuple[int, dict[str, Any]]:
    """The status of a POST /classify of ``body`` and the one EMF line the handler printed for it."""
    event = load_event("apiGatewayV2Event.json")
    event["headers"]["content-type"] = "application/json"
    if body is None:
        event.pop("body")
    else:
        event["body"] = body
    capsys.readouterr()
    status = handler.lambda_handler(event, None)["statusCode"]
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return status, json.loads(lines[0])


def check_emf(line: dict[str, Any]) -> dict[str, str]:
    """Assert the rules CloudWatch applies before it extracts metrics; return each metric's unit."""
    meta = line["_aws"]
    assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1_600_000_000_000
    units = {}
    for directive in meta["CloudWatchMetrics"]:
        assert directive["Namespace"] == metrics.NAMESPACE
        for dimension_set in directive["Dimensions"]:
            assert dimension_set and all(isinstance(line[name], str) for name in dimension_set)
        for metric in directive["Metrics"]:
            assert isinstance(line[metric["Name"]], int | float)
            units[metric["Name"]] = metric["Unit"]
    return units


def test_a_labelled_answer_counts_the_request_its_label_and_its_latency(
    lambda_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, line = emf_line(capsys, json.dumps({"text": WALTER_JOHNSON}))
    units = check_emf(line)
    assert status == 200 and line["status"] == 200 and line["requestId"]
    assert units == {
        "Requests": "Count",
        "Latency": "Milliseconds",
        "UnknownText": "Count",
        "LowConfidence": "Count",
        "Explained": "Count",
        "ExplainInstances": "Count",
        "Answers": "Count",
    }
    assert (line["Function"], line["Outcome"], line["Label"]) == ("local", "ok", "Athlete")
    counted = ("Requests", "Answers", "UnknownText", "LowConfidence", "Explained", "ExplainInstances")
    assert [line[name] for name in counted] == [1, 1, 0, 0, 0, 0]
    assert line["Latency"] > 0
    by_label = [d for d in line["_aws"]["CloudWatchMetrics"] if ["Function", "Label"] in d["Dimensions"]]
    assert [m["Name"] for d in by_label for m in d["Metrics"]] == ["Answers"]


def test_text_the_model_cannot_judge_counts_as_unknown_text_without_a_label(
    lambda_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, line = emf_line(capsys, json.dumps({"text": "asdfgh qwerty zxcvb"}))
    check_emf(line)
    counted = (line["Outcome"], line["UnknownText"], line["LowConfidence"])
    assert (status, *counted) == (200, "unknown_text", 1, 0)
    assert "Label" not in line and "Answers" not in line


def test_a_client_mistake_counts_a_request_by_its_error_and_no_answer(
    lambda_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, line = emf_line(capsys, None)
    assert check_emf(line) == {"Requests": "Count", "Latency": "Milliseconds"}
    assert (status, line["status"], line["Outcome"], line["Requests"]) == (400, 400, "bad_request", 1)


def test_the_function_s_name_is_the_dimension_on_aws(
    lambda_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "dbpedia-classifier")
    assert emf_line(capsys, json.dumps({"text": WALTER_JOHNSON}))[1]["Function"] == "dbpedia-classifier"


@pytest.mark.parametrize(("offset", "low"), [(-0.01, 1), (0.0, 0), (0.01, 0)])
def test_low_confidence_is_a_labelled_answer_in_the_middle_band(offset: float, low: int) -> None:
    """The metric counts what the API answers: one threshold, the wire contract's."""
    probability = contract.CONFIDENT + offset
    answer = {"label": "Film", "probability": probability, "confidence": contract.confidence(probability)}
    assert metrics.record("r", 200, "ok", 1.0, answer)["LowConfidence"] == low
    assert answer["confidence"] == ("low" if low else "high")


def test_an_explained_answer_counts_explain_use_and_the_instances_it_cost(
    lambda_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    event = load_event("apiGatewayV2Event.json")
    event["headers"]["content-type"] = "application/json"
    event["body"] = json.dumps({"text": WALTER_JOHNSON, "explain": True})
    body = json.loads(handler.lambda_handler(event, None)["body"])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    check_emf(line)
    assert (line["Explained"], line["ExplainInstances"]) == (1, body["instances"])
    assert body["instances"] == body["explainedWords"] + 1 > 2
