"""Issue 29's speed goals, measured on the same real texts in one run: the tokenizer against the one it
replaced, in-process tokenize + predict (one core, and all cores: the machine's bound), and `invoke classify`
at several batch sizes against it.

Every figure is the median of ``repeats`` runs: the machine may be shared, and one run can be unlucky.
The all-cores bound runs one process per core, each with the model loaded, on batches of the texts; its
clock starts once every process is ready, so it is pure tokenize + predict work. `invoke classify` is
timed as it reports its own rate: from reading the input to the renamed output, its worker processes'
start included, in a process of its own beside one endpoint process.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from ml import data
from ml.config import log
from ml.fsutil import write_text
from ml.lambda_src import text_tokenizer as tokenizer
from ml.package import unpack
from ml.predict import Predictor
from ops.bench import reference_tokenizer
from ops.local.stack import model_to_serve
from ops.settings import Settings

INPROCESS_BATCH = 100  # texts a predict call in the in-process bound, as the endpoint gets them
TOKENIZER_TEXTS = 4_000  # the reference tokenizer is slow: this many texts (at most a fifth) give its rate


def real_texts(settings: Settings, n: int) -> list[str]:
    """``n`` texts (title + content) of the dataset's train file (DBPedia's or your own), cycled when it
    holds fewer."""
    dataset = data.resolve_dataset(settings)
    if dataset.own is not None:
        rows = [data.Row(*row) for row in dataset.own.train_rows(settings.max_rows_per_class, settings.seed)]
    else:
        rows = data.read_rows(dataset.train_csv)
    return [rows[i % len(rows)].text for i in range(n)]


def _median_rate(run: Callable[[], object], docs: int, repeats: int) -> int:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - started)
    return round(docs / statistics.median(seconds))


def _tokenize_all(tokenize: Callable[[str], list[str]], texts: list[str]) -> None:
    for text in texts:
        tokenize(text)


def tokenizer_rates(texts: list[str], repeats: int) -> dict[str, Any]:
    """Docs/s of the reference tokenizer and of the Lambda's, one core, on the same texts."""
    rates = {}
    for name, tokenize in (("reference", reference_tokenizer.tokenize), ("current", tokenizer().tokenize)):
        rates[name] = _median_rate(partial(_tokenize_all, tokenize, texts), len(texts), repeats)
    return {**rates, "texts": len(texts), "speedup": round(rates["current"] / rates["reference"], 2)}


_MODEL: Any = None  # the fastText model of an in-process worker


def _load_model(model_bin: str) -> None:
    global _MODEL
    import fasttext

    _MODEL = fasttext.load_model(model_bin)


def _tokenize_and_predict(texts: list[str], k: int) -> int:
    tokenize = tokenizer().tokenize
    _MODEL.predict([" ".join(tokenize(t)) for t in texts], k=k)
    return len(texts)


def inprocess_rates(settings: Settings, texts: list[str], repeats: int) -> dict[str, Any]:
    """Tokenize + predict without HTTP: in this process (one core), and one process per core."""
    model_bin = unpack(model_to_serve(settings), settings.build_dir / "endpoint-cache")
    k = settings.top_k
    batches = [texts[i : i + INPROCESS_BATCH] for i in range(0, len(texts), INPROCESS_BATCH)]
    _load_model(str(model_bin))
    one = _median_rate(lambda: [_tokenize_and_predict(b, k) for b in batches], len(texts), repeats)
    cores = os.cpu_count() or 1
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(cores, ctx, _load_model, (str(model_bin),)) as pool:
        list(pool.map(_tokenize_and_predict, batches, [k] * len(batches)))  # every process up and warm
        every = _median_rate(
            lambda: list(pool.map(_tokenize_and_predict, batches, [k] * len(batches))), len(texts), repeats
        )
    return {"batch": INPROCESS_BATCH, "k": k, "one_core": one, "all_cores": every, "cores": cores}


def _bulk_child(settings: Settings, source: Path, output: Path) -> tuple[float, float]:
    """(seconds `invoke classify` reports, seconds from its start to its first batch on disk)."""
    from ml.records import InputSpec
    from ops.local.bulk import classify

    started, first = time.perf_counter(), []

    def on_batch(written: int) -> None:
        if written == 1:
            first.append(time.perf_counter() - started)

    seconds = classify(settings, source, output, InputSpec(format="jsonl"), on_batch).seconds
    return seconds, first[0]


def bulk(settings: Settings, texts: list[str], batches: tuple[int, ...], repeats: int) -> dict[str, Any]:
    """Docs/s of `invoke classify` (target local) on ``texts``, at each batch size and the default one,
    beside one endpoint process (this one); the client runs in a process of its own with its default
    worker processes. Besides the whole run: its start-up (reading and hashing the input, starting the
    workers, boto3's import: until the first batch is on disk) and its rate after it."""
    from ops.local.bulk import worker_count
    from ops.local.endpoint import start_endpoint

    folder = settings.build_dir / "bulk"
    source = folder / "input.jsonl"
    write_text(source, "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    predictor = Predictor.from_archive(model_to_serve(settings), settings.build_dir / "endpoint-cache")
    server = start_endpoint(predictor, settings.endpoint_name)
    cases = []
    try:
        for batch in sorted({*batches, settings.classify_batch_size}):
            client = settings.replace(endpoint_port=server.server_address[1], classify_batch_size=batch)
            runs = []
            for run in range(repeats):
                output = folder / f"output-{batch}-{run}.jsonl"
                output.unlink(missing_ok=True)
                # a process of its own, not a daemon: classify starts worker processes
                with ProcessPoolExecutor(1, multiprocessing.get_context("spawn")) as pool:
                    runs.append(pool.submit(_bulk_child, client, source, output).result())
            seconds = statistics.median(r for r, _ in runs)
            first = statistics.median(f for _, f in runs)
            rest = len(texts) - min(batch, len(texts))
            cases.append(
                {
                    "batch": batch,
                    "workers": worker_count(client),
                    "docs": len(texts),
                    "seconds": round(seconds, 2),
                    "runs": [round(r, 2) for r, _ in runs],
                    "docs_per_second": round(len(texts) / seconds),
                    "first_batch_seconds": round(first, 2),
                    "after_first_docs_per_second": round(rest / (seconds - first)) if rest else None,
                    "default": batch == settings.classify_batch_size,
                }
            )
            log.info("bulk, batches of %d: %s docs/s", batch, cases[-1]["docs_per_second"])
    finally:
        server.shutdown()
        server.server_close()
    return {"distinct_texts": len(set(texts)), "cases": cases}


def speed(settings: Settings, texts: int, bulk_batches: tuple[int, ...], repeats: int) -> dict[str, Any]:
    """Every figure of the speed goals, on the same ``texts`` real texts."""
    sample = real_texts(settings, texts)
    results = {
        "texts": len(sample),
        "repeats": repeats,
        "tokenizer": tokenizer_rates(sample[: max(1, min(len(sample) // 5, TOKENIZER_TEXTS))], repeats),
        "inprocess": inprocess_rates(settings, sample, repeats),
        "bulk": bulk(settings, sample, bulk_batches, repeats),
    }
    log.info("speed: %s", {k: v for k, v in results.items() if k != "bulk"})
    return results
