"""The shipped data: every shared real row, attributed, readable by the pipeline, cappable per class."""

from __future__ import annotations

import tarfile
from collections import Counter
from pathlib import Path

import pytest

from ml.data import N_CLASSES, cap_per_class, read_classes, read_rows, resolve_dataset
from ops.settings import load_settings

SAMPLE = load_settings().sample_archive


@pytest.fixture(scope="module")
def sample_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    with tarfile.open(SAMPLE) as tar:
        tar.extractall(out, filter="data")
    return out / "dbpedia_csv"


def test_sample_is_small_enough_to_ship() -> None:
    assert SAMPLE.stat().st_size < 3 * 1024 * 1024


def test_shipped_data_is_every_shared_row_in_every_class(sample_folder: Path, shared_data: Path) -> None:
    # GIVEN the shipped data WHEN its rows are counted by class
    counts = Counter(row.label for row in read_rows(sample_folder / "train.csv"))
    # THEN every class is there with all its shared rows: the quick start trains on what the bench does
    assert len(counts) == N_CLASSES and min(counts.values()) >= 2000
    assert counts == Counter(row.label for row in read_rows(shared_data / "train.csv"))


def test_the_per_class_cap_draws_a_seeded_stratified_slice(sample_folder: Path) -> None:
    # GIVEN the shipped rows WHEN capped at 300 a class (the tests cap them at 600: tests/helpers.py)
    rows = read_rows(sample_folder / "train.csv")
    capped = cap_per_class(rows, 300, seed=42)
    # THEN every class has 300 of its own rows, in the file's order, the same for the same seed only
    assert Counter(row.label for row in capped) == dict.fromkeys(range(N_CLASSES), 300)
    positions = {id(row): i for i, row in enumerate(rows)}
    assert [positions[id(row)] for row in capped] == sorted(positions[id(row)] for row in capped)
    assert capped == cap_per_class(rows, 300, seed=42) != cap_per_class(rows, 300, seed=7)
    assert cap_per_class(rows, 0, seed=42) == rows == cap_per_class(rows, 10_000, seed=42)


def test_sample_rows_are_byte_identical_to_real_rows(sample_folder: Path, shared_data: Path) -> None:
    real = set((shared_data / "train.csv").read_text(encoding="utf-8").splitlines())
    sample = (sample_folder / "train.csv").read_text(encoding="utf-8").splitlines()
    missing = [line for line in sample if line not in real]
    assert not missing, f"{len(missing)} sample rows are not real DBPedia rows, e.g. {missing[:1]}"


def test_sample_carries_license_attribution_and_class_names(sample_folder: Path, shared_data: Path) -> None:
    readme = (sample_folder / "README.md").read_text(encoding="utf-8")
    assert "CC BY-SA 3.0" in readme and "Xiang Zhang" in readme
    assert read_classes(sample_folder / "classes.txt") == read_classes(shared_data / "classes.txt")
    provenance = (sample_folder / "provenance.csv").read_text(encoding="utf-8").splitlines()
    assert len(provenance) - 1 == len((sample_folder / "train.csv").read_text(encoding="utf-8").splitlines())


def test_default_data_choice_is_the_sample_when_no_full_archive_was_downloaded(tmp_path: Path) -> None:
    settings = load_settings(build_dir=tmp_path)
    dataset = resolve_dataset(settings)
    assert dataset.origin == "sample"
    assert dataset.test_csv is None
    assert dataset.classes[3] == "Athlete"
