"""`terraform test` of terraform/bootstrap (the SageMaker execution role and the ML engineer's policy) with a
mocked AWS provider. What the role must hold for the SDK is tested against the installed SDK on the emulator:
tests/aws/test_preflight_on_moto.py."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ml.config import ROOT
from ops.infra.terraform import command_env, write_cli_config

MODULE = ROOT / "terraform" / "bootstrap"


@pytest.mark.slow
def test_the_bootstrap_module_s_own_tests_pass(terraform: str, tmp_path: Path) -> None:
    # GIVEN a copy of terraform/bootstrap/ with its tests, initialised from the mirror
    module = tmp_path / "bootstrap"
    shutil.copytree(MODULE, module, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    env = command_env(write_cli_config(tmp_path / "terraform.rc"))
    subprocess.run(
        [terraform, "init", "-input=false", "-no-color"], cwd=module, env=env, check=True, capture_output=True
    )
    # WHEN its tests run  THEN all of them pass
    done = subprocess.run(
        [terraform, "test", "-no-color"], cwd=module, env=env, capture_output=True, text=True, timeout=300
    )
    runs = sum(
        len(re.findall(r'^run "', p.read_text(), re.M)) for p in (module / "tests").glob("*.tftest.hcl")
    )
    assert f"Success! {runs} passed, 0 failed." in done.stdout, done.stdout + done.stderr
