"""Training-side tokenization with NLTK, and the BlazingText / fastText files it produces.

Each line is ``__label__<ClassName> token token …`` (the BlazingText supervised format). Tokens are
``finish(NLTKWordTokenizer().tokenize(normalize(title + " " + content)))``: the same steps the Lambda
runs with its stdlib port (``lambda/text_tokenizer.py``), proven equal by ``tests/data``.

The train channel also teaches the model the short texts people type into the page: every train row
gives the ``VIEWS`` lines (the whole text, its first sentence, that sentence's first words, the title
alone) plus ``dropout_views`` copies of the whole text, each missing a seeded random half of its tokens,
all shuffled with the seed. Validation and test keep one line per row. Measured effect:
docs/model-quality.md.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from ml.config import ModelSettings, log
from ml.data import Dataset, Row, Splits
from ml.fsutil import atomic_path, remove_temps
from ml.lambda_src import contract, text_tokenizer
from ml.slices import SHORT_TOKENS, first_sentence

if TYPE_CHECKING:
    from nltk.tokenize import NLTKWordTokenizer

SPLIT_NAMES = ("train", "validation", "test")
BASELINE_TRAIN = "train_rows"  # the train split one line a row, without the extra views: the baseline's input
FORMAT = 8  # bump when the prepared folder's contents change
VIEWS = ("text", "first_sentence", "short", "title")  # the fixed lines each train row gives
DROPOUT = 0.5  # share of tokens each dropout copy drops
_CHUNK = 2000


@cache
def _nltk_words() -> NLTKWordTokenizer:
    """NLTK's word tokenizer, imported on first use: ``import nltk`` takes about 5 s of CPU (it loads
    scikit-learn and SciPy), which a command that stops on a bad flag or only serves should not pay."""
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def tokenize(text: str) -> list[str]:
    """Tokens of ``text`` for training: normalize, NLTK word tokenization, finish."""
    tt = text_tokenizer()
    return tt.finish(_nltk_words().tokenize(tt.normalize(text)))


def _tokenize_chunk(texts: list[str]) -> list[str]:
    return [" ".join(tokenize(text)) for text in texts]


def training_views(row: Row, seed: int, dropout_views: int) -> list[str]:
    """The ``VIEWS`` and ``dropout_views`` copies of one train row as token strings.

    An empty view falls back to the whole text. The dropout copies' random draws are seeded by ``seed``
    and the row itself, so they do not depend on how rows are chunked across processes.
    """
    text = tokenize(row.text)
    sentence = tokenize(first_sentence(row.content))
    rng = random.Random(f"{seed}\t{row.title}\t{row.content}")
    fixed = {
        "text": text,
        "first_sentence": sentence,
        "short": sentence[:SHORT_TOKENS],
        "title": tokenize(row.title),
    }
    dropped = [[t for t in text if rng.random() >= DROPOUT] for _ in range(dropout_views)]
    return [" ".join(view or text) for view in [*(fixed[v] for v in VIEWS), *dropped]]


def _views_chunk(rows: list[Row], seed: int, dropout_views: int) -> list[list[str]]:
    return [training_views(row, seed, dropout_views) for row in rows]


def format_line(label_name: str, tokens: str) -> str:
    """One line of a BlazingText supervised channel."""
    return f"{contract.LABEL_PREFIX}{label_name} {tokens}\n"


@dataclass(frozen=True)
class Prepared:
    """The fastText files of a split set, and the key that identifies their inputs."""

    folder: Path
    key: str
    test_source: str
    counts: dict[str, int]

    def path(self, split: str) -> Path:
        """The ``.txt`` file of one split."""
        return self.folder / f"{split}.txt"

    def train_views(self) -> list[str]:
        """The lines each train row gives in the train channel (``VIEWS`` then one per dropout copy)."""
        meta = json.loads((self.folder / "meta.json").read_text(encoding="utf-8"))
        return list(meta["train_views"])

    def test_rows(self) -> list[Row]:
        """The test split's raw rows (title and content before tokenization), for slice metrics."""
        with (self.folder / "test.jsonl").open(encoding="utf-8") as fh:
            return [Row(**json.loads(line)) for line in fh]


