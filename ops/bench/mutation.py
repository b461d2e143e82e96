"""Mutation testing of the code that reads what users send and keeps what they get (``invoke mutate``).

pytest-gremlins (pinned in ``requirements-mutation.txt``, installed into ``.venv-mutation`` by
``./dev mutate``) changes one operator at a time and runs the tests that cover it; a mutant the tests
do not notice (a survivor) is a test gap or an equivalent change. Each scope in ``SCOPES`` names one
source file, optionally the functions to mutate in it, and the only tests to run against it.

The run happens in a copy of the working tree under ``build/mutation/<scope>/``, so nobody's files are
touched: there, every line outside the scope's functions gets a ``# gremlin: pardon[out_of_scope]``
comment (checked to leave the syntax tree unchanged), which the tool skips without running anything.
Not part of CI: see docs/mutation-testing.md for the score and the survivors kept, with why.
"""

from __future__ import annotations

import ast
import io
import json
import os
import shutil
import subprocess
import sysconfig
import time
import tokenize
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ml.config import ROOT
from ml.errors import ProjectError

MUTATION_VENV = ROOT / ".venv-mutation"
WORK_DIR = ROOT / "build" / "mutation"
PARDON = "  # gremlin: pardon[out_of_scope] outside this invoke mutate scope"
MUTANT_TIMEOUT_SECONDS = 600  # one mutant's test run; the handler's tests train a model first (~20 s)


@dataclass(frozen=True)
class Scope:
    """One source file, the functions in it to mutate (none named: all of it), the tests that cover it."""

    source: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()


SCOPES: dict[str, Scope] = {
    "tokenizer": Scope("lambda/text_tokenizer.py", ("tests/lambda_handler/test_tokenizer.py",)),
    "handler": Scope(
        "lambda/handler.py",
        ("tests/lambda_handler/test_lambda_handler.py", "tests/lambda_handler/test_handler_properties.py"),
        ("check_route", "parse_request", "_body_text", "_unreadable_json"),
    ),
    "endpoint": Scope(  # the endpoint's request parser, and the handler's bound on k: the wire contract's
        "lambda/contract.py",
        (
            "tests/local/test_endpoint_server.py",
            "tests/lambda_handler/test_handler_properties.py",
            "tests/lambda_handler/test_contract.py",
        ),
        ("valid_k", "parse_json_request"),
    ),
    "bulk": Scope(
        "ml/results.py",
        ("tests/local/test_classify.py",),
        ("read_key", "not_made_by", "is_complete", "finish", "resume", "start", "publish"),
    ),
    "fsutil": Scope(
        "ml/fsutil.py",
        ("tests/model/test_fsutil.py",),
        ("atomic_path", "remove_temps", "write_text", "write_json"),
    ),
}


class MutationError(ProjectError):
    """The mutation run cannot start or did not finish; the message says what to do."""


@dataclass
class Survivor:
    """A mutant no test noticed: where it is and what it changed."""

    line: int
    function: str
    operator: str
    description: str
    code: str


@dataclass
class ScopeResult:
    """One scope's outcome: counts of mutants by status, the time the run took, the survivors."""

    name: str
    killed: int = 0
    survived: int = 0
    timeout: int = 0
    error: int = 0
    seconds: float = 0.0
    survivors: list[Survivor] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.killed + self.survived + self.timeout + self.error

    @property
    def score(self) -> float:
        """Killed or timed out (the tests noticed) over all mutants that ran, in percent."""
        return 100.0 * (self.killed + self.timeout) / self.total if self.total else 100.0


def function_spans(source: str, names: tuple[str, ...], path: str = "<source>") -> dict[str, tuple[int, int]]:
    """The (first, last) line of each named top-level function or method in ``source``."""
    spans: dict[str, tuple[int, int]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            spans[node.name] = (first, node.end_lineno or node.lineno)
    missing = [n for n in names if n not in spans]
    if missing:
        raise MutationError(
            f"{path} has no function {', '.join(missing)}: update SCOPES in ops/bench/mutation.py"
        )
    return spans


def _unsafe_lines(source: str) -> set[int]:
    """Lines a trailing comment would change: inside a multi-line string, or continued by a backslash."""
    unsafe = {n for n, line in enumerate(source.splitlines(), 1) if line.rstrip().endswith("\\")}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1):
            unsafe.update(range(tok.start[0], tok.end[0]))
    return unsafe


def pardon_outside(source: str, spans: dict[str, tuple[int, int]]) -> str:
    """``source`` with the pardon comment on every code line outside ``spans`` (nothing else changed)."""
    inside = {n for first, last in spans.values() for n in range(first, last + 1)}
    unsafe = _unsafe_lines(source)
    lines = source.splitlines(keepends=True)
    out = []
    for n, line in enumerate(lines, 1):
        body = line.rstrip("\r\n")
        code = body.strip()
        if n in inside or n in unsafe or not code or code.startswith("#"):
            out.append(line)
        else:
            out.append(body + PARDON + line[len(body) :])
    marked = "".join(out)
    if ast.dump(ast.parse(marked)) != ast.dump(ast.parse(source)):  # a comment must change no code
        raise MutationError("marking the out-of-scope lines changed the code: a bug in ops/bench/mutation.py")
    return marked


