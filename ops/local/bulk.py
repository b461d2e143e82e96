"""``invoke classify``: bulk classification through the local endpoint, or a Batch Transform job (aws).

Target local: batches go through boto3's ``sagemaker-runtime`` client (the very call the Lambda makes in
AWS) to the local endpoint ``invoke up`` runs, or, when none answers, to one this run starts in-process on
a free port. Worker processes (one per core by default) each tokenize a batch, send it and turn the answer
into output lines, so tokenizing, the dominant cost, runs on every core; this process only reads the input
and appends the lines to ``OUTPUT.partial`` in input order as batches come back. Target aws: a SageMaker
Batch Transform job on the deployed model (``ml/aws/transform.py``), its lines published the same way.
Formats, provenance and resume: ``ml/records.py``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ml.config import Settings, log
from ml.fsutil import write_json
from ml.records import (
    JSONLINES,
    ClassifyError,
    InputSpec,
    Provenance,
    Record,
    Summary,
    dump_lines,
    finish,
    id_key,
    jsonlines_request,
    key_path,
    local_model,
    partial_path,
    publish,
    read_json_lines,
    result_line,
    resume,
    start,
    tokens_of,
)
from ops.local.endpoint import MODEL_HEADER

MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker's real-time payload limit (the local endpoint's too)


# --- target local -----------------------------------------------------------------------------------------
def _answers_ping(url: str) -> str | None:
    """The sha256 of the model the endpoint at ``url`` serves ("" if it does not say); None: no answer."""
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
            return str(response.headers.get(MODEL_HEADER, "")) if response.status == 200 else None
    except (urllib.error.URLError, OSError):
        return None


def served_model(settings: Settings) -> str:
    """The model that will answer: the one the running local endpoint names, else the deployed one."""
    named = _answers_ping(settings.runtime_url())
    return named or local_model(settings.endpoint_registry, settings.endpoint_name)


@contextmanager
def local_endpoint(settings: Settings) -> Iterator[str]:
    """The runtime URL to send to: the running local endpoint, else one served in-process for the run."""
    url = settings.runtime_url()
    if _answers_ping(url) is not None:
        log.info("classifying with the local endpoint at %s", url)
        yield url
        return
    from ml.predict import Predictor
    from ops.local.endpoint import start_endpoint
    from ops.local.stack import model_to_serve

    archive = model_to_serve(settings)
    predictor = Predictor.from_archive(archive, settings.build_dir / "endpoint-cache")
    server = start_endpoint(predictor, settings.endpoint_name, settings.host, 0, settings.endpoint_workers)
    log.info("no endpoint answers at %s: serving %s from this process for the run", url, archive)
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()


def runtime_client(url: str, settings: Settings) -> Any:
    """boto3's SageMaker runtime client on ``url``, with placeholder credentials (the endpoint is local)."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=10,
        retries={"mode": "standard", "max_attempts": 3},
    )
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name=settings.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=config,
    )


