"""Maintainers' tasks: the shipped sample, the measurements (bench, sweep, unknown-text, explanations), the
checks (lint, test, mutate).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from invoke import Context
from invoke.exceptions import Exit

from commands.cli import VERBOSE, cli_errors, settings_task, task
from commands.model import OWN_DATA
from ml.config import ROOT
from ops.settings import Settings, load_settings


@task(
    help={
        "per_class": "rows per class (default 0: every row)",
        "source": "folder with the real rows (default ../shared/data/dbpedia)",
        "seed": "sampling seed (default 42)",
    }
)
def sample(c: Context, per_class: int = 0, source: str = "../shared/data/dbpedia", seed: int = 42) -> None:
    """Maintainers: rebuild the shipped sample data/dbpedia_sample.tar.xz from the real rows."""
    from ml.sample import build_sample

    with cli_errors():
        archive = load_settings().sample_archive
    folder = (ROOT / source).resolve() if not Path(source).is_absolute() else Path(source)
    if not (folder / "train.csv").is_file():
        raise Exit(f"error: {folder} has no train.csv", code=1)
    n = build_sample(folder, archive, per_class, seed)
    print(f"wrote {archive} ({n} rows, {archive.stat().st_size:,} bytes)")


@task(
    help={
        "fortunes": "folder of Debian's fortunes package (default /usr/share/games/fortunes)",
        "source": "folder with the real DBPedia rows (default ../shared/data/dbpedia)",
    }
)
def corpora(
    c: Context, fortunes: str = "/usr/share/games/fortunes", source: str = "../shared/data/dbpedia"
) -> None:
    """Maintainers: rebuild data/fortunes.csv and build/corpora/dbpedia-coarse.csv (docs/own-data.md)."""
    from ml.corpora import FORTUNE_TOPICS, build_dbpedia_coarse, build_fortunes

    folder = (ROOT / source).resolve() if not Path(source).is_absolute() else Path(source)
    if not (folder / "train.csv").is_file():
        raise Exit(f"error: {folder} has no train.csv", code=1)
    if not (Path(fortunes) / FORTUNE_TOPICS[0]).is_file():
        raise Exit(f"error: {fortunes} has no fortune files: apt-get install fortunes", code=1)
    version = c.run("dpkg-query -W -f '${Version}' fortunes", hide=True, warn=True)
    origin = f"version {version.stdout.strip()}" if version.ok else "version unknown"
    targets = ROOT / "data" / "fortunes.csv", load_settings().build_dir / "corpora" / "dbpedia-coarse.csv"
    built = build_fortunes(Path(fortunes), targets[0], origin), build_dbpedia_coarse(folder, targets[1])
    for out, counts in zip(targets, built, strict=True):
        print(f"wrote {out} ({sum(counts.values()):,} rows: {dict(sorted(counts.items()))})")


@settings_task(
    "data",
    fixed={"target": "local"},
    help={
        "smoke": "tiny load and a small 3-epoch model: checks the benchmark runs, measures nothing",
        "out": "where to write the Markdown report, its JSON beside it (default BENCHMARKS.md; "
        "with --smoke build/bench-smoke/BENCHMARKS.md)",
        **VERBOSE,
    },
)
def bench(
    c: Context, s: Settings, smoke: bool = False, out: str = "BENCHMARKS.md", verbose: bool = False
) -> None:
    """Benchmark model quality and serving speed side by side; write BENCHMARKS.md (+ JSON)."""
    from ops.bench.measure import BenchPlan, run

    plan = BenchPlan.smoke_plan() if smoke else BenchPlan()
    if smoke and out == "BENCHMARKS.md":  # a smoke run measures nothing: keep it away from the real report
        out = str(s.build_dir / "bench-smoke" / "BENCHMARKS.md")
    command = (
        "invoke bench" + (f" --data {s.data}" if s.data != "auto" else "") + (" --smoke" if smoke else "")
    )
    with cli_errors():
        run(s, plan, ROOT / out, command)
    print(f"benchmarks: {ROOT / out}\nraw figures: {(ROOT / out).with_suffix('.json')}")


@settings_task(
    "data",
    *OWN_DATA,
    fixed={"target": "local"},
    iterable=["variant"],
    help={
        "variant": "settings to compare with the current ones, as comma-separated name=value pairs, e.g. "
        "dropout_views=10,epochs=15 (repeat the flag for more variants)",
        "seeds": "comma-separated fastText seeds each variant trains with (default 42,1,2)",
        "baseline": "also fit the TF-IDF + LinearSVC baseline, on the train rows (as the evaluation report "
        "does) and on each variant's train channel",
        "out": "where to write the Markdown table, its JSON beside it (default build/sweep/sweep.md)",
        **VERBOSE,
    },
)
def sweep(
    c: Context,
    s: Settings,
    variant: list[str],
    seeds: str = "42,1,2",
    baseline: bool = False,
    out: str | None = None,
    verbose: bool = False,
) -> None:
    """Compare training settings over several seeds on validation and test (docs/model-quality.md)."""
    from ops.bench import sweep as sweeps
    from ops.bench.measure import choose_data

    with cli_errors():
        variants = [sweeps.parse_variant(v) for v in variant]
        seed_list = sweeps.parse_seeds(seeds)
        base = {
            "data": s.data if s.data != "auto" else choose_data(s),
            **{name: getattr(s, name) for name in OWN_DATA},  # own data's columns and test file, as given
        }
        target = ROOT / out if out else s.build_dir / "sweep" / "sweep.md"
        for v in variants:  # a typo fails now, not after an hour of training
            load_settings(None, **{**base, **v.overrides})
        sweeps.run(base, variants, seed_list, baseline, target)
    print(target.read_text(encoding="utf-8"))
    print(f"sweep: {target}\nraw figures: {target.with_suffix('.json')}")


@settings_task(
    "data",
    fixed={"target": "local"},
    help={"out": "where to write the table (default build/unknown-text/unknown-text.md)", **VERBOSE},
)
def unknown_text(c: Context, s: Settings, out: str | None = None, verbose: bool = False) -> None:
    """Measure which texts the Lambda would refuse, by topical and common words (docs/unknown-text.md)."""
    from ops.bench import unknown_text as measurement

    target = ROOT / out if out else s.build_dir / "unknown-text" / "unknown-text.md"
    with cli_errors():
        measurement.run(s, target)
    print(target.read_text(encoding="utf-8"))


@settings_task(
    "data",
    "explain_max_words",
    fixed={"target": "local"},
    help={"out": "where to write the tables (default build/explanations/explanations.md)", **VERBOSE},
)
def explanations(c: Context, s: Settings, out: str | None = None, verbose: bool = False) -> None:
    """Measure accuracy per probability band and the explanations' faithfulness on real rows
    (docs/confidence.md, docs/explanations.md)."""
    from ops.bench import explanations as measurement

    target = ROOT / out if out else s.build_dir / "explanations" / "explanations.md"
    with cli_errors():
        measurement.run(s, target)
    print(target.read_text(encoding="utf-8"))


def _style(c: Context, fix: bool = False) -> None:
    """The quick checks: ruff, import contracts (.importlinter), terraform fmt."""
    python = f"'{sys.executable}'"
    if fix:
        c.run(f"{python} -m ruff check --fix . && {python} -m ruff format .", pty=False)
    c.run(f"{python} -m ruff check . && {python} -m ruff format --check .", pty=False)
    lint_imports = Path(sys.executable).with_name("lint-imports")
    c.run(f"'{lint_imports}' --no-cache", env={"PYTHONPATH": str(ROOT)}, pty=False)
    if c.run("command -v terraform", hide=True, warn=True).ok:
        c.run(
            "terraform -chdir=terraform fmt -check -recursive",
            env={"TF_CLI_CONFIG_FILE": "/dev/null"},
            pty=False,
        )


@task(help={"fix": "let ruff fix and format what it can"})
def lint(c: Context, fix: bool = False) -> None:
    """Check style, layers and types: ruff, import contracts (.importlinter), terraform fmt, mypy."""
    _style(c, fix)
    c.run(f"'{sys.executable}' -m mypy", pty=False)


@task(
    help={
        "k": "only tests matching this expression (pytest -k)",
        "x": "stop at the first failure",
        "workers": "test processes (pytest-xdist; default two a core: docs/ci.md), 0 runs in this process",
    }
)
def test(c: Context, k: str = "", x: bool = False, workers: str = "") -> None:
    """Run the linters, then the whole test suite (a module's tests share one worker and its fixtures).

    mypy (single-threaded, about 20 s on a fresh clone) runs beside the tests; its report follows theirs."""
    _style(c)
    mypy = subprocess.Popen(
        [sys.executable, "-m", "mypy"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    workers = workers or str(2 * (os.cpu_count() or 1))  # half the suite's time is waits (docs/ci.md)
    args = [sys.executable, "-m", "pytest", "-n", workers, "--durations=25"]
    # groups and their order (the longest first): tests/conftest.py
    args += ["--dist", "loadgroup", "--no-loadscope-reorder"] if workers != "0" else []
    args += (["-k", k] if k else []) + (["-x"] if x else [])
    tests = c.run(" ".join(f"'{a}'" for a in args), pty=False, warn=True)
    typed, _ = mypy.communicate()
    print(typed, end="")
    if tests is None or tests.failed:
        raise Exit(code=tests.exited if tests is not None else 1)
    if mypy.returncode:
        raise Exit("mypy found the problems above", code=1)


# --- mutation testing (not CI) ----------------------------------------------------------------


@task(
    help={
        "only": "one scope (tokenizer, handler, endpoint, bulk, fsutil); repeat for more; default: all",
        "workers": "mutants tested at once (default 1: the machine is shared)",
    },
    iterable=["only"],
)
def mutate(c: Context, only: list[str] | None = None, workers: int = 1) -> None:
    """Mutation-test the input parsing and file-keeping code (./dev mutate installs the tool first)."""
    from ops.bench import mutation

    with cli_errors():
        report = mutation.run(list(only or []), workers)
    print(report.read_text(encoding="utf-8"))
    print(f"report: {report}\nlogs: {report.parent}")
