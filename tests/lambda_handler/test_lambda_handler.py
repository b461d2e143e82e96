"""The Lambda handler: real events in, real endpoint (local, through boto3) behind, JSON out."""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import logging
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ml import lambda_src, vocabulary
from ml.config import ROOT
from ml.pipeline import TrainOutcome
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON, lambda_settings_env, load_event
from tests.lambda_handler.conftest import NAME, SITE

import contract
import handler


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


def call(event: Any) -> tuple[int, dict[str, str], dict[str, Any]]:
    reply = handler.lambda_handler(event, None)
    return reply["statusCode"], reply["headers"], json.loads(reply["body"])


def v2(body: str | None, content_type: str = "application/json", **extra: Any) -> dict[str, Any]:
    event = load_event("apiGatewayV2Event.json")
    event["headers"]["content-type"] = content_type
    if body is None:
        event.pop("body")
    else:
        event["body"] = body
    event.update(extra)
    return event


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


# --- text the model cannot judge: 200, no label, a reason, the top list --------------------------------
LEARNED_REASON = (
    "It reads like conversation, a request, a program's message, code or markup, not like a text about a "
    "topic: the model cannot tell what it is about."
)


@pytest.mark.parametrize(
    "text",
    [
        "please reset my password",
        "Can you help me with my homework?",
        "check out my new blog post about cooking",
        "def main(): return 0",
        "<script>alert(1)</script>",
        "asdfgh qwerty zxcvb",
    ],
)
def test_requests_code_and_mashing_get_the_learned_rule_s_reason_and_the_top_list(
    lambda_env: str, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    # GIVEN the texts that got confident topics (none of them among the rule's training texts),
    # with the shipped settings: no topical-word share asked, only the learned rule judges them
    assert os.environ["MIN_KNOWN_PERCENT"] == "0" and handler.vocabulary().weights
    capsys.readouterr()
    status, _, body = call(v2(json.dumps({"text": text})))
    # THEN a 200 that names no topic, says why, and still has the model's top list
    assert status == 200 and (body["label"], body["probability"]) == (None, None)
    assert body["reason"] == LEARNED_REASON
    assert body["words"] == len(handler.tokenize(text)) and len(body["top"]) == 3
    # AND its log line (EMF, lambda/metrics.py) counts it apart from classified requests
    (line,) = [json.loads(out) for out in capsys.readouterr().out.splitlines() if '"_aws"' in out]
    assert (line["status"], line["Outcome"], line["UnknownText"]) == (200, "unknown_text", 1)


def test_text_of_words_the_model_never_learned_gets_no_label_but_a_reason_and_the_top_list(
    lambda_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN keyboard mashing, none of whose words is in the deployed model's vocabulary, and a Lambda set to
    # ask for 10% topical words
    assert not {"asdfgh", "qwerty", "zxcvb"} & handler.vocabulary().topical
    monkeypatch.setenv("MIN_KNOWN_PERCENT", "10")
    capsys.readouterr()
    status, _, body = call(v2(json.dumps({"text": "asdfgh qwerty zxcvb"})))
    # THEN the answer is a 200 that names no topic, says why, and still has the model's top list
    assert status == 200 and body["label"] is None and body["probability"] is None
    assert body["reason"] == (
        "Only 0 of 3 words tell the model anything about a topic; it cannot tell what this text is about."
    )
    assert (body["knownWords"], body["commonWords"], body["words"], len(body["top"])) == (0, 0, 3, 3)
    # AND its log line (EMF, lambda/metrics.py) counts it apart from classified requests
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines() if '"_aws"' in text]
    assert (line["status"], line["Outcome"], line["UnknownText"]) == (200, "unknown_text", 1)


def test_a_real_sentence_is_classified_with_its_known_and_common_word_counts(lambda_env: str) -> None:
    status, _, body = call(v2(json.dumps({"text": WALTER_JOHNSON})))
    words = handler.tokenize(WALTER_JOHNSON)
    assert status == 200 and body["label"] == "Athlete" and "reason" not in body
    assert body["words"] == len(words)
    assert body["knownWords"] == sum(w in handler.vocabulary().topical for w in words)
    assert body["commonWords"] == sum(w in handler.vocabulary().common for w in words) > 0


RHINE_DE = "Der Rhein ist ein Fluss, der durch Deutschland und die Niederlande fließt."


def test_a_sentence_in_another_language_gets_no_label_but_the_language_reason_and_the_top_list(
    lambda_env: str,
) -> None:
    # GIVEN the German sentence of the issue: long enough, and none of its words a common English word
    words = handler.tokenize(RHINE_DE)
    assert len(words) >= contract.MIN_WORDS_FOR_LANGUAGE and not set(words) & handler.vocabulary().common
    status, _, body = call(v2(json.dumps({"text": RHINE_DE})))
    # THEN a 200 that names no topic (the learned rule refuses it), says the text is not English (the
    # clearest reason, whatever its topical words), and still has the top list
    assert status == 200 and body["label"] is None and body["probability"] is None
    assert body["reason"] == (
        f"None of its {len(words)} words is a common English word: the model only knows English text, "
        "so it cannot tell what this is about."
    )
    assert (body["commonWords"], body["words"], len(body["top"])) == (0, len(words), 3)
    assert body["top"][0]["label"] and body["top"][0]["probability"] > 0


def test_a_short_text_without_a_common_word_is_judged_by_its_topical_words_only(lambda_env: str) -> None:
    # GIVEN a name, shorter than the language rule's reach, without a common word but with a topical one
    words = handler.tokenize("Walter Johnson")
    assert len(words) < contract.MIN_WORDS_FOR_LANGUAGE and not set(words) & handler.vocabulary().common
    assert set(words) & handler.vocabulary().topical
    status, _, body = call(v2(json.dumps({"text": "Walter Johnson"})))
    # THEN it is classified
    assert status == 200 and body["label"] is not None and "reason" not in body, body


@pytest.mark.parametrize("extra", [-1, 0])
def test_a_refused_text_is_told_it_is_not_english_from_min_words_for_language_on(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch, extra: int
) -> None:
    # GIVEN a word the model never saw, again and again (no topical and no common word), and a Lambda set
    # to ask for 10% topical words, so that the share refuses it at any length
    monkeypatch.setenv("MIN_KNOWN_PERCENT", "10")
    words = contract.MIN_WORDS_FOR_LANGUAGE + extra
    status, _, body = call(v2(json.dumps({"text": " ".join(["qzxvbn"] * words)})))
    # THEN it is refused, below the limit for its topical words, from it on as not English
    assert status == 200 and body["label"] is None, body
    expected = f"None of its {words} words is a common" if extra == 0 else f"Only 0 of {words} words"
    assert body["reason"].startswith(expected)


@pytest.mark.parametrize(("min_percent", "labelled"), [("50", True), ("51", False)])
def test_the_threshold_is_the_min_known_percent_setting(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch, min_percent: str, labelled: bool
) -> None:
    # GIVEN a text of one topical and one other word (50% known) that the learned rule lets through
    assert "river" in handler.vocabulary().topical and "the" not in handler.vocabulary().topical
    score = contract.off_topic_score("The river", ["the", "river"], handler.vocabulary())
    assert score <= handler.vocabulary().threshold
    monkeypatch.setenv("MIN_KNOWN_PERCENT", min_percent)
    status, _, body = call(v2(json.dumps({"text": "The river"})))
    # THEN it is labelled exactly when 50% reaches the threshold
    assert status == 200 and (body["label"] is not None) == labelled
    assert body.get("reason") is None or body["reason"].startswith("Only 1 of 2 words")


def test_one_unknown_word_is_explained_in_the_singular(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIN_KNOWN_PERCENT", "10")
    status, _, body = call(v2(json.dumps({"text": "qzxvbn"})))
    assert status == 200 and body["reason"].startswith("Only 0 of 1 word tells the model anything about")


@pytest.mark.parametrize("text", ["hi there", "thanks", "bye", "yes"])
def test_greetings_the_model_has_seen_tell_it_no_topic(
    lambda_env: str, trained: tuple[Settings, TrainOutcome], text: str
) -> None:
    # GIVEN a greeting: words seen in train rows of many topics alike (as "the" is), or too rarely for the
    # model to keep them (min_count prunes words of one or two rows: "bye" is in one)
    words = handler.tokenize(text)
    settings, outcome = trained
    model_words = vocabulary.model_words(outcome.archive, settings.build_dir / "endpoint-cache")
    assert "there" in model_words, "a greeting word the model kept, and not topical"
    assert "the" not in handler.vocabulary().topical and "footballer" in handler.vocabulary().topical
    # THEN it gets no label, and the answer counts its topical words
    status, _, body = call(v2(json.dumps({"text": text})))
    assert status == 200 and body["label"] is None, body
    assert body["knownWords"] == sum(w in handler.vocabulary().topical for w in words)


@pytest.mark.parametrize(
    "fault",
    [
        "other model",
        "format 1",
        "format 2",
        "untagged word",
        "no sha256",
        "no file",
        "missing file",
        "not gzip",
    ],
)
def test_a_vocabulary_that_cannot_be_trusted_is_a_500_not_configured_logged(
    lambda_env: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Any,
    fault: str,
) -> None:
    # GIVEN a vocabulary derived from another model or in an older format, or none, or an unreadable one
    if fault == "other model":
        monkeypatch.setenv("MODEL_SHA256", "0" * 64)
    elif fault == "no sha256":
        monkeypatch.delenv("MODEL_SHA256")
    elif fault == "no file":
        monkeypatch.delenv("VOCABULARY_FILE")
    else:
        path = tmp_path / "vocabulary.txt.gz"
        if fault == "not gzip":
            path.write_text("river\n")
        header = contract.vocabulary_header(os.environ["MODEL_SHA256"], handler.TOKENIZER_SCHEME)
        if fault.startswith("format "):  # this very model's, in a format before common words: a word a line
            old = header.replace(contract.VOCABULARY_FORMAT, f"dbpedia-vocabulary/{fault[-1]}")
            path.write_bytes(gzip.compress(old.encode() + b"river\n"))
        if fault == "untagged word":  # today's header, then a line that is not "topical …" or "common …"
            path.write_bytes(gzip.compress(header.encode() + b"topical river\nfilm\n"))
        monkeypatch.setenv("VOCABULARY_FILE", str(path))
    with caplog.at_level(logging.INFO):
        status, _, body = call(v2(json.dumps({"text": WALTER_JOHNSON})))
    # THEN the function refuses to answer rather than refuse the wrong texts, and the log says why
    assert (status, body["error"]) == (500, "not_configured")
    assert "vocabulary" in caplog.text.lower() or "VOCABULARY_FILE" in caplog.text


# --- endpoint failures: 502 / 503 / 504 -------------------------------------------------------------
class FaultyEndpoint(ThreadingHTTPServer):
    """A real HTTP server that misbehaves in one chosen way."""

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), _FaultyHandler)
        self.mode, self.calls = mode, 0


