"""`invoke sweep`: settings compared over several fastText seeds, with the baseline beside them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ops.bench import sweep
from tests.helpers import run_invoke, write_own_data


def test_sweep_trains_every_variant_on_every_seed_and_writes_the_table(tmp_path: Path) -> None:
    # GIVEN 150 rows a class of the shipped data, two seeds and one variant without dropout copies
    base = {
        "data": "sample",
        "build_dir": str(tmp_path / "build"),
        "epochs": "2",
        "max_rows_per_class": "150",
        "dropout_views": "4",
    }
    out = tmp_path / "sweep.md"
    # WHEN the sweep runs with the baseline
    rows = sweep.run(base, [sweep.parse_variant("dropout_views=0")], (1, 2), True, out)
    # THEN each variant has one real run per seed, its own train channel, and both baselines
    assert [row["variant"] for row in rows] == ["current settings", "dropout_views=0"]
    assert [row["settings"]["dropout_views"] for row in rows] == [4, 0]
    keys = {f"{split}:{name}" for split in ("validation", "test") for name in sweep.SLICES}
    for row in rows:
        assert [r["seed"] for r in row["runs"]] == [1, 2]
        assert all(0.5 < r["validation_accuracy"] <= 1 and 0.5 < r["test_accuracy"] <= 1 for r in row["runs"])
        assert row["baseline"]["train_file"] == "train_rows"
        assert row["baseline_on_channel"]["train_file"] == "train"
        # every run and the peer are scored on every slice; the titled slice is the split file itself
        assert all(set(r["slices"]) == keys for r in row["runs"])
        assert set(row["baseline"]["slices"]) == keys
        # the peer made for the first words only is scored on that slice of validation and test
        assert set(row["peer_on_first_words"]) == {"validation:short", "test:short"}
        assert all(0 < v <= 1 for v in row["peer_on_first_words"].values())
        for r in row["runs"]:
            assert r["slices"]["test:titled"] == r["test_accuracy"]
            assert r["slices"]["validation:titled"] == r["validation_accuracy"]
        assert row["mean_slices"]["test:content"] == sum(r["slices"]["test:content"] for r in row["runs"]) / 2
    # the two variants share the train rows (the report's baseline input) but not the train channel
    folders = list((tmp_path / "build" / "data" / "prepared").iterdir())
    assert len(folders) == 2
    assert (folders[0] / "train_rows.txt").read_bytes() == (folders[1] / "train_rows.txt").read_bytes()
    assert (folders[0] / "train.txt").read_bytes() != (folders[1] / "train.txt").read_bytes()
    assert rows[0]["baseline"]["size_bytes"] == rows[1]["baseline"]["size_bytes"]
    assert rows[0]["baseline_on_channel"]["size_bytes"] > rows[1]["baseline_on_channel"]["size_bytes"] > 0
    table = out.read_text(encoding="utf-8").splitlines()
    assert [line.split("|")[1].strip() for line in table[4:6]] == ["current settings", "dropout_views=0"]
    assert "Slices of validation:" in table and "Slices of test:" in table
    assert any(line.startswith("The peer fitted on the train rows' first 8 tokens alone") for line in table)
    saved = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert saved["rows"] == json.loads(json.dumps(rows))


@pytest.mark.slow
def test_sweep_reads_own_data_by_the_columns_given(tmp_path: Path) -> None:
    # GIVEN a user's CSV whose labels and text sit in columns named topic and body
    source = write_own_data(tmp_path / "data").read_text(encoding="utf-8").splitlines()
    renamed = tmp_path / "data" / "reviews.csv"
    renamed.write_text("\n".join(["topic,body", *source[1:]]) + "\n", encoding="utf-8")
    env = {
        **os.environ,
        "DBP_BUILD_DIR": str(tmp_path / "build"),
        "DBP_EPOCHS": "3",
        "DBP_DROPOUT_VIEWS": "1",
        "DBP_MIN_COUNT": "1",
        "DBP_THREADS": "1",
    }
    out = tmp_path / "sweep.md"
    # WHEN the sweep is told those columns, as `invoke train` is
    result = run_invoke(
        env,
        "sweep",
        "--data",
        str(renamed),
        "--label-column",
        "topic",
        "--text-column",
        "body",
        "--seeds",
        "1",
        "--out",
        str(out),
    )
    # THEN it trains on that file and writes its table
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["rows"]
    assert row["runs"][0]["validation_accuracy"] > 0.5
    # and the peer made for the first words is scored against the same (escaped) label names
    assert row["peer_on_first_words"]["validation:short"] > 0.5
