"""Security of what the pipeline writes and Terraform keeps: no secret in tfvars, outputs, state or the
Lambda's environment, and no ``*`` CORS origin accepted. The applied state and the Lambda's environment are
scanned where the stack is applied once, in test_stack_on_moto.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ml.config import ROOT
from ml.pipeline import TrainOutcome
from ops.infra.moto_server import MotoServer
from ops.infra.terraform import TerraformError
from ops.settings import Settings

from .conftest import local_stack
from .secret_scan import SECRET_NAME, secrets_in


def test_the_scan_finds_what_it_looks_for() -> None:
    leaky = {"a": [{"db_password": "x"}], "b": "AKIAABCDEFGHIJKLMNOP", "c": {"ok": "aws_secret_access_key=1"}}
    assert secrets_in(leaky) == [".a[0].db_password", ".b", ".c.ok"]
    assert secrets_in({"endpoint_arn": "arn:aws:sagemaker:us-east-1:000000000000:endpoint/x"}) == []
    assert secrets_in({"tokenizer": "nfkd-v2", "session_token": "x"}) == [".session_token"]


def test_tfvars_and_registry_written_by_train_hold_no_secret(trained: tuple[Settings, TrainOutcome]) -> None:
    settings, _ = trained
    for path in (settings.tfvars_path, settings.endpoint_registry):
        assert secrets_in(json.loads(path.read_text(encoding="utf-8"))) == [], path


def test_no_terraform_output_or_variable_is_a_secret() -> None:
    for path in sorted((ROOT / "terraform").glob("*.tf")):
        names = re.findall(r'^(?:output|variable) "([^"]+)"', path.read_text(encoding="utf-8"), re.MULTILINE)
        assert [n for n in names if SECRET_NAME.search(n)] == [], path.name


@pytest.mark.slow
def test_a_wildcard_cors_origin_is_refused_before_anything_is_planned(
    terraform: str, moto: MotoServer, tmp_path: Path
) -> None:
    stack, _, _ = local_stack(moto, tmp_path, cors={"extra_origins": ["*"]})
    with pytest.raises(TerraformError, match=r'no \\?"\*\\?"'):
        stack.runner.plan()
