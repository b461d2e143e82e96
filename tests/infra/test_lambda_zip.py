"""The Lambda zip: deterministic bytes, the function's own modules (and vocabulary), importable as the runtime
does."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from ml import vocabulary
from ml.lambda_src import LAMBDA_DIR, contract, text_tokenizer
from ops.infra.lambda_zip import build_lambda_zip
from tests.helpers import lambda_settings_env

# What the zip holds: lambda/'s modules, named here (not globbed) so that a new file is a decision
MODULES = [
    "contract.py",
    "explain.py",
    "feedback.py",
    "handler.py",
    "http_errors.py",
    "http_event.py",
    "metrics.py",
    "text_tokenizer.py",
]


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
    assert names == sorted(names) == MODULES
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
    for path in LAMBDA_DIR.glob("*.py"):
        (src / path.name).write_bytes(path.read_bytes())
    first = build_lambda_zip(tmp_path / "a.zip", src).read_bytes()
    (src / "handler.py").write_text((src / "handler.py").read_text() + "\n# changed\n")
    assert build_lambda_zip(tmp_path / "b.zip", src).read_bytes() != first


RIVER = contract.Vocabulary(frozenset({"river"}), frozenset({"the"}))  # a model's words, a few of them
# What the Lambda Python runtime ships besides the standard library: boto3 and what it needs.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def lambda_runtime(folder: Path) -> Path:
    """A folder holding only the runtime's packages (links to this venv's), like the Lambda's own path."""
    folder.mkdir()
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, name
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (folder / source.name).symlink_to(source)
    return folder


def test_zip_with_a_vocabulary_holds_it_at_its_root(tmp_path: Path) -> None:
    words = vocabulary.encode(RIVER, "ab" * 32, text_tokenizer().SCHEME)
    (tmp_path / "v.gz").write_bytes(words)
    with zipfile.ZipFile(build_lambda_zip(tmp_path / "f.zip", vocabulary=tmp_path / "v.gz")) as zf:
        assert zf.namelist() == [*MODULES, vocabulary.VOCABULARY]
        assert zf.read(vocabulary.VOCABULARY) == words


def test_zip_initialises_with_the_standard_library_and_the_runtime_s_boto3_only(tmp_path: Path) -> None:
    # GIVEN the zip (with a vocabulary) unpacked alone, and a path of only the runtime's packages
    model_sha256 = "ab" * 32
    (tmp_path / "v.gz").write_bytes(vocabulary.encode(RIVER, model_sha256, text_tokenizer().SCHEME))
    out = tmp_path / "unpacked"
    with zipfile.ZipFile(build_lambda_zip(tmp_path / "f.zip", vocabulary=tmp_path / "v.gz")) as zf:
        zf.extractall(out)
    code = (
        "import handler; print(len(handler._clients), len(handler._vocabularies), "
        "handler.lambda_handler({'body': ''}, None)['statusCode'])"
    )
    # WHEN a Python without this project's packages imports it, in the environment Terraform sets
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],
        cwd=out,
        env={
            **os.environ,
            **lambda_settings_env(),
            "N_LABELS": "14",  # the deployed model's class count, passed beside the settings
            "PYTHONPATH": str(lambda_runtime(tmp_path / "runtime")),
            "AWS_DEFAULT_REGION": "us-east-1",
            "VOCABULARY_FILE": vocabulary.VOCABULARY,
            "MODEL_SHA256": model_sha256,
        },
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    # THEN its initialisation made the endpoint client and read the vocabulary, and it answers a
    # non-HTTP event with a 400
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["1", "1", "400"]  # after the request's EMF line
