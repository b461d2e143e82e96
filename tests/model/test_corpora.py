"""`invoke corpora`: the fortunes CSV from fortune files, and its rebuild from the package (ml/corpora.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from ml.config import ROOT
from ml.corpora import FORTUNE_TOPICS, build_fortunes

PACKAGE = Path("/usr/share/games/fortunes")


def test_fortunes_are_split_on_percent_lines_and_shared_sayings_dropped(tmp_path: Path) -> None:
    # GIVEN fortune files in the package's format, one saying in two topics and one twice in a topic
    folder = tmp_path / "fortunes"
    folder.mkdir()
    for topic in FORTUNE_TOPICS:
        (folder / topic).write_text(f"Only {topic}.\n%\nShared  saying,\n\tfolded.\n%\n", encoding="utf-8")
    (folder / "law").write_text(
        "A 100% lawyer.\n%\nA 100% lawyer.\n%\nThe court\nrose.\n%\n", encoding="utf-8"
    )
    out = tmp_path / "fortunes.csv"
    # WHEN built
    counts = build_fortunes(folder, out, "version 1")
    # THEN each saying is one row, whitespace folded, and sayings in two topics or twice in one are gone
    with out.open(encoding="utf-8", newline="") as fh:
        rows = [(row["label"], row["text"]) for row in csv.DictReader(fh)]
    assert ("law", "The court rose.") in rows and ("computers", "Only computers.") in rows
    assert all("Shared" not in text and "lawyer" not in text for _, text in rows)
    assert counts["law"] == 1 and sum(counts.values()) == len(rows) == len(FORTUNE_TOPICS)
    assert "version 1" in out.with_suffix(".md").read_text(encoding="utf-8")


@pytest.mark.skipif(
    not (PACKAGE / "computers").is_file(), reason="Debian's fortunes package is not installed"
)
def test_the_shipped_fortunes_are_rebuilt_byte_for_byte_from_the_package(tmp_path: Path) -> None:
    out = tmp_path / "fortunes.csv"
    build_fortunes(PACKAGE, out, "version 1:1.99.1-7.3")
    assert out.read_bytes() == (ROOT / "data" / "fortunes.csv").read_bytes()
    assert out.with_suffix(".md").read_bytes() == (ROOT / "data" / "fortunes.md").read_bytes()
