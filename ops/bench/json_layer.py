"""CPU a text of bulk classification's JSON layer, in BlazingText's two formats, on real texts.

``python -m ops.bench.json_layer [TEXTS]`` tokenizes TEXTS (default 5,000) of the dataset's train rows in
batches of ``classify_batch_size`` and times, with ``time.process_time`` in one thread, each step a batch
takes on both sides of the endpoint: building the request, the endpoint's parse, predict and answer, and
the client's parse of the answer, for JSON Lines (a Batch Transform job's format) and for JSON (what
`invoke classify --target local` sends). Tokenize and predict are timed too, as the scale. CPU time, not
wall time, so a busy machine changes the figures less; the load average is printed beside them.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from ml.lambda_src import contract, tokens_of
from ml.predict import Predictor
from ops.bench.speed import real_texts
from ops.local.endpoint import parse_jsonlines_request, parse_request, predict_lines
from ops.local.stack import model_to_serve
from ops.settings import Settings, load_settings


def _cpu_us(step: Callable[[Any], Any], batches: list[Any], texts: int) -> tuple[float, list[Any]]:
    """(µs of CPU a text, the outputs) of ``step`` over ``batches``."""
    started = time.process_time()
    outputs = [step(batch) for batch in batches]
    return (time.process_time() - started) / texts * 1e6, outputs


def measure(settings: Settings, texts: int) -> dict[str, float]:
    """µs of CPU a text of each step, and whether both formats gave the same predictions."""
    sample = real_texts(settings, texts)
    size = settings.classify_batch_size
    predictor = Predictor.from_archive(model_to_serve(settings), settings.build_dir / "endpoint-cache")
    n, k = len(predictor.labels), settings.top_k
    out: dict[str, float] = {}
    raw = [sample[i : i + size] for i in range(0, len(sample), size)]
    out["tokenize"], batches = _cpu_us(lambda b: [tokens_of(t) for t in b], raw, texts)
    out["predict"], _ = _cpu_us(lambda b: predictor.predict(b, k), batches, texts)
    # JSON Lines
    out["jsonl request"], bodies = _cpu_us(lambda b: contract.jsonlines_request(b, k), batches, texts)
    out["jsonl endpoint parse"], lines = _cpu_us(
        lambda b: parse_jsonlines_request(b, contract.JSONLINES, n), bodies, texts
    )
    out["jsonl endpoint predict"], answers = _cpu_us(lambda b: predict_lines(predictor, b), lines, texts)
    out["jsonl endpoint answer"], bodies = _cpu_us(
        lambda b: contract.dump_json_lines(b).encode(), answers, texts
    )
    out["jsonl client parse"], from_jsonl = _cpu_us(
        lambda b: contract.read_json_lines(b.decode("utf-8")), bodies, texts
    )
    # JSON
    out["json request"], bodies = _cpu_us(lambda b: contract.json_request(b, k).encode(), batches, texts)
    out["json endpoint parse"], requests = _cpu_us(
        lambda b: parse_request(b, contract.JSON, n), bodies, texts
    )
    out["json endpoint predict"], answers = _cpu_us(lambda r: predictor.predict(*r), requests, texts)
    out["json endpoint answer"], bodies = _cpu_us(lambda b: json.dumps(b).encode(), answers, texts)
    out["json client parse"], from_json = _cpu_us(json.loads, bodies, texts)
    out["same predictions"] = float(from_json == from_jsonl)
    return out


def main(argv: list[str]) -> int:
    texts = int(argv[0]) if argv else 5_000
    before = os.getloadavg()[0]
    figures = measure(load_settings(), texts)
    for name, value in figures.items():
        print(f"{name:24s} {value:8.1f}" + ("" if name == "same predictions" else " µs a text"))
    layer = {
        fmt: sum(v for name, v in figures.items() if name.startswith(fmt + " ") and "predict" not in name)
        for fmt in ("jsonl", "json")
    }
    print(
        f"JSON layer: JSON Lines {layer['jsonl']:.1f}, JSON {layer['json']:.1f} µs a text "
        f"(load average {before:.1f} before, {os.getloadavg()[0]:.1f} after)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
