"""Bulk classification (``invoke classify INPUT OUTPUT``): a file of texts in, one JSON line per text out.

Input, by ``--format`` (``auto`` picks by name and first row):

- ``jsonl``: one object a line (``.jsonl``, ``.ndjson``, ``.json``); text under ``text`` and id under ``id``
  (or the keys ``--text-column`` / ``--id-column`` name), else the line number;
- ``csv`` with a header row: text from ``--text-column``, else ``text``, else ``title`` + ``content``
  joined as training joins them; id from ``--id-column``, else ``id``, else the 1-based row number;
- ``dbpedia``: the dataset's own headerless ``class,title,content`` CSV (auto: a first row of three fields
  whose first is a class index 1..14); id is the row number.

Output, one line per input text and in input order: ``{"id", "label", "probability", "top": [{"label",
"probability"}, …]}``; a text with no word to classify gets ``"label": null`` and an ``error``. Every text
is tokenized by the Lambda's own tokenizer (``lambda/text_tokenizer.py``).

Target local: batches go through boto3's ``sagemaker-runtime`` client (the very call the Lambda makes in
AWS) to the local endpoint ``invoke up`` runs, or, when none answers, to one this run starts in-process on
a free port. Several threads send batches; lines are appended to ``OUTPUT.partial`` in input order as
batches come back, and the finished file is renamed to ``OUTPUT``. A run that stops early (Ctrl-C, crash)
resumes: the next run keeps the partial file's complete lines and classifies the other ids. When
``OUTPUT`` already holds the input's ids in order, nothing is done. Target aws: a SageMaker Batch
Transform job on the deployed model (``ml/sagemaker_transform.py``).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ml.config import Settings, log
from ml.data import N_CLASSES, DataError, read_rows
from ml.deploy import read_registry
from ml.fsutil import write_text
from ml.lambda_src import handler, text_tokenizer

FORMATS = ("auto", "jsonl", "csv", "dbpedia")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
NO_WORDS = "the text has no words to classify"
MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker's real-time payload limit (ml.serve's, without loading fastText)


class ClassifyError(RuntimeError):
    """The input cannot be read or the endpoint failed; the message says where and why."""


@dataclass(frozen=True)
class Record:
    """One text to classify and the id its output line carries."""

    id: str | int
    text: str


@dataclass(frozen=True)
class InputSpec:
    """How to read the input file (see the module docstring)."""

    format: str = "auto"
    text_column: str | None = None
    id_column: str | None = None


@dataclass(frozen=True)
class Summary:
    """What a run did."""

    output: Path
    total: int  # lines in OUTPUT
    classified: int  # texts classified by this run
    resumed: int  # lines kept from an interrupted run
    seconds: float
    up_to_date: bool  # OUTPUT was already complete: nothing was done


# --- input ------------------------------------------------------------------------------------------------
def id_key(value: Any) -> str:
    """A record id as a comparable string (``7`` and ``"7"`` stay different)."""
    return json.dumps(value, ensure_ascii=False)


def detect_format(path: Path) -> str:
    """``jsonl`` by file name; ``dbpedia`` when the first row is ``<class 1..14>,title,content``; else csv."""
    if path.suffix.lower() in JSONL_SUFFIXES:
        return "jsonl"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        first = next(csv.reader(fh), [])
    cls = first[0].strip() if first else ""
    if len(first) == 3 and cls.isascii() and cls.isdigit() and 1 <= int(cls) <= N_CLASSES:
        return "dbpedia"
    return "csv"


def _read_jsonl(path: Path, spec: InputSpec) -> list[Record]:
    text_key, id_name = spec.text_column or "text", spec.id_column or "id"
    records = []
    with path.open(encoding="utf-8-sig") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ClassifyError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(item, dict):
                raise ClassifyError(f'{path}:{number}: expected an object like {{"id": …, "text": "…"}}')
            text = item.get(text_key)
            if not isinstance(text, str):
                raise ClassifyError(
                    f"{path}:{number}: no {text_key!r} string (name the key with --text-column)"
                )
            if id_name in item:
                rid = item[id_name]
                if isinstance(rid, bool) or not isinstance(rid, str | int):
                    raise ClassifyError(f"{path}:{number}: the id {rid!r} is not a string or an integer")
            elif spec.id_column:
                raise ClassifyError(f"{path}:{number}: no {id_name!r} key (--id-column)")
            else:
                rid = number
            records.append(Record(rid, text))
    return records


def _text_columns(path: Path, columns: list[str], spec: InputSpec) -> list[str]:
    if spec.text_column:
        if spec.text_column not in columns:
            raise ClassifyError(f"{path} has no column {spec.text_column!r} (columns: {', '.join(columns)})")
        return [spec.text_column]
    if "text" in columns:
        return ["text"]
    if "content" in columns:
        return ["title", "content"] if "title" in columns else ["content"]
    raise ClassifyError(
        f"{path} has no text column (columns: {', '.join(columns) or 'none'}); name it with --text-column"
    )


def _read_csv(path: Path, spec: InputSpec) -> list[Record]:
    records = []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        columns = [c for c in reader.fieldnames or [] if c is not None]
        text_columns = _text_columns(path, columns, spec)
        id_column = spec.id_column or ("id" if "id" in columns else None)
        if id_column and id_column not in columns:
            raise ClassifyError(f"{path} has no column {id_column!r} (columns: {', '.join(columns)})")
        for number, row in enumerate(reader, start=1):
            values = [row.get(c) for c in text_columns]
            rid = row.get(id_column) if id_column else number
            if any(v is None for v in values) or rid is None:
                raise ClassifyError(f"{path}:{reader.line_num}: the row has fewer fields than the header")
            if rid == "":
                raise ClassifyError(f"{path}:{reader.line_num}: the id column {id_column!r} is empty")
            # title and content are joined as training joins them (ml.data.Row.text)
            text = " ".join(v.strip() for v in values) if len(values) > 1 else values[0]
            records.append(Record(rid, text))
    return records


def _read_dbpedia(path: Path) -> list[Record]:
    try:
        rows = read_rows(path)
    except DataError as exc:
        raise ClassifyError(str(exc)) from None
    return [Record(number, row.text) for number, row in enumerate(rows, start=1)]


def read_input(path: Path, spec: InputSpec) -> list[Record]:
    """The records of ``path``; ClassifyError names the file, the line and what is wrong."""
    if spec.format not in FORMATS:
        raise ClassifyError(f"--format must be one of {', '.join(FORMATS)}, not {spec.format!r}")
    if not path.is_file():
        raise ClassifyError(f"input file {path} does not exist")
    try:
        fmt = detect_format(path) if spec.format == "auto" else spec.format
        if fmt == "jsonl":
            records = _read_jsonl(path, spec)
        elif fmt == "dbpedia":
            records = _read_dbpedia(path)
        else:
            records = _read_csv(path, spec)
    except UnicodeDecodeError:
        raise ClassifyError(f"{path} is not UTF-8 text") from None
    except csv.Error as exc:
        raise ClassifyError(f"{path} is not a readable CSV file ({exc})") from None
    if not records:
        raise ClassifyError(f"{path} holds no texts")
    seen: set[str] = set()
    for record in records:
        key = id_key(record.id)
        if key in seen:
            raise ClassifyError(f"{path}: the id {record.id!r} appears twice; ids must be unique")
        seen.add(key)
    log.info("read %d texts from %s (%s)", len(records), path, fmt)
    return records


# --- output -----------------------------------------------------------------------------------------------
def tokens_of(text: str) -> str:
    """The instance the endpoint receives: the Lambda tokenizer's tokens, space-separated."""
    return " ".join(text_tokenizer().tokenize(text))


