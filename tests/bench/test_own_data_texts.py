"""The benchmark's real texts come from the data it is run on, your own included (issue 26)."""

from __future__ import annotations

from pathlib import Path

from ops.bench.speed import real_texts
from tests.helpers import own_data_settings


def test_the_benchmark_sends_the_rows_of_your_own_file(tmp_path: Path) -> None:
    # GIVEN your own CSV of 3 x 40 rows  WHEN the benchmark draws 130 texts from it
    texts = real_texts(own_data_settings(tmp_path), 130)
    # THEN they are its rows as written (title-less: the text column is the content), cycled
    assert len(texts) == 130 and all(" Story " in f" {t}" and t.endswith(". The end.") for t in texts)
    assert texts[120] == texts[0]
