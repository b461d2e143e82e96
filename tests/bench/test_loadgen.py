"""The load generator's two loops against a real server on 127.0.0.1 that answers one request at a time."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ops.bench.loadgen import run

SERVICE_SECONDS = 0.02  # each answer takes this long, one at a time


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(SERVICE_SECONDS)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def url() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Slow)  # not threading: one connection, one request at a time
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_open_loop_sends_on_schedule_and_counts_the_queue(url: str) -> None:
    # GIVEN a server that answers every 20 ms, asked for one request every 5 ms (4x what it can do)
    closed = run(url, b"{}", concurrency=1, requests=20, seconds=30)
    opened = run(url, b"{}", concurrency=1, requests=20, seconds=30, rate=200)
    # THEN the closed loop sees only the service time, the open loop the queue growing behind it: its
    # last requests were due long before the server could take them (about 20 x 15 ms late at the end)
    assert closed["errors"] == opened["errors"] == 0 and closed["requests"] == opened["requests"] == 20
    assert closed["p99_ms"] < 150
    assert opened["p99_ms"] > closed["p99_ms"] + 150


def test_open_loop_waits_for_each_request_time(url: str) -> None:
    # GIVEN a rate below what the server does: 10 requests at 25/s take at least 0.36 s, not 10 x 20 ms
    started = time.perf_counter()
    stats = run(url, b"{}", concurrency=1, requests=10, seconds=30, rate=25)
    assert stats["requests"] == 10 and time.perf_counter() - started >= 9 / 25
    # AND it says how late it woke for the requests it slept for (a closed loop sleeps for none)
    assert stats["p99_wake_late_ms"] >= 0
    assert "p99_wake_late_ms" not in run(url, b"{}", concurrency=1, requests=3, seconds=30)
