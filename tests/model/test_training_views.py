"""The train channel's extra lines per row: fixed views plus seeded token-dropout copies."""

from __future__ import annotations

from collections import Counter

from ml import preprocess
from ml.data import Row

ROW = Row(
    3,
    "Walter Johnson",
    "Walter Perry Johnson was a Major League Baseball right-handed pitcher. He played 21 seasons.",
)


def test_each_row_gives_the_fixed_views_then_the_dropout_copies() -> None:
    views = preprocess.training_views(ROW, seed=42, dropout_views=6)
    text = preprocess.tokenize(ROW.text)
    assert len(views) == len(preprocess.VIEWS) + 6
    assert views[:4] == [
        " ".join(text),
        " ".join(preprocess.tokenize(ROW.content.split(". ")[0])),
        " ".join(preprocess.tokenize(ROW.content)[:8]),
        "walter johnson",
    ]
    for copy in views[4:]:
        kept = copy.split()
        assert 0 < len(kept) < len(text), "a dropout copy keeps some tokens and drops some"
        position = iter(text)
        assert all(token in position for token in kept), "a dropout copy keeps the tokens' order"
    assert len(set(views[4:])) > 1, "each copy draws its own tokens"


def test_dropout_copies_depend_on_the_seed_only() -> None:
    first = preprocess.training_views(ROW, seed=42, dropout_views=5)
    assert preprocess.training_views(ROW, seed=42, dropout_views=5) == first
    assert preprocess.training_views(ROW, seed=7, dropout_views=5)[4:] != first[4:]
    assert preprocess.training_views(ROW, seed=42, dropout_views=0) == first[:4]


def test_train_channel_has_one_line_per_view_and_the_baseline_one_per_row() -> None:
    classes = ["Company", "EducationalInstitution", "Artist", "Athlete", *[f"Class{i}" for i in range(4, 14)]]
    rows = [ROW, Row(0, "Acme", "Acme Corp is a company.")]
    lines, plain = preprocess.train_lines(rows, classes, 42, 3)
    labels = Counter(line.split(" ", 1)[0] for line in lines)
    per_row = len(preprocess.VIEWS) + 3
    assert labels == {"__label__Athlete": per_row, "__label__Company": per_row}
    assert plain == [
        preprocess.format_line("Athlete", " ".join(preprocess.tokenize(ROW.text))),
        "__label__Company acme acme corp is a company\n",  # title + content
    ], "the baseline's input is the train rows, one whole-text line each"
