"""The command line: bad input ends with a clear message and exit code 1, never a traceback."""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from ml.config import ROOT
from ml.fsutil import file_digest
from tests.helpers import WALTER_JOHNSON, run_invoke, write_own_data


def arguments(task: Any) -> list[Any]:
    """A task's arguments as `invoke --help` shows them (on a copy: invoke hands each help text out once)."""
    return copy.deepcopy(task).get_arguments()


def invoke(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DBP_BUILD_DIR": str(tmp_path / "build"), "DBP_TERRAFORM_DIR": str(tmp_path / "tf")}
    return run_invoke(env, *args)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train", "--epochs", "many"), "--epochs many: must be a whole number"),
        (("train", "--learning-rate", "-1"), "--learning-rate -1: must be above 0"),
        (("train", "--learning-rate", "5"), "--learning-rate 5: must be at most 1"),
        (("train", "--target", "gcp"), "--target gcp: must be one of local or aws"),
        (("classify", "in.csv", "out.jsonl", "-k", "201"), "-k 201: must be at most 200"),
        (("classify", "in.csv", "out.jsonl", "--batch-size", "0"), "--batch-size 0: must be at least 1"),
        (("train", "--data", "/no/such/archive.tar.gz"), "no such file or folder"),
        (("train", "--early-stopping", "maybe"), "--early-stopping maybe: must be true or false"),
        (("train", "--data", "README.md"), "README.md: cannot tell its format"),
        (("train", "--data", "data/dbpedia_sample.tar.xz", "--test-data", "x.csv"), "--test-data goes with"),
        (("train", "--text-column", "title,"), "--text-column title,: is not valid"),
        (("train", "--min-rows-per-class", "2"), "--min-rows-per-class 2: must be at least 3"),
        (("evaluate", "--model", "README.md"), "README.md is not a readable model archive"),
        (("train", "--dropout-views", "-1"), "--dropout-views -1: must be at least 0"),
        (("sweep", "--variant", "epochs"), "write name=value pairs separated by commas"),
        (("sweep", "--variant", "epochs=10,nope=1"), "unknown setting(s): nope"),
        (("sweep", "--seeds", "1,x"), "write whole numbers separated by commas"),
    ],
)
def test_bad_flags_fail_cleanly(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = invoke(tmp_path, *args)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert message in last and last.startswith("error: "), "the error is the last line, on its own"
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("label,text\nok,fine\nok,très bien\n".encode("cp1252"), "reviews.csv: not UTF-8 text ("),
        (b"label,text\n" + b"a,x\nb,y\n" * 10 + b"a,x,z\n", "reviews.csv:22: 3 fields where the header has"),
        (b"label,body\na,x\n", "reviews.csv: no column 'text' in the header (columns found: label, body)"),
    ],
)
def test_a_bad_file_of_your_own_fails_cleanly(tmp_path: Path, content: bytes, message: str) -> None:
    data = tmp_path / "reviews.csv"
    data.write_bytes(content)
    result = invoke(tmp_path, "train", "--data", str(data))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {data}") and message in last, "the file, the line and what is wrong"
    assert "Traceback" not in result.stderr + result.stdout


def test_bad_environment_value_fails_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DBP_TOP_K", "999")
    result = invoke(tmp_path, "train")
    assert result.returncode == 1 and "DBP_TOP_K=999: must be at most 200" in result.stderr


def test_every_task_has_help_for_every_flag() -> None:
    import inspect

    from invoke import Task

    import tasks

    every = [t for t in vars(tasks).values() if isinstance(t, Task)]
    assert {"train", "up", "infra", "plan", "destroy", "bench", "evaluate"} <= {t.name for t in every}
    for task in every:
        flags = set(inspect.signature(task.body).parameters) - {"c"}
        helped = {a.name for a in arguments(task) if a.help}
        assert flags <= helped, f"{task.name} lacks help for {sorted(flags - helped)}"


def test_one_short_flag_policy_v_is_verbose_everywhere() -> None:
    """Only -v (--verbose) and one-letter parameters (-k, -x) have short flags, in every task."""
    from invoke import Task

    import tasks

    for task in [t for t in vars(tasks).values() if isinstance(t, Task)]:
        for argument in arguments(task):
            short = {n for n in argument.names if len(n) == 1}
            expected = (
                {"v"} if argument.name == "verbose" else {argument.name} if len(argument.name) == 1 else set()
            )
            assert short == expected, f"{task.name} --{argument.name}: short flags {sorted(short)}"


def test_setting_flags_take_help_and_default_from_the_declaration() -> None:
    """GIVEN a settings flag WHEN its help is shown THEN it is the declaration's text, with its default."""
    import tasks
    from commands.cli import describe
    from ops.settings import declaration

    helps = {a.name: a.help for a in arguments(tasks.train)}
    for name in ("epochs", "learning_rate", "dropout_views", "instance_count", "target"):
        assert helps[name] == describe(name)
        assert f"default {declaration(name).default}".lower() in helps[name].lower()
        assert f"DBP_{name.upper()}" in helps[name]
    classify = {a.name: a.help for a in arguments(tasks.classify)}
    assert classify["k"] == describe("top_k") and classify["batch_size"] == describe("classify_batch_size")


