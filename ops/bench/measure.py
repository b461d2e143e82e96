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

import json
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
import time
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

from ml import data, deploy, lambda_src
from ml.config import ROOT, log
from ml.fsutil import write_json, write_text
from ml.package import unpack
from ops.bench.plan import BenchPlan
from ops.bench.report import (
    SIZING_HEADROOM,
    SIZING_P99_MS,
    SIZING_PEAKS,
    render,
    render_goals,
)
from ops.bench.serving import SENTENCE, serving
from ops.bench.speed import speed
from ops.bench.sweep import baseline_run, seed_runs
from ops.infra.lambda_zip import build_lambda_zip
from ops.local.stack import model_to_serve
from ops.settings import Settings

SHARED_DATA = ROOT.parent / "shared" / "data" / "dbpedia"


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


# --- sizing ----------------------------------------------------------------------------------------
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
        lambda_src.contract.json_request([" ".join(tokens)], 3)
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
        "load_average": round(os.getloadavg()[0], 1),  # another load on the machine shows here
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
    results["speed"] = speed(bench_settings, plan.speed_texts, plan.bulk_batches, plan.speed_repeats)
    results["sizing"] = sizing(results["serving"])
    results["json_name"] = out.with_suffix(".json").name
    results["environment"]["load_average_end"] = round(os.getloadavg()[0], 1)
    write_json(bench_settings.build_dir / "results.json", results)
    write_json(out.with_suffix(".json"), results)
    write_text(out, render(results))
    print("\n".join(render_goals(results)))  # each goal with its figure, met or not
    log.info("benchmarks written to %s", out)
    return results
