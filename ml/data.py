"""Get the DBPedia ontology dataset and split it: download, verify, extract, read, stratify.

The original archive ``dbpedia_csv.tar.gz`` holds ``dbpedia_csv/{classes.txt,train.csv,test.csv}``;
CSV rows are ``class_index,"title","content"`` with ``class_index`` 1..14 in the order of
``classes.txt``. The sample shipped in ``data/`` has the same layout (train rows only). Any other
``--data PATH`` is the user's own labelled text (``ml/own_data.py``), split the same way.
"""

from __future__ import annotations

import csv
import hashlib
import random
import tarfile
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ml import own_data
from ml.config import ModelSettings, log
from ml.fsutil import atomic_path, brief, file_digest
from ml.readers import DataError

ARCHIVE_NAME = "dbpedia_csv.tar.gz"
N_CLASSES = 14  # DBPedia's classes (a model's own count is in its manifest: `labels`)
ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2")


@dataclass(frozen=True)
class Row:
    """One labelled example: the 0-based class index, the title and the content."""

    label: int
    title: str
    content: str

    @property
    def text(self) -> str:
        """Title and content joined, as the classifier reads them."""
        return f"{self.title} {self.content}"


@dataclass(frozen=True)
class Dataset:
    """The dataset files found on disk, and where they came from."""

    folder: Path
    classes: list[str]
    origin: str  # "sample", "full archive", or the path given by the user
    sha256: str  # of the archive, or of the files in the folder
    own: own_data.OwnData | None = None  # the user's own data (else DBPedia's layout)

    @property
    def train_csv(self) -> Path:
        return self.folder / "train.csv"

    @property
    def test_csv(self) -> Path | None:
        path = self.folder / "test.csv"
        return path if path.exists() else None


@dataclass(frozen=True)
class Splits:
    """Train / validation / test rows, and a sentence saying where the test rows came from."""

    train: list[Row]
    validation: list[Row]
    test: list[Row]
    test_source: str


