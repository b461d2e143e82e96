"""``invoke mutate``'s scope table and its marking of out-of-scope lines (the run itself is not CI)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ml.config import ROOT
from ops.bench import mutation


@pytest.mark.parametrize("name", list(mutation.SCOPES))
def test_every_scope_names_files_and_functions_that_exist(name: str) -> None:
    scope = mutation.SCOPES[name]
    source = ROOT / scope.source
    assert source.is_file(), scope.source
    assert scope.tests and all((ROOT / t).is_file() for t in scope.tests), scope.tests
    spans = mutation.function_spans(source.read_text(encoding="utf-8"), scope.functions, scope.source)
    assert set(spans) == set(scope.functions)


def test_a_function_that_is_gone_is_a_clear_error() -> None:
    with pytest.raises(mutation.MutationError, match="no function parse_request: update SCOPES"):
        mutation.function_spans("def other():\n    return 1\n", ("parse_request",), "x.py")


SOURCE = '''"""Module docstring."""

import re


def outside(a, b):
    """Spans
    two lines."""
    return a > b and \\
        b < 3


@staticmethod
def inside(x):
    return x + 1 if x else 0


TEXT = """a
b"""
'''


def test_only_code_lines_outside_the_scope_are_pardoned_and_the_code_is_unchanged() -> None:
    spans = mutation.function_spans(SOURCE, ("inside",))
    marked = mutation.pardon_outside(SOURCE, spans)
    pardoned = {n for n, line in enumerate(marked.splitlines(), 1) if mutation.PARDON in line}
    # module docstring, import, def outside, its docstring's closing line, the line after the backslash,
    # TEXT's closing line
    assert pardoned == {1, 3, 6, 8, 10, 19}
    assert ast.dump(ast.parse(marked)) == ast.dump(ast.parse(SOURCE))
    assert marked.replace(mutation.PARDON, "") == SOURCE


@pytest.mark.parametrize(
    ("names", "workers", "message"),
    [(["tokeniser"], 1, "no scope tokeniser; choose from tokenizer, handler"), ([], 0, "at least 1, not 0")],
)
def test_a_bad_scope_or_worker_count_is_refused_before_anything_runs(
    tmp_path: Path, names: list[str], workers: int, message: str
) -> None:
    with pytest.raises(mutation.MutationError, match=message):
        mutation.run(names, workers, work_dir=tmp_path / "mutation")
    assert not (tmp_path / "mutation").exists()


def test_a_scope_whose_file_moved_is_a_clear_error_before_anything_is_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a scope naming a source file that is no longer there (as when ml/classify.py was split)
    monkeypatch.setitem(mutation.SCOPES, "gone", mutation.Scope("ml/gone.py", ("tests/code/test_gone.py",)))
    # THEN running it names the missing files, and nothing was copied
    missing = re.escape("ml/gone.py, tests/code/test_gone.py, not found")
    with pytest.raises(mutation.MutationError, match=missing):
        mutation.run_scope("gone", tmp_path / "python", work_dir=tmp_path / "mutation")
    assert not (tmp_path / "mutation").exists()