class _FaultyHandler(BaseHTTPRequestHandler):
    server: FaultyEndpoint

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.server.calls += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, body, headers = {
            "garbage": (200, b"<html>not json</html>", {}),
            "empty": (200, b"[]", {}),
            "wrong-shape": (200, b'[{"label": "x"}]', {}),
            "throttled": (400, b'{"message": "slow down"}', {"x-amzn-ErrorType": "ThrottlingException:"}),
            "server-error": (500, b'{"message": "boom"}', {"x-amzn-ErrorType": "InternalFailure:"}),
            "slow": (200, b"[]", {}),
            "cut-status-line": (200, b"", {}),
            "cut-body": (200, b'[{"label": ["__label__Athlete"], "prob": [0.9]}]', {}),
            "silent": (200, b"[]", {}),
        }[self.server.mode]
        if self.server.mode == "slow":
            time.sleep(1.5)
        if self.server.mode == "silent":  # never answers: wait until the client gives up and hangs up
            with contextlib.suppress(OSError):
                self.rfile.read(1)
            return
        if self.server.mode == "cut-status-line":  # dies in the middle of its status line
            self.wfile.write(b"HTTP/1.1 20")
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.mode == "cut-body":  # dies after part of the body
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        with contextlib.suppress(BrokenPipeError):  # the slow case: the client gave up, as intended
            self.wfile.write(body)


