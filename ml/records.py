"""Bulk classification's input: the records of a file of texts (``invoke classify``), and their instances.

Input, by ``--format`` (``auto`` picks by name and first row):

- ``jsonl``: one object a line (``.jsonl``, ``.ndjson``, ``.json``); text under ``text`` and id under ``id``
  (or the keys ``--text-column`` / ``--id-column`` name), else the line number;
- ``csv`` with a header row: text from ``--text-column``, else ``text``, else ``title`` + ``content``
  joined as training joins them; id from ``--id-column``, else ``id``, else the 1-based row number;
- ``dbpedia``: the dataset's own headerless ``class,title,content`` CSV (auto: a first row of three fields
  whose first is a class index 1..14); id is the row number.

Every text is tokenized by the Lambda's own tokenizer (``lambda/text_tokenizer.py``) into the instance the
endpoint receives. The output and its resumption: ``ml/results.py``; the wire format: ``lambda/contract.py``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ml.config import log
from ml.data import N_CLASSES, DataError, read_rows
from ml.errors import ProjectError
from ml.readers import JSONL_SUFFIXES

FORMATS = ("auto", "jsonl", "csv", "dbpedia")


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
