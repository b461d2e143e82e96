"""Your own labelled text as a dataset: find its files, check them in one streamed pass, read its rows.

``--data PATH`` that is not DBPedia's archive or folder names a CSV, JSON Lines or fastText file
(``ml/readers.py``), or a folder holding one ``train.*`` and optionally one ``test.*``; ``--test-data
PATH`` names a separate test file instead. The check pass streams every file once (memory stays flat
whatever its size): it counts each label's rows and the file's sha256, and refuses a file with no rows,
a single label, a label with fewer than ``min_rows_per_class`` train rows, or a test label the train rows
lack. Classes are the labels sorted; the model sees each as its ``ml.labels`` token.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ml.config import ModelSettings, log
from ml.labels import describe_changes, to_token
from ml.readers import Columns, DataError, detect_format, read_examples

SHOWN = 5  # labels named in one error line


@dataclass(frozen=True)
class DataFile:
    """One checked file: its format, rows, rows of each label and sha256."""

    path: Path
    format: str
    rows: int
    counts: dict[str, int]
    sha256: str


@dataclass(frozen=True)
class OwnData:
    """The checked train (and test) file of a dataset the user brought, and how they are read."""

    train: DataFile
    test: DataFile | None
    columns: Columns
    labels: list[str]  # the users' labels, sorted: class i is labels[i]

    @property
    def classes(self) -> list[str]:
        """The model's label tokens, in class order."""
        return [to_token(label) for label in self.labels]

    @property
    def sha256(self) -> str:
        """What identifies the rows: the files' digests and formats, and the columns read."""
        files = [[f.format, f.sha256] for f in (self.train, self.test) if f is not None]
        parts = [files, self.columns.label, list(self.columns.text)]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()

    def train_rows(self, limit: int, seed: int) -> Iterator[tuple[int, str, str]]:
        """``(class, title, content)`` of the train file in its order; with ``limit``, at most that many
        of every class, drawn with ``seed`` as ``ml.data.cap_per_class`` draws them (only they are kept)."""
        index = {label: i for i, label in enumerate(self.labels)}
        kept: list[set[int]] | None = None
        if limit:
            rng = random.Random(seed)
            counts = [self.train.counts[label] for label in self.labels]
            kept = [set(rng.sample(range(n), min(limit, n))) for n in counts]
        seen = [0] * len(self.labels)
        for example in read_examples(self.train.path, self.train.format, self.columns):
            i = index[example.label]
            if kept is None or seen[i] in kept[i]:
                yield i, example.title, example.content
            seen[i] += 1

    def test_rows(self) -> Iterator[tuple[int, str, str]]:
        """``(class, title, content)`` of every row of the test file (none without one)."""
        if self.test is None:
            return
        index = {label: i for i, label in enumerate(self.labels)}
        for example in read_examples(self.test.path, self.test.format, self.columns):
            yield index[example.label], example.title, example.content


def find_files(path: Path, test_data: str) -> tuple[Path, Path | None]:
    """The train file and the test file (if any) that ``--data PATH`` and ``--test-data`` name."""
    test = Path(test_data).expanduser() if test_data else None
    if not path.is_dir():
        return path, test
    trains = sorted(p for p in path.glob("train.*") if p.is_file())
    tests = sorted(p for p in path.glob("test.*") if p.is_file())
    if not trains:
        raise DataError(
            f"{path} holds no train.* file: expected train.csv, train.jsonl or a fastText train.txt "
            "(and optionally test.* beside it), or DBPedia's classes.txt and train.csv"
        )
    for name, found in (("train", trains), ("test", tests)):
        if len(found) > 1:
            names = ", ".join(p.name for p in found)
            raise DataError(f"{path} holds several {name} files ({names}): keep one")
    if tests and test is not None:
        raise DataError(f"{path} holds {tests[0].name} and --test-data names {test}: keep one of them")
    return trains[0], test or (tests[0] if tests else None)


def scan(path: Path, columns: Columns) -> DataFile:
    """Read every row of ``path`` once, streamed: its format, row count, label counts and sha256."""
    fmt = detect_format(path)
    digest = hashlib.sha256()
    counts: Counter[str] = Counter(example.label for example in read_examples(path, fmt, columns, digest))
    rows = sum(counts.values())
    if not rows:
        raise DataError(f"{path} holds no rows" + (" (only a header)" if fmt == "csv" else ""))
    return DataFile(path, fmt, rows, dict(counts), digest.hexdigest())


def _named(counts: Iterable[tuple[str, int]]) -> str:
    pairs = list(counts)
    shown = ", ".join(f"{label!r} ({n} row{'s' * (n != 1)})" for label, n in pairs[:SHOWN])
    return shown + (f" and {len(pairs) - SHOWN} more" if len(pairs) > SHOWN else "")


def resolve(path: Path, settings: ModelSettings) -> OwnData:
    """Check the files ``--data PATH`` (and ``--test-data``) name; DataError names what is wrong."""
    columns = Columns(settings.label_column, tuple(c.strip() for c in settings.text_column.split(",")))
    train_path, test_path = find_files(path, settings.test_data)
    train = scan(train_path, columns)
    if len(train.counts) < 2:
        raise DataError(
            f"{train_path}: only one label, {_named(train.counts.items())}: a classifier needs at least two"
        )
    short = sorted((n, label) for label, n in train.counts.items() if n < settings.min_rows_per_class)
    if short:
        raise DataError(
            f"{train_path}: {len(short)} label(s) with fewer than min_rows_per_class "
            f"{settings.min_rows_per_class} rows: {_named((label, n) for n, label in short)}; add rows, "
            "drop the label, or lower --min-rows-per-class"
        )
    test = scan(test_path, columns) if test_path is not None else None
    if test is not None and (unknown := sorted(set(test.counts) - set(train.counts))):
        raise DataError(
            f"{test_path}: label(s) the train file does not have: "
            f"{_named((label, test.counts[label]) for label in unknown)}"
        )
    own = OwnData(train, test, columns, sorted(train.counts))
    for f in (train, test):
        if f is not None:
            how = "" if f.format == "fasttext" else f"; {columns.describe()}"
            log.info("%s: %s, %d rows, %d labels%s", f.path, f.format, f.rows, len(f.counts), how)
    if changes := describe_changes(own.labels):
        log.info("%s", changes)
    return own


def shared_rows(train: Iterable[str], test: Iterable[str]) -> int:
    """How many test texts also occur among the train texts (the same text, title and content)."""
    wanted = Counter(test)
    found = {text for text in train if text in wanted}
    return sum(wanted[text] for text in found)
