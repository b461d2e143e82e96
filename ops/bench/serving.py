"""Serving speed: the endpoint (one or more processes), a bare server, the API, the load test, cold starts.

Real servers on 127.0.0.1, loaded by ``ops.bench.loadgen`` in a process of its own, beside fastText's own
predict loop in-process on the same texts (the upper bound) and a minimal ``http.server`` with no
validation (the overhead baseline). The endpoint goal's case sends real texts (the tokenized train rows
the speed goals use); the other cases send one short sentence, many times.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ml import lambda_src, preprocess
from ml.config import ROOT, log
from ml.predict import Predictor
from ops.bench.loadgen import percentile
from ops.bench.plan import BenchPlan
from ops.bench.speed import real_texts
from ops.local.api import LocalApi
from ops.local.endpoint import start_endpoint
from ops.local.stack import start_stack
from ops.settings import Settings

SENTENCE = "Walter Johnson was a Major League Baseball pitcher for the Washington Senators."


class _BareHandler(BaseHTTPRequestHandler):
    """The overhead baseline: parse, predict, answer; no validation, no runtime API route."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall
    predictor: Predictor

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        body = json.dumps(self.predictor.predict(payload["instances"], 1)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _bare_server(predictor: Predictor) -> ThreadingHTTPServer:
    handler = type("BareHandler", (_BareHandler,), {"predictor": predictor})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _load(
    url: str, body: bytes, concurrency: int, requests: int, seconds: float, rate: float = 0.0
) -> dict[str, Any]:
    """Run ``ops.bench.loadgen`` in a process of its own: closed loop, or open loop at ``rate`` requests/s."""
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        fh.write(body)
        fh.flush()
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "ops.bench.loadgen",
                url,
                fh.name,
                "--concurrency",
                str(concurrency),
                "--requests",
                str(requests),
                "--seconds",
                str(seconds),
                *(["--rate", str(rate)] if rate else []),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds * 2 + 60,
        )
    return json.loads(out.stdout)


def _inprocess_rate(predictor: Predictor, texts: list[str], batch: int, seconds: float) -> float:
    """Documents per second of fastText's own predict in this process, in batches of ``batch``."""
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for i in range(0, len(texts), batch):
            predictor.model.predict(texts[i : i + batch], k=1)
        done += len(texts)
    return done / (time.perf_counter() - started)


