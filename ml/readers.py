"""Read labelled text, streamed: CSV with a header, JSON Lines, or fastText / BlazingText lines.

Each reader yields ``Example(label, title, content, line)`` one at a time from a file read line by line,
so a file of any size is read in flat memory. Several text columns (or keys) are joined as training joins
DBPedia's title and content: the first is the title, the rest (space-joined) the content; one text column
is the content alone. Labels and texts are stripped. Anything that cannot be read raises ``DataError``
naming the file, the line and what is wrong (docs/own-data.md lists every case).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from ml.errors import ProjectError
from ml.labels import LABEL_PREFIX

FORMATS = ("csv", "jsonl", "fasttext")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
SNIFF_BYTES = 1 << 16  # read before anything else: enough to tell binary and foreign encodings apart
FIELD_LIMIT = 2**31 - 1  # the csv module's default (128 KiB) refuses long texts


class DataError(ProjectError):
    """The dataset cannot be obtained or read; the message says what to do."""


class Digest(Protocol):
    """What a reader feeds every byte it reads to (a ``hashlib`` object)."""

    def update(self, data: bytes, /) -> None: ...


@dataclass(frozen=True)
class Columns:
    """Which CSV columns or JSON keys hold the label and the text (several text columns are joined)."""

    label: str = "label"
    text: tuple[str, ...] = ("text",)

    def describe(self) -> str:
        return f"label from {self.label!r}, text from {' + '.join(map(repr, self.text))}"


class Example(NamedTuple):
    """One labelled text as the file gives it: the user's label, title, content and its line number."""

    label: str
    title: str
    content: str
    line: int


