"""`terraform test` with a mocked AWS provider (no emulator): terraform/tests/ in one run, as a platform
engineer runs it (no -var: its fixtures are in terraform/tests/fixtures/), and the CI roles' module
terraform/ci-role/ with its own tests."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ml.config import ROOT
from ops.infra.terraform import command_env, write_cli_config

TERRAFORM_DIR = ROOT / "terraform"


def run_terraform_tests(
    terraform: str, tmp: Path, edit: tuple[str, str, str] | None = None, only: str | None = None
) -> str:
    """Copy terraform/ (tests and fixtures included), optionally edit one file and keep ``only`` that run
    block of the tests, init from the mirror, run plain `terraform test` in it."""
    module = tmp / "module"
    module.mkdir(parents=True)
    for path in [*TERRAFORM_DIR.glob("*.tf"), *TERRAFORM_DIR.glob("*.json")]:
        if path.name != "backend.tf":
            shutil.copy(path, module / path.name)
    shutil.copytree(TERRAFORM_DIR / "tests", module / "tests")
    if only is not None:  # each run block starts the provider: the others need not run again
        for path in (module / "tests").glob("*.tftest.hcl"):
            blocks = re.findall(r'^run "(\w+)" \{\n.*?^\}\n', path.read_text(), flags=re.M | re.S)
            text = path.read_text()
            for name in blocks:
                if name != only:
                    text = re.sub(rf'^run "{name}" \{{\n.*?^\}}\n', "", text, flags=re.M | re.S)
            path.write_text(text)
    if edit is not None:
        name, old, new = edit
        text = (module / name).read_text()
        assert old in text
        (module / name).write_text(text.replace(old, new))
    env = command_env(write_cli_config(tmp / "terraform.rc"))
    subprocess.run(
        [terraform, "init", "-input=false", "-no-color"], cwd=module, env=env, check=True, capture_output=True
    )
    done = subprocess.run(
        [terraform, "test", "-no-color"],
        cwd=module,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout + done.stderr


@pytest.mark.slow
def test_terraform_tests_pass_and_fail_when_the_lambda_policy_widens(terraform: str, tmp_path: Path) -> None:
    # GIVEN every run block of terraform/tests/
    runs = sum(
        len(re.findall(r'^run "', p.read_text(), re.M))
        for p in (TERRAFORM_DIR / "tests").glob("*.tftest.hcl")
    )
    # WHEN `terraform test` runs them against the mocked provider  THEN all pass
    output = run_terraform_tests(terraform, tmp_path / "as-is")
    assert f"Success! {runs} passed, 0 failed." in output, output
    # AND a role policy widened by one action fails them, naming the broken assertion
    widened = (
        "iam.tf",
        'actions   = ["sagemaker:InvokeEndpoint"]',
        'actions   = ["sagemaker:InvokeEndpoint", "s3:*"]',
    )
    lambda_role = "lambda_role_invokes_its_one_endpoint_and_writes_its_own_logs"
    output = run_terraform_tests(terraform, tmp_path / "widened", widened, only=lambda_role)
    assert "Failure! 0 passed, 1 failed." in output, output
    assert "the first statement must allow sagemaker:InvokeEndpoint on endpoint_arn only" in output, output


def test_the_terraform_test_site_fixture_renders_the_real_config_template() -> None:
    # GIVEN the site folder `terraform test` uses  THEN its config.js template is the site's own, not a copy
    # that could drift from what Terraform renders in a real apply
    fixture = TERRAFORM_DIR / "tests" / "fixtures" / "site" / "config.js.tftpl"
    assert fixture.read_bytes() == (ROOT / "site" / "config.js.tftpl").read_bytes()


@pytest.mark.slow
def test_the_ci_roles_trust_only_this_repository_and_grant_no_wildcard_action(
    terraform: str, tmp_path: Path
) -> None:
    # GIVEN a copy of terraform/ci-role/ with its tests, initialised from the mirror
    module = tmp_path / "ci-role"
    shutil.copytree(
        TERRAFORM_DIR / "ci-role", module, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*")
    )
    env = command_env(write_cli_config(tmp_path / "terraform.rc"))
    subprocess.run(
        [terraform, "init", "-input=false", "-no-color"], cwd=module, env=env, check=True, capture_output=True
    )
    # WHEN its tests run  THEN all of them pass
    done = subprocess.run(
        [terraform, "test", "-no-color"], cwd=module, env=env, capture_output=True, text=True, timeout=300
    )
    runs = len(re.findall(r'^run "', (module / "tests" / "roles.tftest.hcl").read_text(), re.M))
    assert f"Success! {runs} passed, 0 failed." in done.stdout, done.stdout + done.stderr
