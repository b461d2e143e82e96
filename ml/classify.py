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
resumes: the next run keeps the partial file's complete lines and classifies the other ids. Target aws: a
SageMaker Batch Transform job on the deployed model (``ml/sagemaker_transform.py``), its lines published
the same way.

Provenance: ``FILE.key`` beside ``OUTPUT.partial`` and ``OUTPUT`` records what made the file (the input's
sha256 and how it was read, ``k``, the tokenizer and the model; for ``OUTPUT`` also its own sha256). A
partial file of another provenance is discarded; an ``OUTPUT`` of this provenance means nothing to do; any
other ``OUTPUT`` is refused unless ``force``. An output that is the input (or a file beside it that classify
writes) is refused before anything is written.
"""

from __future__ import annotations

import csv
import json
import os
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ml.config import Settings, log
from ml.data import N_CLASSES, DataError, read_rows
from ml.deploy import read_registry
from ml.fsutil import file_digest, write_json, write_text
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
class Provenance:
    """What an output is made of, recorded in its ``.key`` file."""

    input_sha256: str  # the input file's bytes
    format: str  # how it was read (auto resolved), with the columns named
    text_column: str | None
    id_column: str | None
    k: int
    tokenizer: str
    model: str  # local: the deployed archive's sha256; aws: the SageMaker model the endpoint serves


# how a refusal names a Provenance field that differs
_FIELD_NAMES = {
    "input_sha256": "input",
    "format": "--format",
    "text_column": "--text-column",
    "id_column": "--id-column",
    "k": "k",
    "tokenizer": "tokenizer",
    "model": "model",
}


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


def input_format(path: Path, spec: InputSpec) -> str:
    """The format ``path`` is read in: ``spec.format``, or the detected one for ``auto``."""
    return detect_format(path) if spec.format == "auto" else spec.format


def read_input(path: Path, spec: InputSpec) -> list[Record]:
    """The records of ``path``; ClassifyError names the file, the line and what is wrong."""
    if spec.format not in FORMATS:
        raise ClassifyError(f"--format must be one of {', '.join(FORMATS)}, not {spec.format!r}")
    if path.is_dir():
        raise ClassifyError(f"input {path} is a directory, not a file of texts")
    if not path.exists():
        raise ClassifyError(f"input file {path} does not exist")
    if not path.is_file():
        raise ClassifyError(f"input {path} is not a regular file")
    try:
        fmt = input_format(path, spec)
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


def partial_path(output: Path) -> Path:
    """Where an unfinished run writes: ``OUTPUT.partial``."""
    return output.with_name(output.name + ".partial")


def key_path(path: Path) -> Path:
    """The provenance of ``path`` (``OUTPUT`` or ``OUTPUT.partial``): ``path.key``."""
    return path.with_name(path.name + ".key")


def read_key(path: Path) -> dict[str, Any] | None:
    """The provenance recorded for ``path``; None when there is none or it is unreadable."""
    try:
        key = json.loads(key_path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return key if isinstance(key, dict) else None


def not_made_by(output: Path, provenance: Provenance) -> str | None:
    """Why the existing ``output`` is not the finished result of ``provenance``; None when it is."""
    key = read_key(output)
    if key is None:
        return f"no {key_path(output).name} says what made it"
    differ = [_FIELD_NAMES[name] for name, value in asdict(provenance).items() if key.get(name) != value]
    if differ:
        return f"it was made with another {', '.join(differ)}"
    if key.get("output_sha256") != file_digest(output):
        return "it was changed after it was written"
    return None


def is_complete(output: Path, provenance: Provenance) -> bool:
    """True when ``output`` is the file a run of ``provenance`` finished, byte for byte."""
    return output.is_file() and not_made_by(output, provenance) is None


def check_output(source: Path, output: Path) -> None:
    """Refuse an output that is a directory, or that is (or writes beside it) the input itself."""
    if output.is_dir():
        raise ClassifyError(f"output {output} is a directory: name a file to write the results to")
    parent = next(p for p in output.absolute().parents if p.exists())
    if not parent.is_dir():
        raise ClassifyError(f"output {output} cannot be created: {parent} is a file, not a directory")
    if not source.exists():
        return  # read_input says so
    for written in (output, key_path(output), partial_path(output), key_path(partial_path(output))):
        if written.exists() and os.path.samefile(source, written):
            beside = "" if written == output else f" (classify writes {written.name} beside {output})"
            raise ClassifyError(f"{written} is the input file {source}{beside}: name another output file")


def finish(output: Path, provenance: Provenance) -> None:
    """Publish the complete ``OUTPUT.partial`` as ``OUTPUT``, its key (with its sha256) written first.

    A crash between the two leaves an ``OUTPUT.key`` that does not match ``OUTPUT``'s bytes: never trusted.
    """
    partial = partial_path(output)
    write_json(key_path(output), {**asdict(provenance), "output_sha256": file_digest(partial)})
    os.replace(partial, output)
    key_path(partial).unlink(missing_ok=True)


def served_model(settings: Settings) -> str:
    """The identity of the model that will answer.

    Local: the sha256 of the archive deployed to the local endpoint (``build/endpoints.json``): the one
    ``invoke up`` and the in-process fallback serve, both checked against it when they load it (the running
    endpoint's ``/ping`` does not name its model). Aws: the SageMaker model the endpoint serves.
    """
    if settings.target == "aws":
        from ml.sagemaker_transform import endpoint_model

        return endpoint_model(settings)
    try:
        entry = read_registry(settings.endpoint_registry).get(settings.endpoint_name)
    except (UnicodeDecodeError, ValueError):
        raise ClassifyError(
            f"{settings.endpoint_registry} is not readable JSON: run `invoke train` to deploy again"
        ) from None
    if not entry or not entry.get("sha256"):
        raise ClassifyError(
            f"nothing is deployed to the local endpoint {settings.endpoint_name!r} "
            f"({settings.endpoint_registry}): run `invoke train` first"
        )
    return str(entry["sha256"])


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


def resume(partial: Path, provenance: Provenance) -> set[str]:
    """The ids already in ``partial`` when its key is ``provenance`` (its last incomplete line is dropped)."""
    if not partial.exists():
        return set()
    if read_key(partial) != asdict(provenance):
        log.info("%s belongs to another input, model or settings: starting over", partial)
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
    provenance: Provenance,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Classify ``records`` through the local endpoint into ``output``; return (classified, resumed).

    ``on_batch`` is called with the number of batches written so far, after each one is on disk.
    """
    partial = partial_path(output)
    size, workers = settings.classify_batch_size, settings.classify_workers
    with local_endpoint(settings) as url:
        done = resume(partial, provenance)
        write_json(key_path(partial), asdict(provenance))
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
    """Classify every text of ``source`` into ``output`` on ``settings.target``; see the module docstring.

    ``force`` classifies again and replaces ``output`` whatever made it (a partial run of the same
    provenance is still resumed: its lines are the ones a fresh run writes).

    Raises:
        ClassifyError: unreadable input, an output that is refused, or the endpoint failed.
        SageMakerError: target aws, an AWS call or the transform job failed.
    """
    started = time.perf_counter()
    check_output(source, output)
    records = read_input(source, spec)
    provenance = Provenance(
        input_sha256=file_digest(source),
        format=input_format(source, spec),
        text_column=spec.text_column,
        id_column=spec.id_column,
        k=settings.top_k,
        tokenizer=text_tokenizer().SCHEME,
        model=served_model(settings),
    )
    if not force and is_complete(output, provenance):
        log.info("%s already holds every text of %s: nothing to do", output, source)
        return Summary(output, len(records), 0, 0, 0.0, up_to_date=True)
    if not force and output.exists():
        raise ClassifyError(
            f"{output} exists but is not the result of this run ({not_made_by(output, provenance)}): "
            "pass --force to replace it, or delete it"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    if settings.target == "aws":
        from ml.sagemaker_transform import transform

        lines = transform(settings, records, provenance.model)
        partial = partial_path(output)
        write_json(key_path(partial), asdict(provenance))  # first: no key ever describes another's lines
        write_text(partial, dump_lines(lines))
        finish(output, provenance)
        classified, resumed = len(records), 0
    else:
        classified, resumed = classify_local(settings, records, output, provenance, on_batch)
    seconds = time.perf_counter() - started
    log.info("classified %d texts into %s in %.1f s", classified, output, seconds)
    return Summary(output, len(records), classified, resumed, seconds, up_to_date=False)
