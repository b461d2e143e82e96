"""The Lambda handler when the endpoint fails: 502 / 503 / 504, retries and timeouts, real servers."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers import WALTER_JOHNSON, lambda_settings_env
from tests.lambda_handler.conftest import call, v2

import handler


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
