"""Your own labelled text: the readers, the label tokens, the checks and the splits (docs/own-data.md)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ml.data import DataError, Dataset, Row, cap_per_class, make_splits, read_rows, resolve_dataset
from ml.labels import LABEL_PREFIX, label_names, to_label, to_token
from ml.readers import Columns, Example, read_examples
from tests.helpers import make_settings

DBPEDIA = ["Company", "EducationalInstitution", "MeanOfTransportation", "NaturalPlace", "WrittenWork"]


def rows(per_label: dict[str, int]) -> list[tuple[str, str]]:
    """(label, text) pairs, each text distinct, labels interleaved as a real file would have them."""
    out = []
    for i in range(max(per_label.values())):
        out += [(label, f"text {i} about {label} number {i}") for label, n in per_label.items() if i < n]
    return out


def write_csv(path: Path, pairs: list[tuple[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([("label", "text"), *pairs])
    return path


def write_jsonl(path: Path, pairs: list[tuple[str, str]]) -> Path:
    lines = (json.dumps({"label": label, "text": text}, ensure_ascii=False) for label, text in pairs)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_fasttext(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{LABEL_PREFIX}{label} {text}\n" for label, text in pairs), encoding="utf-8")
    return path


# --- label tokens -------------------------------------------------------------------------------------
@given(st.text(min_size=1))
def test_every_label_has_a_token_blazingtext_can_carry_and_it_maps_back(label: str) -> None:
    token = to_token(label)
    assert to_label(token) == label
    assert not any(ch.isspace() for ch in token) and not token.startswith(LABEL_PREFIX)
    assert (LABEL_PREFIX + token).split() == [LABEL_PREFIX + token], "one word on a fastText line"


def test_safe_labels_are_their_own_tokens_and_unsafe_ones_are_escaped() -> None:
    assert [to_token(name) for name in DBPEDIA] == DBPEDIA
    assert to_token("Science Fiction") == "Science%20Fiction"
    assert to_token("100%") == "100%25"
    assert to_token("__label__x") == "%5F_label__x"
    assert to_token("Café") == "Café", "letters of any script stay readable"
    names = label_names(["Science%20Fiction", "Company"])
    assert names == {"Science%20Fiction": "Science Fiction", "Company": "Company"}


# --- readers ------------------------------------------------------------------------------------------
def test_csv_jsonl_and_fasttext_give_the_same_examples(tmp_path: Path) -> None:
    pairs = [("Sport", "Ein Tor in der 90. Minute"), ("Politics", 'He said "no", twice')]
    files = {
        "csv": write_csv(tmp_path / "a.csv", pairs),
        "jsonl": write_jsonl(tmp_path / "a.jsonl", pairs),
        "fasttext": write_fasttext(tmp_path / "a.txt", pairs),
    }
    expected = [Example(label, "", text, line) for line, (label, text) in enumerate(pairs, start=1)]
    for fmt, path in files.items():
        got = list(read_examples(path, fmt, Columns()))
        shift = 1 if fmt == "csv" else 0  # the header is line 1
        assert got == [e._replace(line=e.line + shift) for e in expected], fmt


def test_several_text_columns_are_joined_as_title_and_content(tmp_path: Path) -> None:
    path = tmp_path / "news.csv"
    path.write_text(
        "\ufeffid,headline,body,topic\n1,Rain again,More rain is due,weather\n"
        '2,"Goal!","A late goal,\nthen a draw", sport\n',
        encoding="utf-8",
    )
    columns = Columns("topic", ("headline", "body"))
    got = list(read_examples(path, "csv", columns))
    assert got == [
        Example("weather", "Rain again", "More rain is due", 2),
        Example("sport", "Goal!", "A late goal,\nthen a draw", 4),
    ], "a BOM is dropped, fields are stripped, a quoted field may span lines"


def test_a_folder_with_train_and_test_files(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", rows({"a b": 20, "c": 15}))
    write_jsonl(tmp_path / "test.jsonl", rows({"a b": 4, "c": 3}))
    settings = make_settings(tmp_path, data=str(tmp_path))
    dataset = resolve_dataset(settings)
    assert dataset.own is not None and dataset.own.labels == ["a b", "c"]
    assert dataset.classes == ["a%20b", "c"] and dataset.origin == str(tmp_path)
    splits = make_splits(dataset, settings)
    assert len(splits.test) == 7 and len(splits.train) + len(splits.validation) == 35
    assert splits.test_source.startswith(f"test file {tmp_path / 'test.jsonl'} (7 rows)")
    assert "also appear" in splits.test_source, "rows 0-3 of each label are in both files"


# --- splits -------------------------------------------------------------------------------------------
def test_imbalanced_labels_are_split_stratified_and_the_cap_draws_as_for_dbpedia(tmp_path: Path) -> None:
    counts = {"big": 300, "mid": 60, "small": 10}
    path = write_csv(tmp_path / "d.csv", rows(counts))
    settings = make_settings(tmp_path, data=str(path))
    splits = make_splits(resolve_dataset(settings), settings)
    for name in ("train", "validation", "test"):
        assert set(Counter(row.label for row in getattr(splits, name))) == {0, 1, 2}, name
    assert Counter(row.label for row in splits.test) == {0: 30, 1: 6, 2: 1}
    assert splits.test_source.startswith("carved from the train file: 10% of every class, seed 42")
    assert "also appear" not in splits.test_source

    capped_settings = settings.replace(max_rows_per_class=40)
    capped = make_splits(resolve_dataset(capped_settings), capped_settings)
    kept = capped.train + capped.validation + capped.test
    assert Counter(row.label for row in kept) == {0: 40, 1: 40, 2: 10}
    labels = ["big", "mid", "small"]
    every = [Row(labels.index(e.label), e.title, e.content) for e in read_examples(path, "csv", Columns())]
    assert set(kept) == set(cap_per_class(every, 40, 42)), "the same rows as DBPedia's cap would keep"


def test_two_hundred_labels(tmp_path: Path) -> None:
    labels = {f"label {i:03}": 10 for i in range(200)}
    settings = make_settings(tmp_path, data=str(write_jsonl(tmp_path / "many.jsonl", rows(labels))))
    dataset = resolve_dataset(settings)
    assert len(dataset.classes) == 200 and len(set(dataset.classes)) == 200
    splits = make_splits(dataset, settings)
    assert len({row.label for row in splits.validation}) == 200


def test_duplicates_of_train_rows_in_a_separate_test_file_are_counted(tmp_path: Path) -> None:
    train = rows({"x": 12, "y": 12})
    test = [*train[:3], ("y", "a text of its own")]
    settings = make_settings(
        tmp_path,
        data=str(write_csv(tmp_path / "train.csv", train)),
        test_data=str(write_csv(tmp_path / "other.csv", test)),
    )
    splits = make_splits(resolve_dataset(settings), settings)
    assert splits.test_source.endswith("; 3 of its 4 rows also appear in the train rows")


# --- bad files: one line naming the file, the line and what is wrong -------------------------------------
GOOD = "label,text\n" + "".join(f"{c},text {i}\n" for i in range(10) for c in "ab")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "d.csv",
            "category,body\na,x\n",
            "d.csv: no column 'label', 'text' in the header (columns found: category, body)",
        ),
        ("d.csv", GOOD + ",some text\n", "d.csv:22: empty label"),
        ("d.csv", GOOD + "a,  \n", "d.csv:22: empty text"),
        ("d.csv", GOOD + "a,b,c\n", "d.csv:22: 3 fields where the header has 2"),
        ("d.csv", "label,text\n", "d.csv holds no rows (only a header)"),
        ("d.csv", "", "d.csv is empty"),
        ("d.csv", "label,text\n" + "a,x\n" * 12, "d.csv: only one label, 'a' (12 rows)"),
        ("d.csv", GOOD + "c,t\n" * 2, "d.csv: 1 label(s) with fewer than min_rows_per_class 10 rows: 'c' (2"),
        ("d.jsonl", '{"label": "a", "text": "x"}\n{"label": "a"\n', "d.jsonl:2: not valid JSON"),
        ("d.jsonl", '{"label": "a", "body": "x"}\n', "d.jsonl:1: no key 'text' (keys found: label, body)"),
        ("d.jsonl", '{"label": ["a"], "text": "x"}\n', "d.jsonl:1: 'label' must be a string, not list"),
        ("d.jsonl", "[1, 2]\n", "d.jsonl:1: a JSON list, not an object"),
        ("d.txt", "__label__a x\nno label here\n", "d.txt:2: the line does not begin with __label__"),
        ("d.txt", "__label__a __label__b x\n", "d.txt:1: several labels on one line"),
        ("d.txt", "just some prose\n", "d.txt: cannot tell its format"),
    ],
)
def test_a_bad_file_is_one_line_naming_file_line_and_problem(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        resolve_dataset(make_settings(tmp_path, data=str(path)))
    assert str(caught.value).startswith(str(tmp_path)) and message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_binary_file_and_a_file_in_another_encoding(tmp_path: Path) -> None:
    binary = tmp_path / "photo.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    with pytest.raises(DataError, match=r"photo\.csv: a binary file, not text"):
        resolve_dataset(make_settings(tmp_path, data=str(binary)))

    latin = tmp_path / "latin.csv"
    text = "label,text\n" + "".join(f"{c},Première année: café crème {i}\n" for i in range(10) for c in "ab")
    latin.write_bytes(text.encode("cp1252"))
    looks = r"latin\.csv: not UTF-8 text \(it looks like [\w ]*cp1252[\w ]*\); convert it to UTF-8"
    with pytest.raises(DataError, match=looks):
        resolve_dataset(make_settings(tmp_path, data=str(latin)))

    late = tmp_path / "late.csv"  # UTF-8 for the first 64 KiB, then a Windows-1252 line
    late.write_bytes(GOOD.encode() + b"a,ok\n" * 20_000 + "b,déjà vu\n".encode("cp1252"))
    with pytest.raises(DataError, match=r"late.csv:20022: not UTF-8 text"):
        resolve_dataset(make_settings(tmp_path, data=str(late)))


def test_test_files_that_do_not_fit(tmp_path: Path) -> None:
    train = write_csv(tmp_path / "train.csv", rows({"a": 10, "b": 10}))
    unknown = write_csv(tmp_path / "t.csv", [("a", "x"), ("zebra", "y")])
    with pytest.raises(DataError, match=r"t.csv: label\(s\) the train file does not have: 'zebra' \(1 row"):
        resolve_dataset(make_settings(tmp_path, data=str(train), test_data=str(unknown)))
    with pytest.raises(DataError, match="--test-data goes with --data PATH of your own data"):
        resolve_dataset(make_settings(tmp_path, data="sample", test_data=str(unknown)))
    write_csv(tmp_path / "test.csv", rows({"a": 2, "b": 2}))
    with pytest.raises(DataError, match=r"holds test\.csv and --test-data names"):
        resolve_dataset(make_settings(tmp_path, data=str(tmp_path), test_data=str(unknown)))
    (tmp_path / "train.jsonl").write_text("{}\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"several train files \(train.csv, train.jsonl\)"):
        resolve_dataset(make_settings(tmp_path, data=str(tmp_path)))


def test_dbpedia_archives_and_folders_still_take_the_dbpedia_path(tmp_path: Path) -> None:
    dataset: Dataset = resolve_dataset(make_settings(tmp_path, data="sample"))
    assert dataset.own is None and len(dataset.classes) == 14
    folder = resolve_dataset(make_settings(tmp_path, data=str(dataset.folder.parent)))
    assert folder.own is None and folder.classes == dataset.classes
    assert len(read_rows(folder.train_csv)) > 0