def invoke(client: Any, endpoint: str, instances: list[str], k: int) -> list[dict[str, Any]]:
    """BlazingText predictions for ``instances``; a body over the 6 MB limit is sent in halves.

    The request is the JSON Lines a Batch Transform job sends (``ml.records.jsonlines_request``), so the
    local endpoint answers the very format ``--target aws`` relies on.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    body = jsonlines_request(instances, k)
    if len(body) > MAX_BODY_BYTES:
        if len(instances) == 1:
            raise ClassifyError(f"a text is over the endpoint's {MAX_BODY_BYTES:,}-byte request limit")
        half = len(instances) // 2
        return invoke(client, endpoint, instances[:half], k) + invoke(client, endpoint, instances[half:], k)
    try:
        response = client.invoke_endpoint(
            EndpointName=endpoint, ContentType=JSONLINES, Accept=JSONLINES, Body=body
        )
        answer = read_json_lines(response["Body"].read().decode("utf-8"))
    except ClientError as exc:
        raise ClassifyError(f"endpoint {endpoint} refused a batch: {exc}") from None
    except (BotoCoreError, UnicodeDecodeError, ValueError) as exc:
        raise ClassifyError(f"endpoint {endpoint} failed: {exc}") from None
    if not isinstance(answer, list) or len(answer) != len(instances):
        raise ClassifyError(f"endpoint {endpoint} answered {answer!r:.200} for {len(instances)} texts")
    return answer


def classify_batch(client: Any, endpoint: str, batch: list[Record], k: int) -> list[dict[str, Any]]:
    """Tokenize a batch, send the texts that have words, and return one output line per record."""
    tokens = [tokens_of(r.text) for r in batch]
    answer = iter(invoke(client, endpoint, [t for t in tokens if t], k) if any(tokens) else [])
    return [result_line(r.id, next(answer) if t else None) for r, t in zip(batch, tokens, strict=True)]


def worker_count(settings: Settings) -> int:
    """Worker processes for a run: ``classify_workers``, or one per core when it is 0."""
    return settings.classify_workers or os.cpu_count() or 1


# One runtime client per worker process, made by _start_worker: (client, endpoint name, k).
_WORKER: tuple[Any, str, int] | None = None


def _start_worker(url: str, settings: Settings) -> None:
    global _WORKER
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops us
    _WORKER = (runtime_client(url, settings), settings.endpoint_name, settings.top_k)


def _classify_in_worker(batch: list[Record]) -> tuple[int, str]:
    """In a worker process: a batch's output lines, as the text appended to the output file."""
    assert _WORKER is not None, "the worker process was not started by _start_worker"
    client, endpoint, k = _WORKER
    return len(batch), dump_lines(classify_batch(client, endpoint, batch, k))


def classify_local(
    settings: Settings,
    records: list[Record],
    output: Path,
    provenance: Provenance,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Classify ``records`` through the local endpoint into ``output``; return (classified, resumed).

    ``on_batch`` is called with the number of batches written so far, after each one is on disk.
    Workers come from a fork server that has imported this module: no thread of this process (the
    in-process endpoint's, say) is forked, and a worker starts in milliseconds, not seconds.
    """
    partial = partial_path(output)
    size = settings.classify_batch_size
    with local_endpoint(settings) as url:
        done = resume(partial, provenance)
        write_json(key_path(partial), asdict(provenance))
        pending = [r for r in records if id_key(r.id) not in done]
        batches = [pending[i : i + size] for i in range(0, len(pending), size)]
        workers = min(worker_count(settings), max(1, len(batches)))
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        pool = ProcessPoolExecutor(workers, context, _start_worker, (url, settings))
        try:
            with (
                partial.open("a", encoding="utf-8") as out,
                tqdm(total=len(records), initial=len(done), unit="text", desc=output.name) as bar,
            ):
                # in submission order: the file stays in input order
                for written, (count, lines) in enumerate(pool.map(_classify_in_worker, batches), start=1):
                    out.write(lines)
                    out.flush()
                    bar.update(count)
                    if on_batch:
                        on_batch(written)
                os.fsync(out.fileno())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    finish(output, provenance)
    return len(pending), len(done)


# --- both targets -----------------------------------------------------------------------------------------
def classify(
    settings: Settings,
    source: Path,
    output: Path,
    spec: InputSpec,
    on_batch: Callable[[int], None] | None = None,
    force: bool = False,
) -> Summary:
    """Classify every text of ``source`` into ``output`` on ``settings.target``; see ``ml/records.py``.

    ``force`` classifies again and replaces ``output`` whatever made it (a partial run of the same
    provenance is still resumed: its lines are the ones a fresh run writes).

    Raises:
        ClassifyError: unreadable input, an output that is refused, or the endpoint failed.
        SageMakerError: target aws, an AWS call or the transform job failed.
    """
    started = time.perf_counter()
    if settings.target == "aws":
        from ml.aws.transform import endpoint_model, transform

        def model() -> str:
            return endpoint_model(settings)
    else:

        def model() -> str:
            return served_model(settings)

    records, provenance, done = start(source, output, spec, settings.top_k, model, force)
    if done:
        return Summary(output, len(records), 0, 0, 0.0, up_to_date=True)
    if settings.target == "aws":
        publish(output, provenance, transform(settings, records, provenance.model))
        classified, resumed = len(records), 0
    else:
        classified, resumed = classify_local(settings, records, output, provenance, on_batch)
    seconds = time.perf_counter() - started
    log.info("classified %d texts into %s in %.1f s", classified, output, seconds)
    return Summary(output, len(records), classified, resumed, seconds, up_to_date=False)
