"""Security of what the pipeline writes and Terraform keeps: no secret in tfvars, outputs, state or the
Lambda's environment, and no ``*`` CORS origin accepted. The state is a real apply against moto."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ml.config import ROOT, Settings
from ml.pipeline import TrainOutcome
from ops.infra.moto_server import MotoServer
from ops.infra.terraform import TerraformError

from .conftest import Applied, local_stack

SECRET_VALUE = re.compile(
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key ids
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|(?i:aws_secret_access_key|aws_session_token)"
)
# "token" but not "tokenizer" (the registry records the model's tokenizer scheme)
SECRET_NAME = re.compile(r"(?i)secret|password|passwd|token(?!iz)|private_?key|api_?key|credential")
# The one shared value the stack knowingly keeps in the Lambda's environment. It is not a credential: it
# only proves a request came through CloudFront (which adds it as x-origin-verify), so whoever reads it can
# skip the per-client WAF limit but still meets the API stage's throttle. AWS encrypts the environment at
# rest; reading it takes lambda:GetFunctionConfiguration. It must never be an output (docs/edge.md).
KNOWN_SHARED = {"ORIGIN_VERIFY_SECRET"}


def secrets_in(data: Any, where: str = "") -> list[str]:
    """Where in a JSON-like value a key is named like a secret or a string looks like one."""
    found: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if SECRET_NAME.search(str(key)):
                found.append(f"{where}.{key}")
            found += secrets_in(value, f"{where}.{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            found += secrets_in(value, f"{where}[{i}]")
    elif isinstance(data, str) and SECRET_VALUE.search(data):
        found.append(where)
    return found


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
def test_state_outputs_and_the_lambda_environment_hold_no_secret(applied: Applied) -> None:
    # GIVEN the stack applied to moto  WHEN its outputs, state outputs and Lambda environment are scanned
    state = json.loads((applied.stack.runner.working_dir / "terraform.tfstate").read_text(encoding="utf-8"))
    function = applied.client("lambda").get_function_configuration(
        FunctionName=applied.result.outputs["lambda_function_name"]
    )
    variables = function["Environment"]["Variables"]
    shared = variables["ORIGIN_VERIFY_SECRET"]
    # THEN none holds a secret: credentials come from the Lambda's role, never from configuration
    assert secrets_in(applied.result.outputs) == []
    assert secrets_in(state["outputs"]) == []
    assert secrets_in({k: v for k, v in variables.items() if k not in KNOWN_SHARED}) == []
    # AND the known shared value (KNOWN_SHARED) is a fresh random one that no output shows
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", shared)
    assert shared not in json.dumps(applied.result.outputs) and shared not in json.dumps(state["outputs"])


@pytest.mark.slow
def test_a_wildcard_cors_origin_is_refused_before_anything_is_planned(
    terraform: str, moto: MotoServer, tmp_path: Path
) -> None:
    stack, _, _ = local_stack(moto, tmp_path, cors={"extra_origins": ["*"]})
    with pytest.raises(TerraformError, match=r'no \\?"\*\\?"'):
        stack.runner.plan()