# --- download ---------------------------------------------------------------------------------------
def download(url: str, dest: Path, md5: str, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, resuming a partial ``dest.part``, and verify its MD5.

    A finished file that already verifies is not fetched again. A file whose MD5 does not match is
    moved aside to ``dest.bad`` and never used.

    Raises:
        DataError: the network failed (the partial file is kept for the next try) or the MD5 is wrong.
    """
    if dest.exists() and file_digest(dest, "md5") == md5:
        log.info("archive already downloaded and verified: %s", dest)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if offset and response.status != 206:
                log.info("server ignored the resume request; starting the download again")
                offset = 0
            total = response.headers.get("Content-Length")
            total = int(total) + offset if total is not None else None
            mode = "ab" if offset else "wb"
            with (
                part.open(mode) as fh,
                tqdm(total=total, initial=offset, unit="B", unit_scale=True, desc=dest.name) as bar,
            ):
                while block := response.read(1 << 16):
                    fh.write(block)
                    bar.update(len(block))
            if total is not None and part.stat().st_size < total:
                raise OSError(f"connection closed after {part.stat().st_size} of {total} bytes")
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the part file is already complete
            pass
        else:
            raise DataError(
                f"download of {url} failed: HTTP {exc.code}. Try again later, or pass "
                f"--data PATH with an archive you have."
            ) from None
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(
            f"download of {url} failed ({exc}); {part} keeps the "
            f"{part.stat().st_size if part.exists() else 0} bytes received and the next "
            "run resumes from there. Offline? Pass --data PATH with an archive or folder."
        ) from None
    actual = file_digest(part, "md5")
    if actual != md5:
        bad = dest.with_name(dest.name + ".bad")
        part.replace(bad)
        raise DataError(
            f"checksum mismatch for {url}: md5 {actual}, expected {md5}. The file was moved "
            f"to {bad} and will not be used; run again to download it afresh."
        )
    part.replace(dest)
    log.info("downloaded and verified %s (md5 %s)", dest, md5)
    return dest


# --- archives and folders ------------------------------------------------------------------------------
def extract(archive: Path, dest_root: Path) -> Path:
    """Extract a dataset archive once into ``dest_root/<sha256 prefix>/`` and return the data folder."""
    try:
        digest = file_digest(archive)
    except OSError as exc:
        raise DataError(f"cannot read {archive}: {exc.strerror}") from None
    target = dest_root / digest[:16]
    if not target.exists():
        log.info("extracting %s to %s", archive, target)
        with atomic_path(target) as tmp:
            try:
                with tarfile.open(archive) as tar:
                    tar.extractall(tmp, filter="data")
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise DataError(f"{archive} is not a readable tar archive ({brief(exc)})") from None
    return _data_folder(target)


def _data_folder(root: Path) -> Path:
    """The folder holding classes.txt and train.csv: ``root`` itself or one level below it."""
    for candidate in [root, *sorted(p for p in root.iterdir() if p.is_dir())]:
        if (candidate / "classes.txt").exists() and (candidate / "train.csv").exists():
            return candidate
    raise DataError(f"{root} has no classes.txt and train.csv (expected the dbpedia_csv layout)")


def _dbpedia_layout(path: Path) -> bool:
    """Whether ``path`` is DBPedia's archive (named or read as a tar) or folder (classes.txt, here or one
    level below)."""
    if path.is_dir():
        return any((p / "classes.txt").is_file() for p in [path, *path.iterdir()] if p.is_dir())
    return path.name.lower().endswith(ARCHIVE_SUFFIXES) or tarfile.is_tarfile(path)


def folder_digest(folder: Path) -> str:
    """SHA-256 over the dataset files of a folder (names and contents), for the manifest."""
    parts = [
        f"{name}:{file_digest(folder / name)}"
        for name in ("classes.txt", "train.csv", "test.csv")
        if (folder / name).exists()
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def read_classes(path: Path) -> list[str]:
    """Class names, one a line, in label order."""
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(names) != N_CLASSES or len(set(names)) != N_CLASSES:
        raise DataError(f"{path} must list {N_CLASSES} distinct class names, found {len(names)}")
    return names


def read_rows(path: Path, n_classes: int = N_CLASSES) -> list[Row]:
    """Read ``class_index,title,content`` rows; DataError names the first bad line."""
    rows = []
    with path.open(encoding="utf-8", newline="") as fh:
        for number, record in enumerate(csv.reader(fh), start=1):
            if len(record) != 3:
                raise DataError(
                    f"{path}:{number}: expected 3 fields (class,title,content), got {len(record)}"
                )
            try:
                label = int(record[0])
            except ValueError:
                raise DataError(f"{path}:{number}: class index {record[0]!r} is not a number") from None
            if not 1 <= label <= n_classes:
                raise DataError(f"{path}:{number}: class index {label} is outside 1..{n_classes}")
            rows.append(Row(label - 1, record[1].strip(), record[2].strip()))
    if not rows:
        raise DataError(f"{path} holds no rows")
    return rows


def resolve_dataset(settings: ModelSettings) -> Dataset:
    """Find the dataset ``settings.data`` asks for, downloading or extracting it as needed."""
    raw = settings.data_dir / "raw"
    archive = raw / ARCHIVE_NAME
    choice = settings.data
    if choice not in ("auto", "sample", "full"):
        path = Path(choice).expanduser()
        if path.exists() and not _dbpedia_layout(path):
            own = own_data.resolve(path, settings)
            return Dataset(own.train.path.parent, own.classes, choice, own.sha256, own)
    if settings.test_data:
        raise DataError("--test-data goes with --data PATH of your own data, not with DBPedia")
    if choice == "auto":
        choice = "full" if archive.exists() else "sample"
    if choice == "sample":
        path, origin = settings.sample_archive, "sample"
        if not path.exists():
            raise DataError(f"the shipped sample {path} is missing; restore it with git or pass --data PATH")
    elif choice == "full":
        path, origin = download(settings.data_url, archive, settings.data_md5), "full archive"
    else:
        path, origin = Path(choice).expanduser(), choice
        if not path.exists():
            raise DataError(f"--data {choice}: no such file or folder")
    if path.is_dir():
        folder = _data_folder(path)
        digest = folder_digest(folder)
    else:
        folder = extract(path, raw / "extracted")
        digest = file_digest(path)
    return Dataset(folder, read_classes(folder / "classes.txt"), origin, digest)


# --- splits -------------------------------------------------------------------------------------------
def stratified_split(rows: list[Row], fraction: float, seed: int) -> tuple[list[Row], list[Row]]:
    """Split rows into (rest, held_out) with ``fraction`` of every class held out, seeded."""
    by_class: dict[int, list[Row]] = defaultdict(list)
    for row in rows:
        by_class[row.label].append(row)
    rng = random.Random(seed)
    rest, held = [], []
    for label in sorted(by_class):
        group = by_class[label][:]
        rng.shuffle(group)
        n = max(1, round(len(group) * fraction)) if len(group) > 1 else 0
        held.extend(group[:n])
        rest.extend(group[n:])
    rng.shuffle(rest)
    rng.shuffle(held)
    return rest, held


def cap_per_class(rows: list[Row], limit: int, seed: int) -> list[Row]:
    """At most ``limit`` rows of every class, drawn with ``seed``, in their original order (0: all)."""
    if not limit:
        return rows
    by_class: dict[int, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_class[row.label].append(index)
    rng = random.Random(seed)
    kept = sorted(
        i for label in sorted(by_class) for i in rng.sample(by_class[label], min(limit, len(by_class[label])))
    )
    return [rows[i] for i in kept]


def make_splits(dataset: Dataset, settings: ModelSettings) -> Splits:
    """Train / validation / test splits; the official test file is used only when it is complete.

    ``max_rows_per_class`` caps the train file's rows first (the official test file is kept whole).
    """
    if dataset.own is not None:
        return _own_splits(dataset.own, settings)
    train = cap_per_class(read_rows(dataset.train_csv), settings.max_rows_per_class, settings.seed)
    test_csv = dataset.test_csv
    test: list[Row] = read_rows(test_csv) if test_csv else []
    counts = Counter(row.label for row in test)
    short = [dataset.classes[i] for i in range(N_CLASSES) if counts[i] < settings.min_test_rows_per_class]
    if test and not short:
        source = f"official test file ({len(test)} rows)"
    else:
        why = (
            "absent"
            if not test
            else f"incomplete: fewer than {settings.min_test_rows_per_class} rows for "
            f"{len(short)} of {N_CLASSES} classes"
        )
        train, test = stratified_split(train, settings.test_fraction, settings.seed)
        source = (
            f"carved from the train file: {settings.test_fraction:.0%} of every class, seed "
            f"{settings.seed} (official test file {why})"
        )
    train, validation = stratified_split(train, settings.validation_fraction, settings.seed + 1)
    return Splits(train, validation, test, source)


def _own_splits(own: own_data.OwnData, settings: ModelSettings) -> Splits:
    """The splits of the user's own data: its test file whole, else a stratified carve of the train rows;
    test rows whose text is also among the train rows are counted and reported."""
    train = [Row(*row) for row in own.train_rows(settings.max_rows_per_class, settings.seed)]
    if own.test is not None:
        test = [Row(*row) for row in own.test_rows()]
        source = f"test file {own.test.path} ({len(test)} rows)"
    else:
        train, test = stratified_split(train, settings.test_fraction, settings.seed)
        source = (
            f"carved from the train file: {settings.test_fraction:.0%} of every class, seed {settings.seed}"
        )
    if shared := own_data.shared_rows((row.text for row in train), (row.text for row in test)):
        log.warning("%d of %d test rows also appear in the train rows: accuracy flatters", shared, len(test))
        source += f"; {shared} of its {len(test)} rows also appear in the train rows"
    train, validation = stratified_split(train, settings.validation_fraction, settings.seed + 1)
    return Splits(train, validation, test, source)
