"""Bulk classification's records: a file of texts in, one JSON line per text out (``invoke classify``).

Input, by ``--format`` (``auto`` picks by name and first row):

- ``jsonl``: one object a line (``.jsonl``, ``.ndjson``, ``.json``); text under ``text`` and id under ``id``
  (or the keys ``--text-column`` / ``--id-column`` name), else the line number;
- ``csv`` with a header row: text from ``--text-column``, else ``text``, else ``title`` + ``content``
  joined as training joins them; id from ``--id-column``, else ``id``, else the 1-based row number;
- ``dbpedia``: the dataset's own headerless ``class,title,content`` CSV (auto: a first row of three fields
  whose first is a class index 1..14); id is the row number.

Output, one line per input text and in input order: ``{"id", "label", "probability", "top": [{"label",
"probability"}, …]}``; a text with no word to classify gets ``"label": null`` and an ``error``. Every text
is tokenized by the Lambda's own tokenizer (``lambda/text_tokenizer.py``). Lines are appended to
``OUTPUT.partial`` and the finished file is renamed to ``OUTPUT``; a run that stops early resumes from the
partial file's complete lines.

Provenance: ``FILE.key`` beside ``OUTPUT.partial`` and ``OUTPUT`` records what made the file (the input's
sha256 and how it was read, ``k``, the tokenizer and the model; for ``OUTPUT`` also its own sha256). A
partial file of another provenance is discarded; an ``OUTPUT`` of this provenance means nothing to do; any
other ``OUTPUT`` is refused unless ``force``. An output that is the input (or a file beside it that classify
writes) is refused before anything is written. A run goes as ``ml/bulk.py`` says; who answers (the local
endpoint, a Batch Transform job) is the target's: ``ops/local/bulk.py``, ``ml/aws/transform.py``.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ml.config import log
from ml.data import N_CLASSES, DataError, read_rows
from ml.errors import ProjectError
from ml.fsutil import file_digest, write_json, write_text
from ml.lambda_src import read_prediction, text_tokenizer

FORMATS = ("auto", "jsonl", "csv", "dbpedia")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
NO_WORDS = "the text has no words to classify"


class ClassifyError(ProjectError):
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
            text = " ".join(str(v).strip() for v in values) if len(values) > 1 else str(values[0])
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
    try:
        top = read_prediction(prediction)
    except ValueError as exc:
        raise ClassifyError(f"unreadable prediction for id {record_id!r}: {exc}") from None
    return {"id": record_id, "label": top[0]["label"], "probability": top[0]["probability"], "top": top}


def dump_lines(lines: list[dict[str, Any]]) -> str:
    """JSON lines, one per result."""
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


# BlazingText's JSON Lines contract, for batch transform and real-time inference alike (AWS, "BlazingText
# algorithm", inference formats: https://docs.aws.amazon.com/sagemaker/latest/dg/blazingtext.html): a request
# is one ``{"source": "tok tok …", "k": N}`` a line (``k`` optional, default 1), the answer one
# ``{"prob": [...], "label": ["__label__X", ...]}`` a line, in order, under the same media type.
JSONLINES = "application/jsonlines"


def jsonlines_request(instances: list[str], k: int) -> bytes:
    """A BlazingText JSON Lines request body: one ``{"source": …, "k": k}`` line per instance."""
    return dump_lines([{"source": text, "k": k} for text in instances]).encode()


def read_json_lines(text: str) -> list[Any]:
    """The JSON value of every non-empty line; ValueError names the first line that is not JSON."""
    values = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                values.append(json.loads(line))
            except (ValueError, RecursionError) as exc:
                raise ValueError(f"line {number} is not valid JSON ({exc})") from None
    return values


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


def start(
    source: Path, output: Path, spec: InputSpec, k: int, model: Callable[[], str], force: bool
) -> tuple[list[Record], Provenance, bool]:
    """Check the output, read the input, ask ``model`` who answers; say whether ``output`` is done already.

    The output and the input are checked before ``model`` is called (it may call AWS).

    Raises:
        ClassifyError: unreadable input, or an output that is refused (``force`` replaces one).
    """
    check_output(source, output)
    records = read_input(source, spec)
    provenance = Provenance(
        input_sha256=file_digest(source),
        format=input_format(source, spec),
        text_column=spec.text_column,
        id_column=spec.id_column,
        k=k,
        tokenizer=text_tokenizer().SCHEME,
        model=model(),
    )
    if not force and is_complete(output, provenance):
        log.info("%s already holds every text of %s: nothing to do", output, source)
        return records, provenance, True
    if not force and output.exists():
        raise ClassifyError(
            f"{output} exists but is not the result of this run ({not_made_by(output, provenance)}): "
            "pass --force to replace it, or delete it"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    return records, provenance, False


def publish(output: Path, provenance: Provenance, lines: list[dict[str, Any]]) -> None:
    """Write a whole run's ``lines`` as ``OUTPUT`` the way a local run finishes (key first, then rename)."""
    partial = partial_path(output)
    write_json(key_path(partial), asdict(provenance))  # first: no key ever describes another's lines
    write_text(partial, dump_lines(lines))
    finish(output, provenance)
