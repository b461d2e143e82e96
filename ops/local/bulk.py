"""``invoke classify --target local``: bulk classification through the local endpoint.

Batches go through boto3's ``sagemaker-runtime`` client (the very call the Lambda makes in
AWS) to the local endpoint ``invoke up`` runs, or, when none answers, to one this run starts in-process on
a free port. Worker processes (one per core by default) tokenize the batches, so tokenizing, the dominant
cost, runs on every core; threads of this process send each tokenized batch and turn the answer into
lines, appended to ``OUTPUT.partial`` in input order as batches come back. With ``--explain`` each text
with words is one request of its own, the Lambda's leave-one-word-out instances (``lambda/explain.py``),
and its line gains the Lambda's ``explanation``, ``explainedWords`` and ``instances``. Formats:
``ml/records.py``; provenance and resume: ``ml/results.py``; target aws: ``ml/aws/transform.py``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ml.bulk import classify_file, explain_instances, explained_line
from ml.config import log
from ml.deploy import live_entry
from ml.fsutil import write_json
from ml.lambda_src import contract
from ml.package import MANIFEST
from ml.page import label_count
from ml.records import ClassifyError, InputSpec, Record, id_key
from ml.results import (
    Provenance,
    Summary,
    finish,
    key_path,
    partial_path,
    result_line,
    resume,
)
from ops.local import bulk_worker
from ops.local.endpoint import MAX_BODY_BYTES, MODEL_HEADER
from ops.settings import Settings

SENDERS = 2  # threads sending batches: one can wait on the endpoint while the other reads its answer


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
    if named:
        return named
    entry = live_entry(settings)  # `invoke up` and the in-process fallback serve it, checked when loaded
    if not entry or not entry.get("sha256"):
        raise ClassifyError(
            f"nothing is deployed to the local endpoint {settings.endpoint_name!r} "
            f"({settings.endpoint_registry}): run `invoke train` first"
        )
    return str(entry["sha256"])


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
        max_pool_connections=SENDERS,
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

    The request is BlazingText's JSON format (``contract.json_request``, the Lambda's): one JSON document
    each way is parsed and written in one C call, where JSON Lines (a Batch Transform job's format, which
    the endpoint also serves) takes one call a line on both sides (docs/bulk.md has the measurement).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    body = contract.json_request(instances, k).encode()
    if len(body) > MAX_BODY_BYTES:
        if len(instances) == 1:
            raise ClassifyError(f"a text is over the endpoint's {MAX_BODY_BYTES:,}-byte request limit")
        half = len(instances) // 2
        return invoke(client, endpoint, instances[:half], k) + invoke(client, endpoint, instances[half:], k)
    try:
        response = client.invoke_endpoint(
            EndpointName=endpoint, ContentType=contract.JSON, Accept=contract.JSON, Body=body
        )
        answer = json.loads(response["Body"].read())
    except ClientError as exc:
        raise ClassifyError(f"endpoint {endpoint} refused a batch: {exc}") from None
    except (BotoCoreError, ValueError) as exc:  # ValueError: also a body that is not UTF-8
        raise ClassifyError(f"endpoint {endpoint} failed: {exc}") from None
    if not isinstance(answer, list) or len(answer) != len(instances):
        raise ClassifyError(f"endpoint {endpoint} answered {answer!r:.200} for {len(instances)} texts")
    return answer


def send_batch(
    client: Any, endpoint: str, batch: list[Record], tokens: list[str], k: int
) -> list[dict[str, Any]]:
    """Send a tokenized batch's texts that have words; return one output line per record."""
    answer = iter(invoke(client, endpoint, [t for t in tokens if t], k) if any(tokens) else [])
    return [result_line(r.id, next(answer) if t else None) for r, t in zip(batch, tokens, strict=True)]


def send_explained(
    client: Any, endpoint: str, batch: list[Record], tokens: list[str], k: int, n_labels: int, max_words: int
) -> list[dict[str, Any]]:
    """Like :func:`send_batch`, each text with words explained as the Lambda explains it: one request of
    the text and its leave-one-word-out variants, every label asked (``n_labels``), the top ``k`` kept."""
    lines = []
    for record, text in zip(batch, tokens, strict=True):
        if not text:
            lines.append(result_line(record.id, None))
            continue
        answers = invoke(client, endpoint, explain_instances(text, max_words), n_labels)
        lines.append(explained_line(record.id, text, answers, k))
    return lines


