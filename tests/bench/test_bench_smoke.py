"""A smoke run of `invoke bench`, so the benchmark cannot rot (its figures are not judged here)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ml.pipeline import TrainOutcome
from ops.bench.measure import BenchPlan, run
from ops.bench.serving import cold_start
from ops.local.stack import start_stack
from ops.settings import Settings
from tests.helpers import make_settings


def test_benchmark_runs_end_to_end_and_reports_every_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a tiny plan (150 rows a class of the shipped data, a small model) WHEN the benchmark runs
    settings = make_settings(tmp_path, data="sample")
    out = tmp_path / "BENCHMARKS.md"
    results = run(settings, BenchPlan.smoke_plan(), out, "invoke bench --smoke")
    # THEN every section has figures from real servers and a real model
    cases = results["serving"]["cases"]
    assert {c["target"] for c in cases} == {
        "endpoint",
        "endpoint, real texts",
        "bare server",
        "API (Lambda handler)",
    }
    assert {c["workers"] for c in cases if c["target"] == "endpoint"} == {1, 2}
    assert all(c["requests"] > 0 and c["errors"] == 0 for c in cases)
    load = results["serving"]["load_test"]
    assert load["requests"] == 200 and load["clients"] == 4 and load["errors"] == 0
    assert load["rss_after_mb"] > 0
    opened = load["open_loop"]
    assert opened["requests"] == 200 and opened["errors"] == 0 and opened["rate"] > 0
    assert results["serving"]["inprocess_real_docs_per_second"] > 0
    assert results["quality"]["report"]["baseline"]["accuracy"] > 0.5
    assert results["quality"]["peak_memory_mb"] > 0
    assert results["quality"]["pipeline_seconds"] > results["quality"]["train_seconds"] > 0
    assert 0.5 < results["quality"]["baseline_on_channel"]["test_accuracy"] <= 1
    seeds = results["quality"]["seeds"]
    assert [r["seed"] for r in seeds] == [settings.seed, 1]
    assert all(0.5 < r["test_accuracy"] <= 1 and 0.5 < r["validation_accuracy"] <= 1 for r in seeds)
    assert 0 < results["lambda"]["zip_bytes"] < 200_000
    assert results["quality"]["counts"]["train"] + results["quality"]["counts"]["validation"] < 14 * 150
    model = results["model"]
    assert 0 < model["archive_bytes"] < model["model_bytes"] and model["load_ms"] > 0
    cold = results["serving"]["cold_start"]
    assert len(cold["runs"]) == 2 and cold["warm_requests"] == 20
    for run_ in cold["runs"]:
        assert 0 < run_["init_ms"] < run_["visitor_wait_ms"] < run_["launch_to_answer_ms"]
    assert 0 < cold["warm_p50_ms"] <= cold["warm_p99_ms"]
    speed = results["speed"]
    assert speed["tokenizer"]["current"] > 0 and speed["tokenizer"]["reference"] > 0
    assert speed["inprocess"]["all_cores"] > 0 and speed["inprocess"]["one_core"] > 0
    assert [c["batch"] for c in speed["bulk"]["cases"]] == [25, settings.classify_batch_size]
    assert all(c["docs_per_second"] > 0 and c["docs"] == 60 for c in speed["bulk"]["cases"])
    assert all(0 < c["first_batch_seconds"] <= c["seconds"] for c in speed["bulk"]["cases"])
    small, whole = speed["bulk"]["cases"]  # 25 a request: 35 texts after the first batch; 1000: none
    assert small["after_first_docs_per_second"] > 0 and whole["after_first_docs_per_second"] is None
    assert results["sizing"]["p99_ms"] > 0
    text = out.read_text()
    for heading in (
        "## Model quality",
        "## Serving",
        "## Load test",
        "## The Lambda's own cost",
        "## The model's size and load time",
        "After a cold start:",
        "## Goals",
        "## Bulk classification and the tokenizer",
        "## Sizing",
        "`invoke classify` ≥ 70% of in-process tokenize + predict on all cores",
        "tokenizer ≥ 2× the one it replaced",
        "endpoint ≥ 60% of in-process predict",
        "p99 ≤ 30 ms through the API at 16 clients",
        "Open loop (requests sent on a schedule",
    ):
        assert heading in text
    assert "sample" in text and "carved from the train file" in text
    assert f"Over 2 fastText seeds ({settings.seed}, 1;" in text
    printed = capsys.readouterr().out  # the goals table, on the terminal too
    assert "## Goals" in printed and "tokenizer ≥ 2× the one it replaced" in printed
    assert "first batch on disk (s)" in text and "after its first batch, on disk at" in printed
    saved = json.loads((settings.build_dir / "bench" / "results.json").read_text())
    assert saved["serving"]["cases"] == cases


def test_the_cold_start_process_serves_more_warm_requests_than_its_log_pipe_holds(
    trained: tuple[Settings, TrainOutcome],
) -> None:
    # GIVEN the running local stack's Lambda environment, and more warm requests than the child's one log
    # line each fits in a pipe (about 1 KB a line, 64 KB a pipe): the real benchmark sends them
    with start_stack(trained[0], ephemeral_ports=True):
        # WHEN the cold start is measured  THEN every warm request is answered, none waits on a full pipe
        cold = cold_start(replace(BenchPlan.smoke_plan(), cold_starts=1, warm_requests=300))
    assert cold["warm_requests"] == 300 and len(cold["runs"]) == 1 and cold["warm_p99_ms"] > 0