def result_line(record_id: str | int, prediction: dict[str, Any] | None) -> dict[str, Any]:
    """One output line from a BlazingText prediction ``{"label": [...], "prob": [...]}`` (None: no words).

    Labels and probabilities are read exactly as the Lambda reads them (``validate_answer``).
    """
    if prediction is None:
        return {"id": record_id, "label": None, "probability": None, "top": [], "error": NO_WORDS}
    lambda_handler = handler()
    try:
        top = lambda_handler.validate_answer([prediction])
    except lambda_handler.HttpError as exc:
        raise ClassifyError(f"unreadable prediction for id {record_id!r}: {exc.message}") from None
    return {"id": record_id, "label": top[0]["label"], "probability": top[0]["probability"], "top": top}


def dump_lines(lines: list[dict[str, Any]]) -> str:
    """JSON lines, one per result."""
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def output_ids(path: Path) -> list[str] | None:
    """The id keys of a complete output file in order; None when the file is missing or damaged."""
    try:
        with path.open(encoding="utf-8") as fh:
            return [id_key(json.loads(line)["id"]) for line in fh]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        return None


def is_complete(output: Path, records: list[Record]) -> bool:
    """True when ``output`` has one line per record, with the records' ids in input order."""
    return output_ids(output) == [id_key(r.id) for r in records]