def test_help_comes_from_the_declaration() -> None:
    from commands.cli import describe

    assert describe("epochs") == (
        "BlazingText epochs (1..100; default 10, or hyperparameters.json; env DBP_EPOCHS)"
    )
    assert describe("target").endswith("(local, aws; default local; env DBP_TARGET)")


def _free_ports(n: int) -> list[str]:
    ports = []
    for _ in range(n):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(str(s.getsockname()[1]))
    return ports


def _post(url: str, payload: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return dict(json.load(response))


def _up(tmp_path: Path, ports: list[str], *flags: str, **env: str) -> subprocess.Popen[str]:
    """`invoke up FLAGS` in the background with its build under ``tmp_path``, once it serves."""
    full_env = {
        **os.environ,
        "DBP_BUILD_DIR": str(tmp_path / "build"),
        "DBP_TERRAFORM_DIR": str(tmp_path / "tf"),
        **env,
    }
    port_flags = ["--endpoint-port", ports[0], "--api-port", ports[1], "--site-port", ports[2]]
    proc = subprocess.Popen(
        [sys.executable, "-m", "invoke", "up", *port_flags, *flags],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # a guard against a hang, not a timing goal: training on a loaded 2-core machine took 110 s
    deadline = time.monotonic() + 300
    assert proc.stdout is not None
    lines: list[str] = []
    while not any("Press Ctrl-C" in line for line in lines) and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            proc.kill()
            raise AssertionError(f"invoke up exited early: {proc.stderr.read() if proc.stderr else ''}")
        lines.append(line)
    assert f"Site:     http://127.0.0.1:{ports[2]}/" in "".join(lines)
    return proc


def _stop(proc: subprocess.Popen[str]) -> str:
    """SIGINT, as Ctrl-C: the standard error of an `invoke up` that must exit 0."""
    try:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    return err


def test_up_trains_when_nothing_is_deployed_serves_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    """GIVEN an empty build folder WHEN `invoke up` runs THEN it trains, serves, and exits 0 on SIGINT."""
    ports = _free_ports(3)
    # a first model in seconds; Walter Johnson is an Athlete to it too
    proc = _up(tmp_path, ports, DBP_MAX_ROWS_PER_CLASS="300")
    try:
        assert _post(f"http://127.0.0.1:{ports[1]}/classify", {"text": WALTER_JOHNSON})["label"] == "Athlete"
        # AND feedback the page sends goes to the emulated S3 `invoke up` started (docs/feedback.md)
        [archive] = (tmp_path / "build" / "model" / "versions").glob("*/model.tar.gz")
        item = {"text": WALTER_JOHNSON, "predicted": "Athlete", "correct": "Athlete", "consent": True}
        stored = _post(f"http://127.0.0.1:{ports[2]}/feedback", {**item, "modelSha256": file_digest(archive)})
    finally:
        err = _stop(proc)
    assert "no model deployed yet: training one first" in err
    assert list((tmp_path / "build" / "model" / "versions").glob("*/model.tar.gz")), "a version was trained"
    # AND at Ctrl-C it was kept in build/feedback/, where `invoke feedback` reads it
    assert (tmp_path / "build" / "feedback" / "items" / f"{stored['ids'][0]}.json").is_file()


def test_up_with_data_trains_on_your_csv_and_the_page_and_api_show_your_labels(tmp_path: Path) -> None:
    """`./dev up --data tickets.csv` (issue 26): one command from a CSV to a page, with train's flags."""
    data = write_own_data(tmp_path / "mine")
    ports = _free_ports(3)
    quick = ["--epochs", "5", "--min-count", "1", "--dropout-views", "1", "--threads", "1"]
    proc = _up(tmp_path, ports, "--data", str(data), *quick)
    try:
        text = "The alien starship left orbit for the planet; the android fired its laser."
        answer = _post(f"http://127.0.0.1:{ports[2]}/classify", {"text": text})
        with urllib.request.urlopen(f"http://127.0.0.1:{ports[2]}/config.js", timeout=10) as response:
            config = response.read().decode()
    finally:
        err = _stop(proc)
    assert answer["label"] == "Science Fiction" and len(answer["top"]) == 3
    assert '"name": "Cooking"' in config and '"description": "recipes and kitchens"' in config
    assert f"training on {data} first" in err


def test_the_commands_import_nltk_only_to_tokenize() -> None:
    # GIVEN a fresh interpreter  WHEN it imports the tasks and everything a task can reach before it tokenizes
    code = (
        "import sys, tasks, ml.pipeline, ml.evaluate, ops.bench.sweep, ops.local.stack\n"
        "print('nltk' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    # THEN NLTK (about 5 s of imports) is not loaded yet: a bad flag or `invoke up` does not wait for it
    assert done.stdout.strip() == "False"