def project_files(root: Path = ROOT) -> list[str]:
    """The working tree's files as git sees them: tracked and untracked, but not ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted({name for name in listed.split("\0") if name and (root / name).is_file()})


def copy_tree(dest: Path, root: Path = ROOT) -> Path:
    """A fresh copy of the working tree at ``dest/main``, with ``dest/shared`` linked to the shared data."""
    if dest.exists():
        shutil.rmtree(dest)
    tree = dest / "main"
    for name in project_files(root):
        target = tree / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    if (root.parent / "shared").is_dir():
        (dest / "shared").symlink_to(root.parent / "shared", target_is_directory=True)
    return tree


def mutation_python(venv: Path = MUTATION_VENV) -> Path:
    """The mutation venv's interpreter, made to see the project's own packages (this interpreter's)."""
    python = venv / "bin" / "python"
    if not python.exists():
        raise MutationError(f"{venv} is missing: run `./dev mutate` (installs requirements-mutation.txt)")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # Read after the venv's own site-packages: the tool's pins win; fastText, boto3, moto... come from here.
    (Path(purelib) / "project-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    found = subprocess.run([str(python), "-c", "import pytest_gremlins"], capture_output=True, check=False)
    if found.returncode != 0:
        raise MutationError(f"{venv} lacks pytest-gremlins: run `./dev mutate` to install it")
    return python


def _function_at(spans: dict[str, tuple[int, int]], line: int) -> str:
    return next((name for name, (first, last) in spans.items() if first <= line <= last), "")


def run_scope(name: str, python: Path, workers: int = 1, work_dir: Path = WORK_DIR) -> ScopeResult:
    """Mutate one scope in a copy of the tree and count what the tests noticed."""
    scope = SCOPES[name]
    missing = [f for f in (scope.source, *scope.tests) if not (ROOT / f).is_file()]
    if missing:
        raise MutationError(f"the {name} scope names {', '.join(missing)}, not found: update SCOPES")
    tree = copy_tree(work_dir / name)
    source_path = tree / scope.source
    source = source_path.read_text(encoding="utf-8")
    spans = function_spans(source, scope.functions, scope.source) if scope.functions else {}
    if spans:
        source_path.write_text(pardon_outside(source, spans), encoding="utf-8")
    command = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *scope.tests, "--gremlins"]
    command += ["--gremlin-targets", scope.source, "--gremlin-report", "json,console"]
    command += ["--gremlin-mutant-timeout", str(MUTANT_TIMEOUT_SECONDS)]
    command += ["--gremlin-coverage-timeout", str(MUTANT_TIMEOUT_SECONDS)]
    if workers > 1:
        command += ["--gremlin-workers", str(workers)]
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    log = work_dir / f"{name}.log"
    print(f"mutate {name}: {scope.source}; progress in {log}", flush=True)
    started = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        done = subprocess.run(command, cwd=tree, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    report = tree / "coverage" / "gremlins" / "gremlins.json"
    if not report.exists():
        raise MutationError(f"the {name} run ended (exit {done.returncode}) without a report; see {log}")
    result = ScopeResult(name, seconds=round(time.monotonic() - started, 1))
    lines = source.splitlines()
    for entry in json.loads(report.read_text(encoding="utf-8"))["results"]:
        status, line = entry["status"], int(entry["line_number"])
        if status == "pardoned":
            continue
        if status == "zapped":
            result.killed += 1
        elif status in ("survived", "timeout", "error"):
            setattr(result, status, getattr(result, status) + 1)
        if status == "survived":
            code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            where = _function_at(spans, line) if spans else _enclosing_function(source, line)
            result.survivors.append(Survivor(line, where, entry["operator"], entry["description"], code))
    return result


def _enclosing_function(source: str, line: int) -> str:
    """The innermost function around ``line`` ("" at module level)."""
    found, size = "", float("inf")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            last = node.end_lineno or node.lineno
            if node.lineno <= line <= last and last - node.lineno < size:
                found, size = node.name, last - node.lineno
    return found


def markdown(results: list[ScopeResult]) -> str:
    """The score table and every survivor, as Markdown."""
    out = ["| scope | source | killed | survived | timeout | error | total | score | time |"]
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        out.append(
            f"| {r.name} | `{SCOPES[r.name].source}` | {r.killed} | {r.survived} | {r.timeout} | {r.error} "
            f"| {r.total} | {r.score:.0f}% | {r.seconds:.0f} s |"
        )
    for r in results:
        if r.survivors:
            out += ["", f"Survivors in {r.name} (`{SCOPES[r.name].source}`):", ""]
            out += [f"- line {s.line} `{s.function}`: {s.description}: `{s.code}`" for s in r.survivors]
    return "\n".join(out) + "\n"


def run(names: list[str], workers: int = 1, work_dir: Path = WORK_DIR) -> Path:
    """Run the named scopes (all when empty); return ``report.md``, rewritten (with ``report.json``) as each
    scope ends, so a later scope's failure keeps the earlier results."""
    unknown = [n for n in names if n not in SCOPES]
    if unknown:
        raise MutationError(f"no scope {', '.join(unknown)}; choose from {', '.join(SCOPES)}")
    if workers < 1:
        raise MutationError(f"--workers must be at least 1, not {workers}")
    python = mutation_python()
    work_dir.mkdir(parents=True, exist_ok=True)
    target = work_dir / "report.md"
    results: list[ScopeResult] = []
    for name in names or list(SCOPES):
        results.append(run_scope(name, python, workers, work_dir))
        raw = json.dumps([asdict(r) for r in results], indent=2)
        (work_dir / "report.json").write_text(raw, encoding="utf-8")
        target.write_text(markdown(results), encoding="utf-8")
    return target