# --- target local -----------------------------------------------------------------------------------------
def _answers_ping(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def local_endpoint(settings: Settings) -> Iterator[str]:
    """The runtime URL to send to: the running local endpoint, else one served in-process for the run."""
    url = settings.runtime_url()
    if _answers_ping(url):
        log.info("classifying with the local endpoint at %s", url)
        yield url
        return
    from ml.predict import Predictor
    from ml.serve import start_endpoint
    from ops.stack import model_to_serve

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
        max_pool_connections=max(10, settings.classify_workers),
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
    """BlazingText predictions for ``instances``; a body over the 6 MB limit is sent in halves."""
    from botocore.exceptions import BotoCoreError, ClientError

    body = json.dumps({"instances": instances, "configuration": {"k": k}}).encode()
    if len(body) > MAX_BODY_BYTES:
        if len(instances) == 1:
            raise ClassifyError(f"a text is over the endpoint's {MAX_BODY_BYTES:,}-byte request limit")
        half = len(instances) // 2
        return invoke(client, endpoint, instances[:half], k) + invoke(client, endpoint, instances[half:], k)
    try:
        response = client.invoke_endpoint(
            EndpointName=endpoint, ContentType="application/json", Accept="application/json", Body=body
        )
        answer = json.loads(response["Body"].read())
    except ClientError as exc:
        raise ClassifyError(f"endpoint {endpoint} refused a batch: {exc}") from None
    except (BotoCoreError, ValueError) as exc:
        raise ClassifyError(f"endpoint {endpoint} failed: {exc}") from None
    if not isinstance(answer, list) or len(answer) != len(instances):
        raise ClassifyError(f"endpoint {endpoint} answered {answer!r:.200} for {len(instances)} texts")
    return answer


def classify_batch(client: Any, endpoint: str, batch: list[Record], k: int) -> list[dict[str, Any]]:
    """Tokenize a batch, send the texts that have words, and return one output line per record."""
    tokens = [tokens_of(r.text) for r in batch]
    answer = iter(invoke(client, endpoint, [t for t in tokens if t], k) if any(tokens) else [])
    return [result_line(r.id, next(answer) if t else None) for r, t in zip(batch, tokens, strict=True)]


def run_key(records: list[Record], settings: Settings) -> str:
    """Identifies a run's input, settings and deployed model: a partial output of another is not resumed."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(f"{id_key(record.id)}\t{record.text}\n".encode())
    model = read_registry(settings.endpoint_registry).get(settings.endpoint_name, {}).get("sha256", "")
    digest.update(f"k={settings.top_k} endpoint={settings.endpoint_name} model={model}".encode())
    return digest.hexdigest()


def resume(partial: Path, stamp: Path, key: str) -> set[str]:
    """The ids already in ``partial`` when it belongs to this run (its last incomplete line is dropped)."""
    if not partial.exists():
        return set()
    if not stamp.exists() or stamp.read_text(encoding="utf-8").strip() != key:
        log.info("%s belongs to another input or settings: starting over", partial)
        partial.unlink()
        return set()
    done: set[str] = set()
    good = 0
    with partial.open("rb") as fh:
        for line in fh:
            if not line.endswith(b"\n"):  # cut short by the interruption
                break
            try:
                done.add(id_key(json.loads(line)["id"]))
            except (ValueError, KeyError, TypeError):
                break
            good += len(line)
    with partial.open("r+b") as fh:
        fh.truncate(good)
    log.info("resuming: %d texts already classified in %s", len(done), partial)
    return done


def classify_local(
    settings: Settings,
    records: list[Record],
    output: Path,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Classify ``records`` through the local endpoint into ``output``; return (classified, resumed).

    ``on_batch`` is called with the number of batches written so far, after each one is on disk.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    stamp = output.with_name(output.name + ".partial.key")
    size, workers = settings.classify_batch_size, settings.classify_workers
    with local_endpoint(settings) as url:
        key = run_key(records, settings)
        done = resume(partial, stamp, key)
        write_text(stamp, key + "\n")
        pending = [r for r in records if id_key(r.id) not in done]
        batches = iter([pending[i : i + size] for i in range(0, len(pending), size)])
        client = runtime_client(url, settings)
        pool = ThreadPoolExecutor(workers, thread_name_prefix="classify")
        inflight: deque[Future[list[dict[str, Any]]]] = deque()

        def submit_next() -> None:
            batch = next(batches, None)
            if batch:
                inflight.append(
                    pool.submit(classify_batch, client, settings.endpoint_name, batch, settings.top_k)
                )

        try:
            with (
                partial.open("a", encoding="utf-8") as out,
                tqdm(total=len(records), initial=len(done), unit="text", desc=output.name) as bar,
            ):
                for _ in range(2 * workers):
                    submit_next()
                written = 0
                while inflight:
                    lines = inflight.popleft().result()  # in submission order: the file stays in input order
                    out.write(dump_lines(lines))
                    out.flush()
                    bar.update(len(lines))
                    written += 1
                    if on_batch:
                        on_batch(written)
                    submit_next()
                os.fsync(out.fileno())
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    os.replace(partial, output)
    stamp.unlink()
    return len(pending), len(done)


# --- both targets -----------------------------------------------------------------------------------------
def classify(
    settings: Settings,
    source: Path,
    output: Path,
    spec: InputSpec,
    on_batch: Callable[[int], None] | None = None,
) -> Summary:
    """Classify every text of ``source`` into ``output`` on ``settings.target``; see the module docstring.

    Raises:
        ClassifyError: unreadable input, or the endpoint failed.
        SageMakerError: target aws, an AWS call or the transform job failed.
    """
    started = time.perf_counter()
    records = read_input(source, spec)
    if is_complete(output, records):
        log.info(
            "%s already holds every text of %s: nothing to do (delete it to classify again)", output, source
        )
        return Summary(output, len(records), 0, 0, 0.0, up_to_date=True)
    if settings.target == "aws":
        from ml.sagemaker_transform import transform

        write_text(output, dump_lines(transform(settings, records)))
        classified, resumed = len(records), 0
    else:
        classified, resumed = classify_local(settings, records, output, on_batch)
    seconds = time.perf_counter() - started
    log.info("classified %d texts into %s in %.1f s", classified, output, seconds)
    return Summary(output, len(records), classified, resumed, seconds, up_to_date=False)
