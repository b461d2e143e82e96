"""Real labelled data besides DBPedia (docs/own-data.md): a small slice trained, deployed locally and
classified through the real local API, which answers that data set's labels.

The data are real: Debian's fortunes by topic (shipped as data/fortunes.csv) and the shared DBPedia rows
relabelled with coarse classes (built by ml.corpora as `invoke corpora` builds it).
"""

from __future__ import annotations

import csv
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ml.config import ROOT
from ml.corpora import build_dbpedia_coarse
from ml.pipeline import run
from ops.local.stack import start_stack
from tests.helpers import make_settings

FORTUNES = ROOT / "data" / "fortunes.csv"
SMALL = {"dropout_views": 1, "epochs": 10, "min_count": 1, "threads": 1}


def labels_of(path: Path) -> set[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {row["label"] for row in csv.DictReader(fh)}


def classify_via_api(tmp: Path, text: str, **overrides: Any) -> dict[str, Any]:
    """Train and deploy (as `invoke train` does locally), start the stack, POST ``text`` to /classify."""
    settings = make_settings(tmp, **SMALL, **overrides)
    run(settings)
    with start_stack(settings, ephemeral_ports=True) as stack:
        request = urllib.request.Request(
            stack.api.url + "/classify",
            json.dumps({"text": text}).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
    return answer


@pytest.mark.slow
def test_fortunes_model_answers_a_fortune_topic(tmp_path: Path) -> None:
    # GIVEN the shipped fortunes (2,777 sayings), trained small and deployed locally
    labels = labels_of(FORTUNES)
    text = "The computer crashed again: the program has a bug in its memory allocator and the disk is full."
    # WHEN a computing text goes through the local API (the real handler)
    answer = classify_via_api(tmp_path, text, data=str(FORTUNES))
    # THEN it answers computers, and every label of its top list is a fortune topic
    assert labels == {"computers", "food", "law", "politics", "science"}
    assert answer["label"] == "computers", answer
    assert {entry["label"] for entry in answer["top"]} <= labels, answer


@pytest.mark.slow
def test_coarse_dbpedia_model_answers_a_coarse_class(tmp_path: Path, shared_data: Path) -> None:
    # GIVEN the shared DBPedia rows relabelled coarse, 200 a class, trained and deployed locally
    data = tmp_path / "dbpedia-coarse.csv"
    counts = build_dbpedia_coarse(shared_data, data)
    text = "Nowa Wola is a village in the administrative district of Gmina Lipsko in east-central Poland."
    # WHEN a text about a village goes through the local API
    answer = classify_via_api(
        tmp_path, text, data=str(data), text_column="title,content", max_rows_per_class=200
    )
    # THEN it answers Place, and its top list holds coarse classes only, none of DBPedia's 14
    assert set(counts) == {"Nature", "Organisation", "Person", "Place", "Transport", "Work"}
    assert answer["label"] == "Place", answer
    assert {entry["label"] for entry in answer["top"]} <= set(counts), answer