def _not_utf8(sample: bytes) -> str:
    """Why bytes that are not UTF-8 cannot be read, naming the encoding(s) they look like when the sample
    tells (charset-normalizer: a byte order mark, or text that reads as some language)."""
    from charset_normalizer import from_bytes  # 0.1 s to import: only on this error path

    matches = list(from_bytes(sample))
    unicode = bool(matches) and matches[0].encoding.startswith("utf")
    if not matches or (b"\x00" in sample and not unicode):
        return "a binary file, not text (expected CSV, JSON Lines or fastText lines in UTF-8)"
    best = matches[0]
    if best.coherence == 0 and not unicode:
        return "not UTF-8 text (its encoding cannot be told from these bytes); convert it to UTF-8"
    tied = [m.encoding for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    return f"not UTF-8 text (it looks like {' or '.join(tied[:3])}); convert it to UTF-8"


def check_text(path: Path) -> None:
    """DataError unless ``path`` is a readable, non-empty file that begins as UTF-8 text."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if not head.strip():
        raise DataError(f"{path} is empty: it holds no rows")
    if b"\x00" in head:
        raise DataError(f"{path}: {_not_utf8(head)}")
    try:  # a multi-byte character cut at the end of the sample is not an error
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            raise DataError(f"{path}: {_not_utf8(head)}") from None


def _lines(path: Path, digest: Digest | None) -> Iterator[tuple[int, str]]:
    """The file's lines decoded as UTF-8 (a leading BOM dropped), numbered from 1, one at a time."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if digest is not None:
                digest.update(raw)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError(f"{path}:{number}: {_not_utf8(raw + fh.read(SNIFF_BYTES))}") from None
            yield number, line.removeprefix("\ufeff") if number == 1 else line


def detect_format(path: Path) -> str:
    """``csv`` or ``jsonl`` by the file's suffix, else ``fasttext`` or ``jsonl`` by its first line."""
    check_text(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    first = next((line.strip() for _, line in _lines(path, None) if line.strip()), "")
    if first.startswith(LABEL_PREFIX):
        return "fasttext"
    if first.startswith("{"):
        return "jsonl"
    raise DataError(
        f"{path}: cannot tell its format: name a CSV with a header *.csv, JSON Lines *.jsonl, or write "
        f"fastText lines ({LABEL_PREFIX}LABEL text…)"
    )


def _example(path: Path, line: int, label: str, texts: list[str], where: str) -> Example:
    label = label.strip()
    if not label:
        raise DataError(f"{path}:{line}: empty label{where}")
    parts = [text.strip() for text in texts]
    if not any(parts):
        raise DataError(f"{path}:{line}: empty text{where}")
    if len(parts) == 1:
        return Example(label, "", parts[0], line)
    return Example(label, parts[0], " ".join(p for p in parts[1:] if p), line)


def _csv(path: Path, columns: Columns, lines: Iterator[tuple[int, str]]) -> Iterator[Example]:
    csv.field_size_limit(FIELD_LIMIT)
    reader = csv.reader(line for _, line in lines)
    try:
        header = [name.strip() for name in next(reader, [])]
        missing = [name for name in (columns.label, *columns.text) if name not in header]
        if missing:
            raise DataError(
                f"{path}: no column {', '.join(map(repr, missing))} in the header (columns found: "
                f"{', '.join(header) or 'none'}); name them with --label-column and --text-column"
            )
        at_label, at_text = header.index(columns.label), [header.index(name) for name in columns.text]
        where = f" (column {columns.label!r} or {' + '.join(map(repr, columns.text))})"
        for record in reader:
            if not record:
                continue  # a blank line
            if len(record) != len(header):
                raise DataError(
                    f"{path}:{reader.line_num}: {len(record)} fields where the header has {len(header)} "
                    "(a ragged row: quote a field that holds a comma)"
                )
            yield _example(path, reader.line_num, record[at_label], [record[i] for i in at_text], where)
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None


def _value(path: Path, number: int, obj: dict[str, Any], key: str, label: bool) -> str:
    value = obj[key]
    if value is None:
        return ""
    if isinstance(value, str) or (label and isinstance(value, int) and not isinstance(value, bool)):
        return str(value)
    raise DataError(f"{path}:{number}: {key!r} must be a string, not {type(value).__name__}")


def _jsonl(path: Path, columns: Columns, lines: Iterator[tuple[int, str]]) -> Iterator[Example]:
    where = f" (key {columns.label!r} or {' + '.join(map(repr, columns.text))})"
    for number, line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path}:{number}: not valid JSON ({getattr(exc, 'msg', exc)})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{number}: a JSON {type(obj).__name__}, not an object")
        missing = [key for key in (columns.label, *columns.text) if key not in obj]
        if missing:
            raise DataError(
                f"{path}:{number}: no key {', '.join(map(repr, missing))} (keys found: "
                f"{', '.join(obj) or 'none'}); name them with --label-column and --text-column"
            )
        label = _value(path, number, obj, columns.label, True)
        texts = [_value(path, number, obj, key, False) for key in columns.text]
        yield _example(path, number, label, texts, where)


def _fasttext(path: Path, columns: Columns, lines: Iterator[tuple[int, str]]) -> Iterator[Example]:
    for number, line in lines:
        words = line.strip().split(maxsplit=1)
        if not words:
            continue
        if not words[0].startswith(LABEL_PREFIX):
            raise DataError(f"{path}:{number}: the line does not begin with {LABEL_PREFIX} (fastText format)")
        rest = words[1] if len(words) > 1 else ""
        if rest.startswith(LABEL_PREFIX):
            raise DataError(f"{path}:{number}: several labels on one line (one label a line is supported)")
        yield _example(path, number, words[0].removeprefix(LABEL_PREFIX), [rest], "")


_READERS: dict[str, Callable[[Path, Columns, Iterator[tuple[int, str]]], Iterable[Example]]] = {
    "csv": _csv,
    "jsonl": _jsonl,
    "fasttext": _fasttext,
}


def read_examples(path: Path, fmt: str, columns: Columns, digest: Digest | None = None) -> Iterator[Example]:
    """Every example of ``path`` in file order, streamed; every byte read goes to ``digest`` if given.

    Raises:
        DataError: at the first thing that cannot be read (the file, line and what is wrong).
    """
    check_text(path)
    yield from _READERS[fmt](path, columns, _lines(path, digest))
