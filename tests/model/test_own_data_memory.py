"""A large labelled file is read streamed: checking it, drawing capped rows from it and failing on its last
line all keep memory flat (issue 26: a 2 GB file; a 200 MB one shows the same, in seconds)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ml.config import ROOT

MB = 1 << 20
LABELS = ("alpha", "beta", "gamma delta", "epsilon")

# Runs in its own process, so that its peak resident memory (ru_maxrss) is the reading's alone.
SCRIPT = """
import json, resource, sys
from pathlib import Path
from ops.settings import load_settings
from ml.data import DataError, make_splits, resolve_dataset

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

path, build = Path(sys.argv[1]), Path(sys.argv[2])
settings = load_settings(
    build_dir=build / "build", terraform_dir=build / "tf", data=str(path), max_rows_per_class=100
)
before = peak()
dataset = resolve_dataset(settings)
splits = make_splits(dataset, settings)
with path.open("a", encoding="utf-8") as fh:
    fh.write("alpha,a ragged,last row\\n")
try:
    resolve_dataset(settings)
    error = ""
except DataError as exc:
    error = str(exc)
print(json.dumps({
    "before": before, "after": peak(), "rows": dataset.own.train.rows, "error": error,
    "kept": len(splits.train) + len(splits.validation) + len(splits.test),
}))
"""


def write_large_csv(path: Path, size: int) -> int:
    """A CSV of about ``size`` bytes: 1 KB texts under four labels; returns its number of lines."""
    block = "".join(f"{LABELS[i % 4]},row {i} {'word ' * 200}\n" for i in range(1000)).encode()
    blocks = size // len(block) + 1
    with path.open("wb") as fh:
        fh.write(b"label,text\n")
        for _ in range(blocks):
            fh.write(block)
    return 1 + 1000 * blocks


@pytest.mark.slow
def test_a_large_file_is_checked_and_read_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "large.csv"
    lines = write_large_csv(path, 200 * MB)
    size = path.stat().st_size
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(path), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    got = json.loads(result.stdout.splitlines()[-1])
    assert got["rows"] == lines - 1 and got["kept"] == 400
    assert got["error"].startswith(f"{path}:{lines + 1}: 3 fields where the header has 2")
    grown = got["after"] - got["before"]
    assert grown < 40 * MB, f"reading a {size / MB:.0f} MB file grew the peak memory by {grown / MB:.0f} MB"
