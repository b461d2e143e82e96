"""The Lambda's stdlib tokenizer equals training's NLTK tokenization on every real row."""

from __future__ import annotations

import csv
import tarfile
from pathlib import Path

from ml import lambda_src, preprocess
from ops.settings import load_settings

serve_tokenize = lambda_src.text_tokenizer().tokenize


def _texts(csv_path: Path) -> list[str]:
    with csv_path.open(encoding="utf-8", newline="") as fh:
        return [f"{title.strip()} {content.strip()}" for _, title, content in csv.reader(fh)]


def _assert_equal_on(texts: list[str]) -> None:
    mismatches = [t for t in texts if serve_tokenize(t) != preprocess.tokenize(t)]
    assert not mismatches, f"{len(mismatches)} of {len(texts)} rows differ, first: {mismatches[0][:200]!r}"


def test_parity_on_every_row_of_the_shipped_sample(tmp_path: Path) -> None:
    with tarfile.open(load_settings().sample_archive) as tar:
        tar.extractall(tmp_path, filter="data")
    texts = _texts(tmp_path / "dbpedia_csv" / "train.csv")
    assert len(texts) >= 10_000
    _assert_equal_on(texts)


def test_parity_on_the_shared_rows_the_sample_does_not_ship(shared_data: Path) -> None:
    # The shipped sample's train.csv is the shared one (tests/data/test_sample_data.py); its test.csv is not
    _assert_equal_on(_texts(shared_data / "test.csv"))
