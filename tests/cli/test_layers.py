"""The layers of docs/architecture.md hold for every module, including the ones added later."""

from __future__ import annotations

import ast
import configparser
import re
import sys

from ml.config import ROOT


def _imports(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    return {name.split(".")[0] for name in names}


def test_every_model_module_is_under_the_model_contract() -> None:
    """GIVEN .importlinter WHEN a module is added to ml/ THEN it must be listed, or no contract sees it."""
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    listed = set(config["importlinter:contract:model"]["source_modules"].split())
    modules = {f"ml.{p.stem}" for p in (ROOT / "ml").glob("*.py") if p.stem != "__init__"}
    assert modules == listed


def test_the_lambda_imports_only_the_standard_library_and_boto3() -> None:
    for path in ("lambda/handler.py", "lambda/text_tokenizer.py"):
        outside = _imports(path) - set(sys.stdlib_module_names) - {"__future__", "boto3", "botocore"}
        assert outside <= {"text_tokenizer"}, f"{path} imports {sorted(outside)}"


def test_only_ml_lambda_src_imports_from_lambda() -> None:
    """The one declared way: no other module changes sys.path or loads modules by name or file."""
    tricks = ("sys.path", "import_module(", "spec_from_file_location(")
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("ml", "ops")
        for path in (ROOT / folder).rglob("*.py")
        if path.name != "lambda_src.py" and any(t in path.read_text(encoding="utf-8") for t in tricks)
    ]
    assert offenders == []


def test_the_target_is_looked_at_in_one_place() -> None:
    """GIVEN the tasks and the local stand-ins WHEN one needs to know local or aws THEN it asks
    ops/targets.py: no ``target ==`` branch of their own (docs/targets.md)."""
    branch = re.compile(r"\btarget\s*[!=]=|[!=]=\s*\S*\btarget\b")
    paths = [ROOT / "tasks.py", *(ROOT / "commands").rglob("*.py"), *(ROOT / "ops" / "local").rglob("*.py")]
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in paths
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if branch.search(line)
    ]
    assert offenders == []
