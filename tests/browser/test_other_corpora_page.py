"""The page of a model trained on real data other than DBPedia (docs/own-data.md, issue 26 point 5), in
headless Chromium over the real local stack: Debian's fortunes by topic (shipped) and the shared DBPedia rows
relabelled coarse. Neither has a labels.json, so the page names the labels as written and draws its example
buttons from the validation split."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from ml.config import ROOT
from ml.corpora import build_dbpedia_coarse
from ml.pipeline import run
from ops.local.stack import start_stack
from tests.helpers import make_settings

from .conftest import Tab
from .page_actions import submit

pytestmark = pytest.mark.slow

SMALL = {"dropout_views": 1, "epochs": 10, "min_count": 1, "threads": 1}


def check_page(
    tab: Tab, tmp: Path, text: str, expected: str, labels: set[str], **overrides: str | int
) -> None:
    """Train and deploy locally, open the page, check its topic list and examples, classify ``text``."""
    settings = make_settings(tmp, **SMALL, **overrides)
    run(settings)
    with start_stack(settings, ephemeral_ports=True) as stack:
        page = tab.page
        page.goto(stack.site_url)
        # THEN the topic list is the data's labels as written, and the examples are its validation rows
        expect(page.locator("#classes li")).to_have_count(len(labels))
        assert {t.strip() for t in page.locator("#classes li").all_text_contents()} == labels
        captions = page.locator(".example").all_inner_texts()
        assert captions and set(captions) <= labels
        # WHEN a text about one of them is classified  THEN the page names that label, its top list theirs
        submit(page, text)
        expect(page.locator("#label")).to_have_text(expected)
        assert {n.strip() for n in page.locator("#top li .name").all_text_contents()} <= labels
        assert tab.page_errors == []


def test_the_fortunes_page_lists_the_five_topics_and_answers_one(tab: Tab, tmp_path: Path) -> None:
    text = "The computer crashed again: the program has a bug in its memory allocator and the disk is full."
    labels = {"computers", "food", "law", "politics", "science"}
    check_page(tab, tmp_path, text, "computers", labels, data=str(ROOT / "data" / "fortunes.csv"))


def test_the_coarse_dbpedia_page_lists_six_classes_and_answers_one(
    tab: Tab, tmp_path: Path, shared_data: Path
) -> None:
    data = tmp_path / "dbpedia-coarse.csv"
    labels = set(build_dbpedia_coarse(shared_data, data))
    text = "Nowa Wola is a village in the administrative district of Gmina Lipsko in east-central Poland."
    coarse = {"data": str(data), "text_column": "title,content", "max_rows_per_class": 200}
    check_page(tab, tmp_path, text, "Place", labels, **coarse)