@pytest.mark.parametrize(
    ("mode", "status", "retried"),
    [
        ("garbage", 502, False),
        ("empty", 502, False),
        ("wrong-shape", 502, False),
        ("throttled", 503, True),
        ("server-error", 502, True),
        ("slow", 504, True),
        ("cut-status-line", 502, True),
        ("cut-body", 502, True),
    ],
)
def test_endpoint_faults_map_to_gateway_errors(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch, mode: str, status: int, retried: bool
) -> None:
    faulty = FaultyEndpoint(mode)
    threading.Thread(target=faulty.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", f"http://127.0.0.1:{faulty.server_address[1]}")
    try:
        code, _, body = call(v2(json.dumps({"text": "a river"})))
    finally:
        faulty.shutdown()
        faulty.server_close()
    assert code == status and body["message"]
    assert (faulty.calls > 1) == retried  # transient faults are retried (bounded), malformed answers are not


def test_unreachable_endpoint_is_503(lambda_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "http://127.0.0.1:9")
    code, _, body = call(v2(json.dumps({"text": "a river"})))
    assert code == 503 and "reached" in body["message"]


def test_unknown_endpoint_name_is_503(lambda_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENDPOINT_NAME", "no-such-endpoint")
    assert call(v2(json.dumps({"text": "a river"})))[0] == 503


def test_missing_configuration_is_503_not_a_crash(lambda_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENDPOINT_NAME")
    code, _, body = call(v2(json.dumps({"text": "a river"})))
    assert code == 503 and "ENDPOINT_NAME" in body["message"]


class Context:
    """The parts of the Lambda context the handler reads: request id and remaining time."""

    def __init__(self, remaining_ms: int) -> None:
        self.aws_request_id = "req-0123"
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def serve_faulty(mode: str, monkeypatch: pytest.MonkeyPatch) -> FaultyEndpoint:
    faulty = FaultyEndpoint(mode)
    threading.Thread(target=faulty.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", f"http://127.0.0.1:{faulty.server_address[1]}")
    return faulty


def test_transient_faults_are_tried_exactly_max_attempts_times_and_logged_with_the_request_id(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN a throttling endpoint and ENDPOINT_MAX_ATTEMPTS=2
    monkeypatch.setenv("ENDPOINT_MAX_ATTEMPTS", "2")
    faulty = serve_faulty("throttled", monkeypatch)
    try:
        # WHEN a request arrives with plenty of time left
        reply = handler.lambda_handler(v2(json.dumps({"text": "a river"})), Context(20_000))
    finally:
        faulty.shutdown()
        faulty.server_close()
    # THEN the endpoint saw exactly 2 calls (no hidden SDK retries), and the caller got a JSON 503
    assert faulty.calls == 2 and reply["statusCode"] == 503
    assert json.loads(reply["body"])["requestId"] == "req-0123"
    # AND each failed attempt was logged with the request id and the endpoint's error code
    attempts = [json.loads(r.message) for r in caplog.records if '"endpointError"' in r.message]
    assert [(a["requestId"], a["attempt"], a["retry"]) for a in attempts] == [
        ("req-0123", 1, True),
        ("req-0123", 2, False),
    ]
    assert "ThrottlingException" in attempts[0]["detail"]


def test_no_retry_is_started_that_would_not_end_before_the_lambda_times_out(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an endpoint that never answers within the 1 s read timeout, and 2.5 s left in the invocation
    faulty = serve_faulty("slow", monkeypatch)
    try:
        # WHEN the handler runs  (a second attempt would need up to 2 s connect + 1 s read + backoff)
        reply = handler.lambda_handler(v2(json.dumps({"text": "a river"})), Context(2_500))
    finally:
        faulty.shutdown()
        faulty.server_close()
    # THEN it answered 504 after one attempt instead of being killed by the Lambda timeout
    assert reply["statusCode"] == 504 and faulty.calls == 1


def test_every_request_logs_one_json_line_with_its_id_status_outcome_and_latency(
    lambda_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a request that classifies and one that is refused
    capsys.readouterr()
    ok_status, _, ok = call(v2(json.dumps({"text": WALTER_JOHNSON})))
    bad_status, _, bad = call(v2(json.dumps({"text": "   "})))
    # THEN each left exactly one JSON line on standard output, which CloudWatch Logs Insights can query and
    # CloudWatch turns into metrics (EMF: tests/lambda_handler/test_metrics.py)
    per_request = [json.loads(text) for text in capsys.readouterr().out.splitlines() if text.startswith("{")]
    assert [(line["requestId"], line["status"], line["Outcome"]) for line in per_request] == [
        (ok["requestId"], ok_status, "ok"),
        (bad["requestId"], bad_status, "bad_request"),
    ]
    assert all(isinstance(line["Latency"], float) and line["Latency"] >= 0 for line in per_request)


def test_the_first_attempt_fits_a_small_time_budget(
    lambda_env: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN an endpoint that never answers, the default 4 s read timeout, and 3 s left in the invocation
    monkeypatch.setenv("ENDPOINT_TIMEOUT_SECONDS", lambda_settings_env()["ENDPOINT_TIMEOUT_SECONDS"])
    assert int(lambda_settings_env()["ENDPOINT_TIMEOUT_SECONDS"]) == 4
    faulty = serve_faulty("silent", monkeypatch)
    try:
        started = time.monotonic()
        reply = handler.lambda_handler(v2(json.dumps({"text": "a river"})), Context(3_000))
        elapsed = time.monotonic() - started
    finally:
        faulty.shutdown()
        faulty.server_close()
    # THEN one attempt was made, its timeouts cut to fit the 3 s less the answer margin (0.5 s) ...
    assert reply["statusCode"] == 504 and faulty.calls == 1
    (attempt,) = [json.loads(r.message) for r in caplog.records if '"endpointError"' in r.message]
    assert attempt["connectTimeout"] + attempt["readTimeout"] <= 2.5 and attempt["retry"] is False
    # ... and the JSON 504 came before the Lambda would have been killed
    assert elapsed < 3.0


def test_no_attempt_is_made_without_time_left(lambda_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN an invocation with less time left than the margin kept to answer
    faulty = serve_faulty("silent", monkeypatch)
    try:
        reply = handler.lambda_handler(v2(json.dumps({"text": "a river"})), Context(400))
    finally:
        faulty.shutdown()
        faulty.server_close()
    # THEN the endpoint is not called and the caller gets a JSON 504 at once
    assert reply["statusCode"] == 504 and faulty.calls == 0
    assert "ran out of time" in json.loads(reply["body"])["message"]


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
        **vocabulary.lambda_environment(trained[1].archive),
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
    env = {**lambda_settings_env(), **vocabulary.lambda_environment(trained[1].archive)}
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
