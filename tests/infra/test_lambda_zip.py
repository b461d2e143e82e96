"""The Lambda zip: deterministic bytes, only the function's own modules, importable as the runtime does."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from ops.infra.lambda_zip import LAMBDA_SRC, build_lambda_zip
from tests.helpers import lambda_settings_env


def test_same_sources_give_identical_bytes(tmp_path: Path) -> None:
    first = build_lambda_zip(tmp_path / "a.zip").read_bytes()
    assert build_lambda_zip(tmp_path / "b.zip").read_bytes() == first


def test_every_entry_carries_the_fixed_1980_timestamp(tmp_path: Path) -> None:
    # Zip timestamps have two-second resolution, so comparing two builds a second apart would catch a
    # leaked clock only half the time: every entry's date_time is checked instead.
    with zipfile.ZipFile(build_lambda_zip(tmp_path / "f.zip")) as zf:
        stamps = {info.filename: info.date_time for info in zf.infolist()}
    assert stamps and set(stamps.values()) == {(1980, 1, 1, 0, 0, 0)}, stamps


def test_zip_holds_only_the_handler_modules(tmp_path: Path) -> None:
    with zipfile.ZipFile(build_lambda_zip(tmp_path / "f.zip")) as zf:
        names = zf.namelist()
        modes = {info.external_attr >> 16 for info in zf.infolist()}
    assert names == sorted(names) == ["handler.py", "text_tokenizer.py"]
    assert modes == {0o100644}


def test_unchanged_rebuild_does_not_touch_the_file(tmp_path: Path) -> None:
    out = build_lambda_zip(tmp_path / "f.zip")
    before = out.stat().st_mtime_ns
    time.sleep(0.05)
    build_lambda_zip(out)
    assert out.stat().st_mtime_ns == before


def test_changed_source_changes_the_zip(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for path in LAMBDA_SRC.glob("*.py"):
        (src / path.name).write_bytes(path.read_bytes())
    first = build_lambda_zip(tmp_path / "a.zip", src).read_bytes()
    (src / "handler.py").write_text((src / "handler.py").read_text() + "\n# changed\n")
    assert build_lambda_zip(tmp_path / "b.zip", src).read_bytes() != first


def test_zip_imports_with_the_standard_library_only(tmp_path: Path) -> None:
    # GIVEN the zip unpacked alone WHEN imported by a Python without this project's packages
    out = tmp_path / "unpacked"
    with zipfile.ZipFile(build_lambda_zip(tmp_path / "f.zip")) as zf:
        zf.extractall(out)
    code = "import handler, sys; print(handler.lambda_handler({'body': ''}, None)['statusCode'])"
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=out,
        env={**os.environ, **lambda_settings_env()},  # as Terraform sets them
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    # THEN it imports (boto3 is only needed when the endpoint is called) and answers a bad request
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "400"