def worker_count(settings: Settings) -> int:
    """Tokenizing processes for a run: ``classify_workers``, or one per core when it is 0."""
    return settings.classify_workers or os.cpu_count() or 1


def classify_local(
    settings: Settings,
    records: list[Record],
    output: Path,
    provenance: Provenance,
    on_batch: Callable[[int], None] | None = None,
    n_labels: int = 0,
) -> tuple[int, int]:
    """Classify ``records`` through the local endpoint into ``output``; return (classified, resumed).

    With ``provenance.explain_words``, each text is explained too (``n_labels``: the model's labels).

    A pipeline: worker processes tokenize the batches (the dominant cost, on every core), SENDERS threads
    send each tokenized batch and turn the answer into lines, and this thread writes them in input
    order. ``on_batch`` is called with the number of batches written so far, after each one is on disk.
    Workers come from a fork server that has imported only ``ops/local/bulk_worker.py``: no thread of this
    process (the in-process endpoint's, say) is forked, and they start in a fraction of a second.
    """
    partial = partial_path(output)
    size = settings.classify_batch_size
    with local_endpoint(settings) as url:
        done = resume(partial, provenance)
        write_json(key_path(partial), asdict(provenance))
        pending = [r for r in records if id_key(r.id) not in done] if done else records
        batches = [pending[i : i + size] for i in range(0, len(pending), size)]
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([bulk_worker.__name__])
        workers = min(worker_count(settings), max(1, len(batches)))
        tokenizers = ProcessPoolExecutor(workers, context, bulk_worker.ignore_interrupt)
        senders = ThreadPoolExecutor(SENDERS, thread_name_prefix="classify")
        inflight: deque[Future[list[dict[str, Any]]]] = deque()
        try:
            # the workers start tokenizing now, while this process imports boto3 and makes its client
            tokenized = tokenizers.map(bulk_worker.tokenize_batch, [[r.text for r in b] for b in batches])
            client = runtime_client(url, settings)
            with (
                partial.open("a", encoding="utf-8") as out,
                tqdm(total=len(records), initial=len(done), unit="text", desc=output.name) as bar,
            ):
                written = 0

                def write_next() -> None:
                    nonlocal written
                    lines = inflight.popleft().result()  # in submission order: the file stays in input order
                    out.write(contract.dump_json_lines(lines))
                    out.flush()
                    bar.update(len(lines))
                    written += 1
                    if on_batch:
                        on_batch(written)

                explaining = (n_labels, provenance.explain_words) if provenance.explain_words else ()
                sender = send_explained if explaining else send_batch
                for batch, tokens in zip(batches, tokenized, strict=True):
                    name, k = settings.endpoint_name, settings.top_k
                    send = senders.submit(sender, client, name, batch, tokens, k, *explaining)
                    inflight.append(send)
                    while len(inflight) > 2 * SENDERS or (inflight and inflight[0].done()):
                        write_next()
                while inflight:
                    write_next()
                os.fsync(out.fileno())
        finally:
            senders.shutdown(wait=True, cancel_futures=True)
            tokenizers.shutdown(wait=True, cancel_futures=True)
    finish(output, provenance)
    return len(pending), len(done)


def classify(
    settings: Settings,
    source: Path,
    output: Path,
    spec: InputSpec,
    on_batch: Callable[[int], None] | None = None,
    force: bool = False,
    explain: bool = False,
) -> Summary:
    """Classify every text of ``source`` into ``output`` through the local endpoint (ml/bulk.py says how);
    ``explain``: with the words behind each answer, at most ``explain_max_words`` of each text's first.

    Raises:
        ClassifyError: unreadable input, an output that is refused, a ``k`` above the deployed model's
            labels, ``explain`` without the deployed version's manifest, or the endpoint failed.
    """
    entry = live_entry(settings) or {}
    n_labels = 0
    if entry.get("model_archive") and Path(entry["model_archive"]).with_name(MANIFEST).is_file():
        n_labels = label_count(Path(entry["model_archive"]).parent)
        if settings.top_k > n_labels:
            raise ClassifyError(
                f"-k {settings.top_k}: must be at most {n_labels}, the deployed model's labels"
            )
    if explain and not n_labels:
        raise ClassifyError("--explain needs the deployed version's labels: run `invoke train` first")
    return classify_file(
        source,
        output,
        spec,
        settings.top_k,
        lambda: served_model(settings),
        lambda records, provenance: classify_local(settings, records, output, provenance, on_batch, n_labels),
        force,
        settings.explain_max_words if explain else 0,
    )
