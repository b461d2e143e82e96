"""The command line: bad input ends with a clear message and exit code 1, never a traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import run_invoke


def invoke(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DBP_BUILD_DIR": str(tmp_path / "build"), "DBP_TERRAFORM_DIR": str(tmp_path / "tf")}
    return run_invoke(env, *args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train", "--epochs", "many"), "setting 'epochs' expects int"),
        (("train", "--learning-rate", "-1"), "'learning_rate' must be positive"),
        (("train", "--target", "gcp"), "must be one of local, aws"),
        (("train", "--data", "/no/such/archive.tar.gz"), "no such file or folder"),
        (("train", "--early-stopping", "maybe"), "expects bool"),
    ],
)
def test_bad_flags_fail_cleanly(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = invoke(tmp_path, *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_environment_value_fails_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBP_TOP_K", "99")
    result = invoke(tmp_path, "train")
    assert result.returncode == 1 and "'top_k' must be in 1..14" in result.stderr


def test_every_task_has_help_for_every_flag() -> None:
    import inspect

    import tasks

    for task in (tasks.train, tasks.up, tasks.sample, tasks.lint, tasks.test):
        flags = set(inspect.signature(task.body).parameters) - {"c"}
        helped = set(task.help) | {a.name for a in task.get_arguments() if a.help}
        assert flags <= helped, f"{task.name} lacks help for {sorted(flags - helped)}"
