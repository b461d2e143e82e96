"""The Lambda handler: real events in, real endpoint (local, through boto3) behind, JSON out."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from typing import Any

import pytest

from ml import lambda_src
from ml.config import ROOT
from ml.pipeline import TrainOutcome
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON, lambda_environment_of, lambda_settings_env, load_event
from tests.lambda_handler.conftest import NAME, SITE, call, v2


@pytest.mark.parametrize(
    "name",
    [
        "TOP_K",
        "MAX_TEXT_CHARS",
        "ENDPOINT_TIMEOUT_SECONDS",
        "ENDPOINT_MAX_ATTEMPTS",
        "MIN_KNOWN_PERCENT",
        "N_LABELS",
    ],
)
@pytest.mark.parametrize("value", [None, "", "below", "three"])
def test_a_missing_or_bad_setting_is_a_500_naming_it_in_the_log(
    lambda_env: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    name: str,
    value: str | None,
) -> None:
    """The settings have no default in the handler: ops/settings.py is their one home. Each has a least
    value: 0 for MIN_KNOWN_PERCENT (no share asked), 1 for the others; "below" is one less."""
    if value == "below":
        value = "-1" if name == "MIN_KNOWN_PERCENT" else "0"
    if value is None:
        monkeypatch.delenv(name)
    else:
        monkeypatch.setenv(name, value)
    with caplog.at_level(logging.INFO):
        status, _, body = call(v2(json.dumps({"text": WALTER_JOHNSON})))
    assert (status, body["error"], body["message"]) == (500, "not_configured", "the classifier is not set up")
    assert name in caplog.text


# --- happy paths ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("event_file", "label"),
    [
        ("apiGatewayV2Event.json", "Athlete"),
        ("apiGatewayProxyEvent.json", "NaturalPlace"),
    ],
)
def test_each_event_shape_is_classified(lambda_env: str, event_file: str, label: str) -> None:
    status, headers, body = call(load_event(event_file))
    assert status == 200, body
    assert body["label"] == label
    assert body["top"][0] == {"label": body["label"], "probability": body["probability"]}
    assert len(body["top"]) == 3 and headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize("secret", ["", "s3cret-value"])
def test_the_seed_s_lambda_console_test_event_is_answered_as_post_classify(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    # GIVEN the test event the seed's tutorial has its readers type in the Lambda console: a body, no route,
    # no method (whether or not the function checks the edge's origin header: the console is not the API)
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET", secret)
    event = load_event("plainTestEvent.json")
    assert set(event) == {"body"}
    # WHEN it is invoked with it, and with the same text as JSON
    for sent in (event, {"body": json.dumps({"text": event["body"], "k": 2})}):
        status, headers, body = call(sent)
        # THEN it answers 200 with the prediction, as POST /classify would
        assert (status, body["label"]) == (200, "Athlete"), body
        assert headers["Content-Type"].startswith("application/json")
    assert len(body["top"]) == 2


def test_k_selects_how_many_runner_ups_are_returned(lambda_env: str) -> None:
    status, _, body = call(v2(json.dumps({"text": WALTER_JOHNSON, "k": 5})))
    assert status == 200 and len(body["top"]) == 5
    probabilities = [t["probability"] for t in body["top"]]
    assert probabilities == sorted(probabilities, reverse=True)


def test_k_is_bounded_by_the_deployed_models_class_count_from_its_environment(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """N_LABELS comes from the deployed version (the local stack, Terraform), never a constant."""
    assert os.environ["N_LABELS"] == "14"  # the DBPedia model's manifest
    assert call(v2(json.dumps({"text": WALTER_JOHNSON, "k": 14})))[0] == 200
    monkeypatch.setenv("N_LABELS", "4")
    status, _, body = call(v2(json.dumps({"text": WALTER_JOHNSON, "k": 5})))
    assert (status, body["message"]) == (400, '"k" must be an integer from 1 to 4')
    assert len(call(v2(json.dumps({"text": WALTER_JOHNSON, "k": 4})))[2]["top"]) == 4
    monkeypatch.setenv("N_LABELS", "2")  # a two-label model: TOP_K (3) is cut to its labels
    assert len(call(v2(json.dumps({"text": WALTER_JOHNSON})))[2]["top"]) == 2


def test_base64_body_and_text_plain_are_accepted(lambda_env: str) -> None:
    encoded = base64.b64encode(json.dumps({"text": WALTER_JOHNSON}).encode()).decode()
    assert call(v2(encoded, isBase64Encoded=True))[2]["label"] == "Athlete"
    assert call(v2(WALTER_JOHNSON, content_type="text/plain; charset=utf-8"))[2]["label"] == "Athlete"


# --- CORS ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("origin", "allowed"),
    [(SITE, True), ("http://127.0.0.1:8000", True), ("https://evil.example", False), (None, False)],
)
def test_cors_header_only_for_allowed_origins(lambda_env: str, origin: str | None, allowed: bool) -> None:
    event = v2(json.dumps({"text": "a river"}))
    event["headers"].pop("origin")
    if origin:
        event["headers"]["origin"] = origin
    _, headers, _ = call(event)
    assert headers.get("Access-Control-Allow-Origin") == (origin if allowed else None)


# --- client mistakes: 4xx with a readable message --------------------------------------------------
@pytest.mark.parametrize(
    ("event", "status", "fragment"),
    [
        (v2(json.dumps({"text": ""})), 400, "empty"),
        (v2(json.dumps({"text": "   \n\t "})), 400, "empty"),
        (v2(json.dumps({"text": "?!... --"})), 400, "no words"),
        (v2("{not json"), 400, "not valid JSON"),
        (v2(json.dumps(["a list"])), 400, "JSON object"),
        (v2(json.dumps({"text": 42})), 400, '"text" must be a string'),
        (v2(json.dumps({"txt": "typo"})), 400, '"text" must be a string'),
        (v2(json.dumps({"text": "a", "k": 0})), 400, '"k"'),
        (v2(json.dumps({"text": "a", "k": True})), 400, '"k"'),
        (v2(json.dumps({"text": "a", "k": "3"})), 400, '"k"'),
        (v2(json.dumps({"text": "word " * 1001})), 413, "limit is 5000"),
        (v2("x" * 30_000, content_type="text/plain"), 413, "limit is 5000"),
        (v2("x" * 100_000, content_type="text/plain"), 413, "too large"),
        (v2(json.dumps({"text": "a river", "padding": " " * 100_000})), 413, "too large"),
        (v2('{"text": "a river", "k": ' + "1" * 4301 + "}"), 400, "digits"),
        (v2('{"text": ' + "9" * 5000 + "}"), 400, "digits"),
        (v2('{"text": "a river", "extra": [' + "7" * 4301 + "]}"), 400, "digits"),
        (v2("text", content_type="application/xml"), 415, "not supported"),
        (v2("!!!not base64!!!", isBase64Encoded=True), 400, "base64"),
        (v2(base64.b64encode(b"\xff\xfe\xfd").decode(), isBase64Encoded=True), 400, "UTF-8"),
        (v2(None), 400, "no body"),
        ({**v2(json.dumps({"text": "a"})), "requestContext": {"http": {"method": "GET"}}}, 405, "POST"),
        ({**v2(None), "body": ["not", "a", "string"]}, 400, "string"),
        ({**v2(None), "body": {"text": "a river"}}, 400, "string"),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    lambda_env: str, event: dict[str, Any], status: int, fragment: str
) -> None:
    code, _, body = call(event)
    assert code == status, body
    assert fragment in body["message"] and body["error"] and body["requestId"]


# --- the text limit: 5,000 characters of text, however the body spells them ------------------------
@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_the_limit_is_5000_characters_exactly(lambda_env: str, content_type: str) -> None:
    for chars, status in ((5000, 200), (5001, 413)):
        text = ("a river " * 1000)[:chars]
        body = json.dumps({"text": text}) if content_type == "application/json" else text
        assert call(v2(body, content_type=content_type))[0] == status, chars


@pytest.mark.parametrize(
    "word",
    [
        "東京大学 ",  # CJK: one \uXXXX escape (6 body characters) a character
        "\U00020000",  # beyond the BMP: a surrogate pair escape (12 body characters) a character
    ],
)
def test_json_escapes_do_not_count_against_the_text_limit(lambda_env: str, word: str) -> None:
    # GIVEN texts of exactly 5,000 and 5,001 characters, sent as \u escapes and as raw UTF-8
    for chars, status in ((5000, 200), (5001, 413)):
        text = (word * chars)[:chars]
        for ascii_only in (True, False):
            body = json.dumps({"text": text}, ensure_ascii=ascii_only)
            # THEN the limit is on the text's characters, however the JSON spells them
            code, _, answer = call(v2(body))
            assert code == status, (chars, ascii_only, answer)
            if status == 413:
                assert "the text has 5001 characters; the limit is 5000" in answer["message"]


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        "text",
        42,
        {"unexpected": True},
        {"version": "2.0"},
        {"body": 42},
        {"body": "a text", "requestContext": {}},  # something routed, but not an HTTP request
    ],
)
def test_an_event_that_is_not_an_http_request_is_a_400_that_says_so(lambda_env: str, event: Any) -> None:
    code, _, body = call(event)
    assert (code, body["error"]) == (400, "bad_request")
    assert body["message"] == "the event is not an HTTP request; this function answers POST /classify"


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("path", ["/", "/classify/", "/predict", "/classify/extra"])
def test_only_the_classify_path_is_answered_other_paths_are_a_json_404(
    lambda_env: str, path: str, method: str
) -> None:
    for event in (v2(json.dumps({"text": WALTER_JOHNSON})), load_event("apiGatewayProxyEvent.json")):
        event["rawPath" if "rawPath" in event else "path"] = path
        event["requestContext"].setdefault("http", {})["method"] = method
        event["httpMethod"] = method
        code, headers, body = call(event)
        assert (code, body["error"]) == (404, "not_found"), body
        assert path in body["message"] and "POST /classify" in body["message"]
        assert headers["Content-Type"].startswith("application/json")


# --- the origin-verify header (terraform/edge.tf, docs/edge.md) -------------------------------------
@pytest.mark.parametrize(
    ("header", "status"),
    [(None, 403), ("", 403), ("wrong", 403), ("s3cret-value-x", 403), ("s3cret-value", 200)],
)
def test_with_a_secret_only_requests_carrying_it_reach_the_endpoint(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch, header: str | None, status: int
) -> None:
    """Terraform sets ORIGIN_VERIFY_SECRET and CloudFront adds x-origin-verify: a call that skips
    CloudFront (the API's own URL) is a 403, a client's mistake, never a 5xx."""
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET", "s3cret-value")
    headers = {} if header is None else {"x-origin-verify": header}
    event = v2(json.dumps({"text": WALTER_JOHNSON}))
    event["headers"].update(headers)
    code, _, body = call(event)
    assert code == status
    if status == 403:
        assert body["error"] == "forbidden" and "site" in body["message"]
    else:
        assert body["label"] == "Athlete"


def test_with_a_secret_the_route_is_still_judged_first(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the secret set, as Terraform always sets it, and calls without the header
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET", "s3cret-value")
    elsewhere = v2(json.dumps({"text": WALTER_JOHNSON}))
    elsewhere["rawPath"] = "/predict"
    fetched = v2(json.dumps({"text": WALTER_JOHNSON}))
    fetched["requestContext"]["http"]["method"] = "GET"
    # WHEN a non-HTTP event, another path and another method arrive  THEN each gets its own answer, not 403
    assert call({"unexpected": True})[0] == 400
    assert call(elsewhere)[0] == 404
    assert call(fetched)[0] == 405


def test_without_a_secret_the_origin_is_not_checked(lambda_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET", "")
    code, _, body = call(v2(json.dumps({"text": WALTER_JOHNSON})))
    assert (code, body["label"]) == (200, "Athlete")


# --- initialisation: what a cold start pays before the first request ---------------------------------
def _import_handler(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Import the handler in a fresh Python with only ``env`` (as the Lambda runtime's init phase does)."""
    code = "import handler; print(len(handler._clients), len(handler._vocabularies))"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=lambda_src.LAMBDA_DIR,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_endpoint_client_and_the_vocabulary_are_made_at_initialisation(
    trained: tuple[Settings, TrainOutcome],
) -> None:
    # GIVEN the environment Terraform sets  WHEN the runtime imports the handler
    env = {
        **lambda_settings_env(),
        **lambda_environment_of(trained[1].archive),
        "AWS_REGION": "us-east-1",  # the Lambda runtime sets both
        "AWS_DEFAULT_REGION": "us-east-1",
        "ENDPOINT_NAME": NAME,
    }
    result = _import_handler(env)
    # THEN the SDK client and the vocabulary exist before any request arrives
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1"]


def test_an_incomplete_environment_does_not_break_initialisation(
    trained: tuple[Settings, TrainOutcome],
) -> None:
    # GIVEN no region (boto3 cannot make a client)  WHEN imported  THEN the import works; the first
    # request that needs the client answers the 500 not_configured (tested above for the settings)
    env = {**lambda_settings_env(), **lambda_environment_of(trained[1].archive)}
    result = _import_handler(env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "0"]


def test_importing_the_handler_without_its_environment_logs_nothing_at_info() -> None:
    # GIVEN a fresh interpreter without the Lambda's environment, as the tests and tools import the handler,
    # logging at INFO
    env = {k: v for k, v in os.environ.items() if k not in lambda_settings_env() and k != "VOCABULARY_FILE"}
    code = "import logging, sys; logging.basicConfig(level=logging.INFO); sys.path.insert(0, 'lambda')\n"
    code += "import handler"
    # WHEN it imports the handler  THEN nothing is logged: the not-configured state waits for a request
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert done.stderr == ""
