"""``invoke bench``: model quality and serving speed, measured side by side, written to BENCHMARKS.md.

Quality trains the default model in a child process (for its peak memory) on the best data at hand: the
full archive when downloaded, else the shared real rows, else the shipped sample — the report says which,
and how the test split was made. It then trains the same model with more fastText seeds (the quality goal
is judged on their mean) and fits the baseline on our train channel too, for comparison. Serving drives
real servers on 127.0.0.1 with ``ops.bench.loadgen`` in a separate process, beside two references: fastText's
own predict loop in-process (the upper bound) and a minimal server with no validation (the overhead
baseline). Bulk runs ``invoke classify`` in a process of its own against the endpoint, and a worked sizing
example turns the serving figures into instance counts. ``ops.bench.report`` writes them up as
BENCHMARKS.md and judges the goals.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import multiprocessing
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Any

from ml import data, lambda_src, preprocess
from ml import registry as deploy
from ml.config import ROOT, Settings, log
from ml.fsutil import write_json, write_text
from ml.package import unpack
from ml.predict import Predictor
from ops.bench.loadgen import percentile
from ops.bench.report import (
    LOAD_GOAL_CLIENTS,
    LOAD_GOAL_REQUESTS,
    SIZING_HEADROOM,
    SIZING_P99_MS,
    SIZING_PEAKS,
    render,
)
from ops.bench.sweep import baseline_run, seed_runs
from ops.infra.lambda_zip import build_lambda_zip
from ops.local.endpoint import start_endpoint
from ops.local.stack import model_to_serve, start_stack

SHARED_DATA = ROOT.parent / "shared" / "data" / "dbpedia"
SENTENCE = "Walter Johnson was a Major League Baseball pitcher for the Washington Senators."


@dataclass(frozen=True)
class BenchPlan:
    """How much load each case gets; ``smoke`` keeps every number tiny so tests can run it."""

    requests: int = 20_000  # per case; whichever bound comes first ends it
    seconds: float = 10.0
    batches: tuple[int, ...] = (1, 10, 100)
    concurrency: tuple[int, ...] = (1, 8)
    workers: tuple[int, ...] = (1, 2)  # endpoint processes; more than 1 is loaded at the top concurrency
    load_requests: int = LOAD_GOAL_REQUESTS  # the load test of the whole stack, through the API
    load_clients: int = LOAD_GOAL_CLIENTS
    load_seconds: float = 300.0  # its bound: it stops here even if fewer requests were sent
    bulk_docs: int = 10_000  # texts `invoke classify` gets, per client-thread count below
    bulk_workers: tuple[int, ...] = (1, 4)
    # fastText seeds trained besides the pipeline's own (multi-threaded fastText is not deterministic,
    # and one run's test accuracy moves by a few rows): the quality goal is judged on the mean
    extra_seeds: tuple[int, ...] = (1, 2, 3, 4)
    cold_starts: int = 7  # fresh handler processes, each timed on its first request
    warm_requests: int = 500  # then requests one at a time to the last of them
    model_loads: int = 7  # fresh processes timing fastText's load of the deployed model
    # the smoke run's small model: rows a class and dropout copies (None: the settings' own)
    max_rows_per_class: int | None = None
    dropout_views: int | None = None
    epochs: int | None = None
    smoke: bool = False

    @classmethod
    def smoke_plan(cls) -> BenchPlan:
        return cls(
            requests=20,
            seconds=5.0,
            batches=(1, 10),
            concurrency=(1, 2),
            bulk_docs=60,
            bulk_workers=(2,),
            load_requests=200,
            load_clients=4,
            load_seconds=30.0,
            extra_seeds=(1,),
            cold_starts=2,
            warm_requests=20,
            model_loads=2,
            max_rows_per_class=150,
            dropout_views=2,
            epochs=3,
            smoke=True,
        )


# --- quality ---------------------------------------------------------------------------------------
def choose_data(settings: Settings) -> str:
    """The richest dataset available: full archive, shared real rows, or the shipped sample."""
    if (settings.data_dir / "raw" / data.ARCHIVE_NAME).exists():
        return "full"
    if (SHARED_DATA / "train.csv").exists():
        return str(SHARED_DATA)
    return "sample"


def _quality_child(settings: Settings) -> None:
    from ml import pipeline

    pipeline.run(settings)


def quality(settings: Settings, extra_seeds: tuple[int, ...] = ()) -> dict[str, Any]:
    """Train, evaluate and deploy afresh in a child process; return its report, time and peak memory.

    Then train ``extra_seeds`` more models on the same data and split, for the spread between runs.
    """
    # measure a real run, not a reuse: the prepared channel and the model are built afresh
    shutil.rmtree(settings.model_dir, ignore_errors=True)
    shutil.rmtree(settings.data_dir / "prepared", ignore_errors=True)
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_quality_child, args=(settings,))
    started = time.perf_counter()
    child.start()
    child.join()
    pipeline_seconds = round(time.perf_counter() - started, 1)
    if child.exitcode != 0:
        raise RuntimeError(f"the training child process failed (exit code {child.exitcode})")
    manifest_path = deploy.registered_manifest(settings)  # the version the child trained and deployed
    assert manifest_path is not None, "the training child registered no model"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    report = json.loads(manifest_path.with_name("metrics.json").read_text(encoding="utf-8"))
    first = {
        "seed": settings.seed,
        "validation_accuracy": report["validation"]["accuracy"],
        "test_accuracy": report["test"]["accuracy"],
        "train_seconds": manifest["train_seconds"],
    }
    peak_mb = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    runs = [first, *seed_runs(settings, tuple(s for s in extra_seeds if s != settings.seed))]
    return {
        "baseline_on_channel": baseline_run(settings, "train"),
        "data": settings.data,
        "train_seconds": manifest["train_seconds"],
        "pipeline_seconds": pipeline_seconds,
        "counts": manifest["data"]["splits"],
        "peak_memory_mb": peak_mb,
        "report": report,
        "seeds": runs,
        "mean_test_accuracy": statistics.fmean(r["test_accuracy"] for r in runs),
        "mean_validation_accuracy": statistics.fmean(r["validation_accuracy"] for r in runs),
    }


def model_load(settings: Settings, runs: int) -> dict[str, Any]:
    """The deployed model's size, and fastText's load time for it in a fresh process (median of ``runs``)."""
    archive = model_to_serve(settings)
    model_bin = unpack(archive, settings.build_dir / "endpoint-cache")
    code = "import sys, time, fasttext; t = time.perf_counter(); fasttext.load_model(sys.argv[1]); "
    code += "print(time.perf_counter() - t)"
    seconds = [
        float(
            subprocess.run(
                [sys.executable, "-c", code, str(model_bin)], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return {
        "model_bytes": model_bin.stat().st_size,
        "archive_bytes": archive.stat().st_size,
        "load_ms": round(statistics.median(seconds) * 1000, 1),
        "load_runs": runs,
    }


# --- serving ---------------------------------------------------------------------------------------
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


def _load(url: str, body: bytes, concurrency: int, requests: int, seconds: float) -> dict[str, Any]:
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


def _rss_mb() -> float:
    """Resident memory of this process (it hosts the endpoint, the API and the handler), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def load_test(api_url: str, plan: BenchPlan) -> dict[str, Any]:
    """Issue 7.3: many requests through the whole local stack (API → handler → boto3 → endpoint).

    A short warm-up first (boto3 client, caches), then the bounded load; memory is this process's RSS
    after the warm-up and after the load.
    """
    body = json.dumps({"text": SENTENCE}).encode()
    _load(api_url, body, plan.load_clients, max(50, plan.load_requests // 20), plan.load_seconds)
    before = _rss_mb()
    stats = _load(api_url, body, plan.load_clients, plan.load_requests, plan.load_seconds)
    after = _rss_mb()
    log.info(
        "load test: %d requests, %d errors, RSS %+.1f MB", stats["requests"], stats["errors"], after - before
    )
    return {
        **stats,
        "clients": plan.load_clients,
        "max_requests": plan.load_requests,
        "max_seconds": plan.load_seconds,
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(after, 1),
        "rss_growth_mb": round(after - before, 1),
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
    texts = [" ".join(preprocess.tokenize(SENTENCE))] * 100
    results: dict[str, Any] = {"cases": []}
    logging.getLogger("classifier").setLevel(logging.WARNING)  # not one log line per benchmark request
    route = f"/endpoints/{settings.endpoint_name}/invocations"
    with start_stack(settings, ephemeral_ports=True) as stack:
        predictor = stack.endpoint.predictor
        assert predictor is not None
        bare = _bare_server(predictor)
        more = [start_endpoint(predictor, settings.endpoint_name, workers=w) for w in plan.workers if w > 1]
        try:
            top = plan.concurrency[-1:]
            targets = [("endpoint", 1, stack.endpoint.url + route, plan.concurrency)]
            targets += [("endpoint", server.workers, server.url + route, top) for server in more]
            targets.append(("bare server", 0, f"http://127.0.0.1:{bare.server_address[1]}/invocations", top))
            for name, workers, url, concurrencies in targets:
                for batch in plan.batches:
                    body = json.dumps({"instances": texts[:batch]}).encode()
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
            api_body = json.dumps({"text": SENTENCE}).encode()
            for concurrency in plan.concurrency:
                stats = _load(stack.api.url + "/classify", api_body, concurrency, plan.requests, plan.seconds)
                stats.update(
                    target="API (Lambda handler)",
                    batch=1,
                    concurrency=concurrency,
                    docs_per_second=round(stats["requests_per_second"]),
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
        results["cold_start"] = cold_start(plan)
        results["load_test"] = load_test(stack.api.url + "/classify", plan)
    return results


# --- bulk classification and sizing ---------------------------------------------------------------
def _bulk_child(settings: Settings, source: Path, output: Path) -> float:
    from ml.records import InputSpec
    from ops.local.bulk import classify

    return classify(settings, source, output, InputSpec(format="jsonl")).seconds


def bulk(settings: Settings, plan: BenchPlan) -> dict[str, Any]:
    """Docs/s of `invoke classify` (target local) on the test split's texts: client and endpoint processes."""
    from ml import pipeline
    from ops.local.endpoint import start_endpoint

    _, prepared = pipeline.prepare_data(settings)
    rows = prepared.test_rows()
    folder = settings.build_dir / "bulk"
    source = folder / "input.jsonl"
    texts = (json.dumps({"id": i, "text": rows[i % len(rows)].text}) + "\n" for i in range(plan.bulk_docs))
    write_text(source, "".join(texts))
    predictor = Predictor.from_archive(model_to_serve(settings), settings.build_dir / "endpoint-cache")
    server = start_endpoint(predictor, settings.endpoint_name)
    cases = []
    try:
        for workers in plan.bulk_workers:
            output = folder / f"output-{workers}.jsonl"
            output.unlink(missing_ok=True)
            client = settings.replace(endpoint_port=server.server_address[1], classify_workers=workers)
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                seconds = pool.apply(_bulk_child, (client, source, output))
            cases.append(
                {
                    "workers": workers,
                    "batch": client.classify_batch_size,
                    "docs": plan.bulk_docs,
                    "seconds": round(seconds, 2),
                    "docs_per_second": round(plan.bulk_docs / seconds),
                }
            )
            log.info("bulk, %d client threads: %s docs/s", workers, cases[-1]["docs_per_second"])
    finally:
        server.shutdown()
        server.server_close()
    return {"distinct_texts": min(len(rows), plan.bulk_docs), "cases": cases}


def sizing(serving: dict[str, Any], p99_ms: float = SIZING_P99_MS) -> dict[str, Any]:
    """Instances for each of SIZING_PEAKS single-text requests/s at p99 ≤ ``p99_ms``, from the best case."""
    fits = [
        c
        for c in serving.get("cases", [])
        if str(c.get("target", "")).startswith("endpoint")
        and c.get("batch") == 1
        and not c.get("errors")
        and c.get("p99_ms", math.inf) <= p99_ms
    ]
    if not fits:
        return {"p99_ms": p99_ms, "case": None, "per_instance_rps": None, "instances": {}}
    best = max(fits, key=lambda c: c["requests_per_second"])
    per_instance = best["requests_per_second"] * SIZING_HEADROOM
    return {
        "p99_ms": p99_ms,
        "case": best,
        "per_instance_rps": round(per_instance, 1),
        "instances": {str(peak): max(1, math.ceil(peak / per_instance)) for peak in SIZING_PEAKS},
    }


# --- the Lambda's own cost -------------------------------------------------------------------------
def lambda_costs(settings: Settings, smoke: bool) -> dict[str, Any]:
    """Zip size, cold import time of the handler module, and tokenize + JSON time per request."""
    zip_path = build_lambda_zip(settings.build_dir / "bench" / "lambda.zip")
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(tmp)
        code = "import time; t = time.perf_counter(); import handler; print(time.perf_counter() - t)"
        imports = []
        for _ in range(3 if smoke else 7):
            out = subprocess.run(
                [sys.executable, "-c", code],
                cwd=tmp,
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
            imports.append(float(out.stdout))
    tokenizer = lambda_src.text_tokenizer()
    body = json.dumps({"text": SENTENCE})
    n = 200 if smoke else 5000
    started = time.perf_counter()
    for _ in range(n):
        tokens = tokenizer.tokenize(json.loads(body)["text"])
        json.dumps({"instances": [" ".join(tokens)], "configuration": {"k": 3}})
    per_request = (time.perf_counter() - started) / n
    return {
        "zip_bytes": zip_path.stat().st_size,
        "cold_import_ms": round(statistics.median(imports) * 1000, 1),
        "tokenize_and_json_us": round(per_request * 1e6, 1),
    }


# --- environment -----------------------------------------------------------------------------------
def environment() -> dict[str, Any]:
    """Machine and versions, so each figure can be reproduced."""
    mem_kb = (
        next(
            (
                int(line.split()[1])
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            ),
            0,
        )
        if Path("/proc/meminfo").exists()
        else 0
    )
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB",
        "python": platform.python_version(),
        "versions": {n: metadata.version(n) for n in ("fasttext-community", "numpy", "nltk", "scikit-learn")},
        "date": time.strftime("%Y-%m-%d"),
    }


def run(settings: Settings, plan: BenchPlan, out: Path, command: str) -> dict[str, Any]:
    """Run every benchmark with ``settings`` (its build dir is used as scratch) and write ``out``."""
    bench_settings = settings.replace(build_dir=settings.build_dir / "bench", target="local")
    small = {
        "max_rows_per_class": plan.max_rows_per_class,
        "dropout_views": plan.dropout_views,
        "epochs": plan.epochs,
    }
    bench_settings = bench_settings.replace(**{k: v for k, v in small.items() if v is not None})
    bench_settings = bench_settings.replace(
        data=settings.data if settings.data != "auto" else choose_data(settings)
    )
    log.info("benchmark: quality on %s", bench_settings.data)
    results: dict[str, Any] = {
        "command": command,
        "environment": environment(),
        "quality": quality(bench_settings, plan.extra_seeds),
        "model": model_load(bench_settings, plan.model_loads),
    }
    results["serving"] = serving(bench_settings, plan)
    results["lambda"] = lambda_costs(bench_settings, plan.smoke)
    results["bulk"] = bulk(bench_settings, plan)
    results["sizing"] = sizing(results["serving"])
    results["json_name"] = out.with_suffix(".json").name
    write_json(bench_settings.build_dir / "results.json", results)
    write_json(out.with_suffix(".json"), results)
    write_text(out, render(results))
    log.info("benchmarks written to %s", out)
    return results
