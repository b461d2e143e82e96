"""`invoke up` counts what the Lambda's EMF lines count (ops/local/counters.py): a summary line every
minute (shortened here) and one for the whole run when the stack stops. Real stack, real requests."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request

import pytest

from ml.pipeline import TrainOutcome
from ops.local import stack as local_stack
from ops.settings import Settings
from tests.helpers import WALTER_JOHNSON


def post(url: str, body: bytes) -> int:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_stack_logs_each_minute_s_counters_and_the_run_s_when_it_stops(
    trained: tuple[Settings, TrainOutcome],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN a running stack whose "minute" is half a second
    monkeypatch.setattr(local_stack, "SUMMARY_SECONDS", 0.5)
    caplog.set_level(logging.INFO, logger="dbpedia")
    with local_stack.start_stack(trained[0], ephemeral_ports=True) as running:
        url = running.api.url + "/classify"
        # WHEN it answers a topic (explained), a text it cannot judge and a client's mistake
        sent = [{"text": WALTER_JOHNSON, "explain": True}, {"text": "asdfgh qwerty zxcvb"}, {"k": 2}]
        statuses = [post(url, json.dumps(payload).encode()) for payload in sent]
        deadline = time.monotonic() + 10
        while "last 0.5 s:" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.1)
        minute = [r.getMessage() for r in caplog.records if r.getMessage().startswith("last 0.5 s:")]
        post(url, json.dumps({"text": WALTER_JOHNSON}).encode())
    # THEN the minute's line counts the three by outcome, label and share, and the run's line all four
    assert statuses == [200, 200, 400]
    assert minute[0].startswith("last 0.5 s: 3 requests (")
    for part in ("ok 1", "unknown_text 1", "bad_request 1", "labels Athlete 1;", "unknown text 50.0%"):
        assert part in minute[0], minute[0]
    assert "low confidence 0.0%, explained 50.0% of 2 answers" in minute[0] and "latency p50 " in minute[0]
    total = [r.getMessage() for r in caplog.records if r.getMessage().startswith("since start:")]
    assert total == [total[0]] and total[0].startswith("since start: 4 requests (ok 2, ")
    assert "labels Athlete 2;" in total[0]
    # AND the EMF lines themselves were counted, not printed, while the stack ran
    assert '"_aws"' not in capsys.readouterr().out
