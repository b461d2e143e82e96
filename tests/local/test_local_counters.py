"""`invoke up` counts what the Lambda's EMF lines count (ops/local/counters.py): a summary line every
minute (shortened here) and one for the whole run when the stack stops. Real stack, real requests."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

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


def test_with_two_api_workers_the_parent_counts_every_worker_s_requests(
    trained: tuple[Settings, TrainOutcome],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the stack with the API in 2 spawned processes (the parent answers none: its handler would fail)
    monkeypatch.setattr(local_stack, "SUMMARY_SECONDS", 0.5)
    caplog.set_level(logging.INFO, logger="dbpedia")
    with local_stack.start_stack(trained[0].replace(api_workers=2), ephemeral_ports=True) as running:
        assert len(running.api.worker_pids) == 2
        running.api.handler = lambda event, context: {"statusCode": 500}
        url = running.api.url + "/classify"
        # WHEN 40 fresh connections classify a topic and 8 make a client's mistake (the kernel spreads
        # connections over both workers' sockets)
        bodies = [{"text": WALTER_JOHNSON}] * 40 + [{"k": 2}] * 8
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda body: post(url, json.dumps(body).encode()), bodies))
        # THEN the parent's counters count all of them, by outcome and label (the lines arrive on the
        # workers' pipes, so they are waited for)
        deadline = time.monotonic() + 10
        while sum(running.counters.total.outcomes.values()) < len(bodies) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert statuses == [200] * 40 + [400] * 8
        total = running.counters.total
        assert dict(total.outcomes) == {"ok": 40, "bad_request": 8}
        assert dict(total.labels) == {"Athlete": 40} and total.answered == 40
        assert len(total.latencies) == 48
        deadline = time.monotonic() + 10
        while "last 0.5 s:" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.1)
    # AND the minute's line and the run's line say so, and no worker printed its EMF lines instead
    assert any(r.getMessage().startswith("last 0.5 s: ") for r in caplog.records)
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("since start:")]
    assert line.startswith("since start: 48 requests (ok 40, bad_request 8); labels Athlete 40;"), line
    assert '"_aws"' not in capfd.readouterr().out