def _key(dataset: Dataset, settings: ModelSettings) -> str:
    parts = [
        FORMAT,
        dataset.sha256,
        text_tokenizer().SCHEME,
        settings.validation_fraction,
        settings.test_fraction,
        settings.min_test_rows_per_class,
        settings.seed,
        settings.dropout_views,
        settings.max_rows_per_class,
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def prepare(dataset: Dataset, splits_factory: Callable[[], Splits], settings: ModelSettings) -> Prepared:
    """Write train / validation / test files once per distinct input; later runs reuse them.

    Half-written folders of killed runs (``prepared/.<key>.*``) are removed first: two runs preparing
    data in one build folder at the same time are not supported.

    Args:
        dataset: where the rows come from (its checksum is part of the cache key).
        splits_factory: ``() -> Splits``, called only when the files must be (re)built.
        settings: split fractions, seed and the build folder.
    """
    key = _key(dataset, settings)
    folder = settings.data_dir / "prepared" / key
    if removed := remove_temps(folder.parent):
        log.info("removed %d half-written prepared folder(s) of an interrupted run", len(removed))
    meta_path = folder / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        log.info(
            "reusing prepared data %s (%s)", folder, ", ".join(f"{k} {v}" for k, v in meta["counts"].items())
        )
        return Prepared(folder, key, meta["test_source"], meta["counts"])
    splits: Splits = splits_factory()
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        counts = {}
        for name in SPLIT_NAMES:
            rows: list[Row] = getattr(splits, name)
            if name == "train":
                lines, plain = train_lines(
                    rows, dataset.classes, settings.seed, settings.dropout_views, workers=settings.threads
                )
                (tmp / f"{BASELINE_TRAIN}.txt").write_text("".join(plain), encoding="utf-8")
            else:
                tokens = tokenize_rows(rows, desc=f"tokenizing {name}", workers=settings.threads)
                lines = [format_line(dataset.classes[r.label], t) for r, t in zip(rows, tokens, strict=True)]
            (tmp / f"{name}.txt").write_text("".join(lines), encoding="utf-8")
            counts[name] = len(rows)
        with (tmp / "test.jsonl").open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(asdict(row), ensure_ascii=False) + "\n" for row in splits.test)
        meta = {
            "counts": counts,
            "train_views": [*VIEWS, *["dropout"] * settings.dropout_views],
            "test_source": splits.test_source,
            "dataset": dataset.origin,
            "dataset_sha256": dataset.sha256,
            "tokenizer": text_tokenizer().SCHEME,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    log.info("prepared data written to %s (%s)", folder, ", ".join(f"{k} {v}" for k, v in counts.items()))
    return Prepared(folder, key, splits.test_source, counts)


def _map_chunks(
    func: Callable[..., list[Any]], items: list[Any], desc: str, workers: int, *args: Any
) -> list[Any]:
    """``func(chunk, *args)`` over chunks of ``items``, results in order, with a progress bar."""
    chunks = [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]
    out: list[Any] = []
    _nltk_words()  # imported here, before the pool forks, not once in every worker
    with tqdm(total=len(items), desc=desc, unit="rows", disable=None) as bar:
        if workers > 1 and len(chunks) > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for chunk in pool.map(func, chunks, *[[a] * len(chunks) for a in args]):
                    out.extend(chunk)
                    bar.update(len(chunk))
        else:
            for chunk in chunks:
                out.extend(func(chunk, *args))
                bar.update(len(chunk))
    return out


def tokenize_rows(rows: list[Row], desc: str, workers: int = 1) -> list[str]:
    """Space-joined tokens of each row's text, in order, with a progress bar; parallel when it pays."""
    return _map_chunks(_tokenize_chunk, [row.text for row in rows], desc, workers)


def train_lines(
    rows: list[Row], classes: list[str], seed: int, dropout_views: int, workers: int = 1
) -> tuple[list[str], list[str]]:
    """The train channel (every view of every row as a labelled line, shuffled with ``seed``), and the
    train rows one line each, whole text only (what the peer baseline fits on)."""
    views = _map_chunks(_views_chunk, rows, "tokenizing train", workers, seed, dropout_views)
    lines = [
        format_line(classes[row.label], tokens)
        for row, row_views in zip(rows, views, strict=True)
        for tokens in row_views
    ]
    random.Random(seed).shuffle(lines)
    whole = VIEWS.index("text")
    plain = [format_line(classes[row.label], v[whole]) for row, v in zip(rows, views, strict=True)]
    return lines, plain