def _rss_mb(pids: list[int]) -> float:
    """Resident memory of this process (it hosts the endpoint, and the API and its handler when it runs in
    one process) and of the API's worker processes ``pids``, in MB."""
    total = 0
    for pid in ["self", *map(str, pids)]:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def load_test(api: LocalApi, plan: BenchPlan) -> dict[str, Any]:
    """Issue 7.3 and 29.4: many requests through the whole local stack (API → handler → boto3 → endpoint).

    A short warm-up first (boto3 client, caches), then the bounded closed-loop load (each client sends its
    next request when the answer came), then an open-loop load at ``plan.open_loop_share`` of the closed
    loop's rate (requests sent on a schedule whatever the answers do, latency counted from the scheduled
    time, so queueing shows). Memory is the serving processes' RSS after the warm-up and after the closed
    loop.
    """
    api_url = api.url + "/classify"
    body = json.dumps({"text": SENTENCE}).encode()
    _load(api_url, body, plan.load_clients, max(50, plan.load_requests // 20), plan.load_seconds)
    before = _rss_mb(api.worker_pids)
    stats = _load(api_url, body, plan.load_clients, plan.load_requests, plan.load_seconds)
    after = _rss_mb(api.worker_pids)
    rate = round(stats["requests_per_second"] * plan.open_loop_share, 1)
    open_loop = _load(api_url, body, plan.load_clients, plan.load_requests, plan.load_seconds, rate)
    log.info(
        "load test: %d requests, %d errors, p99 %s ms, RSS %+.1f MB; open loop at %s/s: p99 %s ms",
        stats["requests"],
        stats["errors"],
        stats["p99_ms"],
        after - before,
        rate,
        open_loop["p99_ms"],
    )
    return {
        **stats,
        "clients": plan.load_clients,
        "api_workers": api.workers,
        "max_requests": plan.load_requests,
        "max_seconds": plan.load_seconds,
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "rss_growth_mb": round(after - before, 1),
        "open_loop": {**open_loop, "rate": rate, "share": plan.open_loop_share},
    }


def _post_ms(connection: http.client.HTTPConnection, body: bytes) -> float:
    """One ``POST /classify`` on ``connection`` (connecting first if needed): milliseconds to the answer."""
    started = time.perf_counter()
    connection.request("POST", "/classify", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"the cold-start API answered {response.status}")
    return (time.perf_counter() - started) * 1000


def cold_start(plan: BenchPlan) -> dict[str, Any]:
    """What a visitor waits for after a cold start, through the local API, and warm p50 / p99 after it.

    Each run is a fresh process (``ops.bench.coldstart``) that imports the handler with the environment
    this process has (the running local stack set it) and serves it; its first request opens a new
    connection, as a visitor's does. The warm requests then go one at a time to the last process.
    """
    body = json.dumps({"text": SENTENCE}).encode()
    runs: list[dict[str, float]] = []
    warm: list[float] = []
    for run in range(plan.cold_starts):
        launched = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "ops.bench.coldstart"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdin is not None and child.stdout is not None
        try:
            ready = json.loads(child.stdout.readline())
            listening = time.perf_counter()
            connection = http.client.HTTPConnection("127.0.0.1", ready["port"], timeout=30)
            first = _post_ms(connection, body)
            if run == plan.cold_starts - 1:
                warm = sorted(_post_ms(connection, body) for _ in range(plan.warm_requests))
            connection.close()
        finally:
            child.stdin.close()
            child.wait(30)
        runs.append(
            {
                "init_ms": ready["init_ms"],
                "first_request_ms": round(first, 2),
                "visitor_wait_ms": round(ready["init_ms"] + first, 2),
                "launch_to_answer_ms": round((listening - launched) * 1000 + first, 1),
            }
        )
    return {
        "runs": runs,
        **{key: statistics.median(r[key] for r in runs) for key in runs[0]},
        "warm_requests": len(warm),
        "warm_p50_ms": round(percentile(warm, 50), 2),
        "warm_p99_ms": round(percentile(warm, 99), 2),
    }


def serving(settings: Settings, plan: BenchPlan) -> dict[str, Any]:
    """Throughput and latency of the endpoint (1 and more processes), the bare baseline server and the API
    path; then the load test through the API."""
    texts = [" ".join(preprocess.tokenize(SENTENCE))] * max(plan.batches)
    tokenize = lambda_src.text_tokenizer().tokenize
    real = [" ".join(tokenize(t)) for t in real_texts(settings, max(plan.batches))]
    results: dict[str, Any] = {"cases": []}
    logging.getLogger("classifier").setLevel(logging.WARNING)  # not one log line per benchmark request
    route = f"/endpoints/{settings.endpoint_name}/invocations"
    stack_settings = settings.replace(api_workers=plan.api_workers or os.cpu_count() or 1)
    with start_stack(stack_settings, ephemeral_ports=True) as stack:
        predictor = stack.endpoint.predictor
        assert predictor is not None
        bare = _bare_server(predictor)
        more = [start_endpoint(predictor, settings.endpoint_name, workers=w) for w in plan.workers if w > 1]
        try:
            top = plan.concurrency[-1:]
            single = stack.endpoint.url + route
            targets = [("endpoint", 1, single, plan.concurrency)]
            targets += [("endpoint", server.workers, server.url + route, top) for server in more]
            targets.append(("bare server", 0, f"http://127.0.0.1:{bare.server_address[1]}/invocations", top))
            for name, workers, url, concurrencies in targets:
                for batch in plan.batches:
                    body = lambda_src.contract.json_request(texts[:batch], 1).encode()
                    for concurrency in concurrencies:
                        stats = _load(url, body, concurrency, plan.requests, plan.seconds)
                        stats.update(
                            target=name,
                            batch=batch,
                            concurrency=concurrency,
                            docs_per_second=round(stats["requests_per_second"] * batch),
                            **({"workers": workers} if workers else {}),
                        )
                        results["cases"].append(stats)
                        log.info(
                            "%s (%d workers) batch %d x%d: %s req/s",
                            name,
                            workers,
                            batch,
                            concurrency,
                            stats["requests_per_second"],
                        )
            # the goal's case: real texts, the biggest batch, one endpoint process
            body = lambda_src.contract.json_request(real, 1).encode()
            for concurrency in plan.concurrency:
                stats = _load(single, body, concurrency, plan.requests, plan.seconds)
                stats.update(
                    target="endpoint, real texts",
                    batch=len(real),
                    concurrency=concurrency,
                    docs_per_second=round(stats["requests_per_second"] * len(real)),
                )
                results["cases"].append(stats)
            api_body = json.dumps({"text": SENTENCE}).encode()
            for concurrency in plan.concurrency:
                stats = _load(stack.api.url + "/classify", api_body, concurrency, plan.requests, plan.seconds)
                stats.update(
                    target="API (Lambda handler)",
                    batch=1,
                    concurrency=concurrency,
                    docs_per_second=round(stats["requests_per_second"]),
                    workers=stack.api.workers,
                )
                results["cases"].append(stats)
        finally:
            for server in [bare, *more]:
                server.shutdown()
                server.server_close()
        window = 0.5 if plan.smoke else 3.0
        results["inprocess_docs_per_second"] = {
            str(b): round(_inprocess_rate(predictor, texts, b, window)) for b in plan.batches
        }
        results["inprocess_real_docs_per_second"] = round(_inprocess_rate(predictor, real, len(real), window))
        results["cold_start"] = cold_start(plan)
        results["load_test"] = load_test(stack.api, plan)
    return results
