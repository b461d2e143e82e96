"""The layers of docs/architecture.md hold for every module, including the ones added later."""

from __future__ import annotations

import ast
import configparser
import json
import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from ml.aws.config import AwsSettings
from ml.config import ROOT, ModelSettings, setting_names
from ml.lambda_src import LAMBDA_DIR
from ml.pipeline import TrainOutcome
from ops.infra.moto_server import free_port
from ops.settings import SETTING_NAMES, Settings
from tests.helpers import WALTER_JOHNSON, make_settings, run_invoke


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
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


def test_the_lambda_imports_only_the_standard_library_boto3_and_its_own_modules() -> None:
    own = {p.stem for p in LAMBDA_DIR.glob("*.py")} - {"handler"}  # contract, metrics, text_tokenizer
    for path in LAMBDA_DIR.glob("*.py"):
        outside = _imports(path) - set(sys.stdlib_module_names) - {"__future__", "boto3", "botocore"}
        assert outside <= own, f"{path.name} imports {sorted(outside)}"


SHARED = ("contract", "text_tokenizer", "explain")  # what ml/lambda_src.py exposes


@pytest.mark.parametrize("name", SHARED)
def test_what_the_rest_shares_with_the_lambda_imports_only_the_standard_library(name: str) -> None:
    """Settings, training, bulk and the local endpoint import these: no boto3 or handler comes with them.
    (import-linter cannot say "the standard library only", and ``lambda/`` is no package it can name: this
    test is that import contract.)"""
    assert _imports(LAMBDA_DIR / f"{name}.py") - set(sys.stdlib_module_names) <= {"__future__", *SHARED}


def test_nothing_outside_the_lambda_imports_the_handler_but_the_local_api_that_runs_it() -> None:
    """.importlinter checks ml/, ops/ and commands/ (the handler contract); this covers tasks.py too."""
    sources = [
        ROOT / "tasks.py",
        *(path for folder in ("ml", "ops", "commands") for path in (ROOT / folder).rglob("*.py")),
    ]
    importers = [str(path.relative_to(ROOT)) for path in sources if "handler" in _imports(path)]
    assert importers == ["ops/local/api.py"]


@pytest.mark.slow
def test_training_and_bulk_classification_do_not_import_the_handler(
    trained: tuple[Settings, TrainOutcome], tmp_path: Path
) -> None:
    # GIVEN a build folder holding the tests' model, as after `invoke train`, and no endpoint running
    settings = make_settings(tmp_path, endpoint_port=free_port())
    shutil.copytree(trained[0].data_dir, settings.data_dir)
    shutil.copytree(trained[0].model_dir, settings.model_dir)
    env = {
        **os.environ,
        "DBP_BUILD_DIR": str(settings.build_dir),
        "DBP_TERRAFORM_DIR": str(settings.terraform_dir),
        "DBP_ENDPOINT_PORT": str(settings.endpoint_port),
        "PYTHONPROFILEIMPORTTIME": "1",  # every process (the tokenizing workers too) lists what it imports
    }
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": 1, "text": WALTER_JOHNSON}) + "\n", encoding="utf-8")
    # WHEN `invoke train` runs, then `invoke classify` (serving the model in-process for the run)
    for args in (["train"], ["classify", str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl")]):
        done = run_invoke(env, *args)
        assert done.returncode == 0, done.stderr[-3000:]
        imported = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if "|" in line}
        # THEN they used the Lambda's contract and tokenizer, and never imported its handler
        assert {"contract", "text_tokenizer"} <= imported and "handler" not in imported, args
    assert json.loads((tmp_path / "out.jsonl").read_text(encoding="utf-8"))["label"] == "Athlete"


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
    """GIVEN the tasks, the local stand-ins and the stack's operations WHEN one needs to know local or aws
    THEN it asks ops/targets.py: no ``target ==`` branch of their own (docs/targets.md)."""
    branch = re.compile(r"\btarget\s*[!=]=|[!=]=\s*\S*\btarget\b")
    places = ("commands", "ops/local", "ops/infra")
    paths = [ROOT / "tasks.py", *(path for place in places for path in (ROOT / place).rglob("*.py"))]
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in paths
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if branch.search(line)
    ]
    assert offenders == []


def test_every_setting_is_declared_in_exactly_one_layer() -> None:
    """GIVEN the model's, SageMaker's and the stack's settings classes WHEN a name is declared again in a
    subclass THEN pydantic would quietly take the later one, so each name has one declaring class."""
    layers = (ModelSettings, AwsSettings, Settings)
    for name in (*SETTING_NAMES, "hyperparameters"):
        declaring = [cls.__name__ for cls in layers if name in cls.__annotations__]
        assert len(declaring) == 1, f"{name} is declared in {declaring}"


def test_ml_declares_none_of_the_stacks_settings() -> None:
    """The model package and the SageMaker layer hold no target, Terraform, edge, smoke or local-server
    setting: those are ops/settings.py's (docs/architecture.md, where a new setting goes)."""
    stack = re.compile(r"^(target|host|domain_name|hosted_zone_id)$|_port$|^(waf|smoke|terraform)_")
    in_ml = [name for name in setting_names(AwsSettings) if stack.search(name)]
    assert in_ml == []
    assert {"target", "host", "endpoint_port", "waf_rate_limit", "smoke_url", "terraform_dir"} <= set(
        SETTING_NAMES
    )
