"""terraform/ follows its conventions: formatted, valid, one file per concern, typed and described inputs
and outputs in alphabetical order, and no unjustified checkov finding."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

import pytest

from ml.config import ROOT
from ops.infra.terraform import TerraformRunner, write_cli_config

from .conftest import ENDPOINT, hcl_blocks, require

TERRAFORM_DIR = ROOT / "terraform"
CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"
CONCERNS = {
    "versions.tf",
    "variables.tf",
    "iam.tf",
    "lambda.tf",
    "api.tf",
    "site.tf",
    "autoscaling.tf",
    "monitoring.tf",
    "drift.tf",
    "edge.tf",
    "waf.tf",
    "dns.tf",
    "feedback.tf",
    "outputs.tf",
}
MODULE_FILES = {"security-headers.json"}  # what the module reads with file()


def test_terraform_files_are_formatted(terraform: str, tmp_path: Path) -> None:
    # GIVEN terraform/  WHEN `terraform fmt -check` runs on it  THEN no file would be rewritten
    runner = TerraformRunner(TERRAFORM_DIR, write_cli_config(tmp_path / "terraform.rc"))
    assert runner.fmt_check() == []


@pytest.mark.slow
def test_terraform_validates_with_providers_from_the_mirror(terraform: str, tmp_path: Path) -> None:
    # GIVEN a copy of the root module, initialised from the filesystem mirror only
    for name in CONCERNS | MODULE_FILES:  # not a developer's opt-in backend.tf: validation needs no state
        shutil.copy(TERRAFORM_DIR / name, tmp_path / name)
    runner = TerraformRunner(tmp_path, write_cli_config(tmp_path / "build" / "terraform.rc"))
    runner.init()
    # WHEN it is validated  THEN Terraform finds no error (TerraformError otherwise)
    runner.validate()
    assert '"registry.terraform.io/hashicorp/aws"' in (tmp_path / ".terraform.lock.hcl").read_text()


def test_root_module_has_one_file_per_concern() -> None:
    # GIVEN terraform/  WHEN its .tf files are listed
    files = {path.name for path in TERRAFORM_DIR.glob("*.tf")}
    # THEN they are the agreed concerns, plus at most the opt-in backend a developer made from the example
    assert files >= CONCERNS and files - CONCERNS <= {"backend.tf"}
    assert (TERRAFORM_DIR / "backend.tf.example").exists()


def test_variables_are_typed_described_and_alphabetical() -> None:
    # GIVEN variables.tf  WHEN its blocks are read
    variables = hcl_blocks((TERRAFORM_DIR / "variables.tf").read_text(), "variable")
    names = [name for name, _ in variables]
    # THEN they are sorted, each has a type and a description, and the train contract's keys are among them
    assert names == sorted(names)
    for name, body in variables:
        assert re.search(r"^  type\s+=", body, re.M) and re.search(r"^  description\s+=", body, re.M), name
    assert set(asdict(ENDPOINT)) <= set(names)


def test_outputs_are_described_and_alphabetical() -> None:
    # GIVEN outputs.tf  WHEN its blocks are read
    outputs = hcl_blocks((TERRAFORM_DIR / "outputs.tf").read_text(), "output")
    names = [name for name, _ in outputs]
    # THEN they are sorted, each is described, and the four outputs are there
    assert names == sorted(names)
    assert all(re.search(r"^  description\s+=", body, re.M) for _, body in outputs)
    assert {"api_url", "lambda_function_name", "lambda_role_arn", "site_url"} <= set(names)


def test_checkov_finds_nothing_that_is_not_fixed_or_justified_inline() -> None:
    # GIVEN checkov in its own tool venv
    require(
        "checkov",
        CHECKOV.exists(),
        "python3 -m venv .venv-tools && .venv-tools/bin/pip install -r requirements-tools.txt",
    )
    # WHEN it scans terraform/ offline
    scan = subprocess.run(
        [str(CHECKOV), "--skip-download", "--framework", "terraform", "-d", str(TERRAFORM_DIR), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(scan.stdout)
    results = report["results"]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in results["failed_checks"]]
    unjustified = [
        f"{c['check_id']} {c['resource']}"
        for c in results["skipped_checks"]
        if len(c["check_result"].get("suppress_comment", "").strip()) < 20
        or c["check_result"]["suppress_comment"].strip() == "No comment provided"
    ]
    # THEN nothing fails, every skip carries a one-line reason, and there was something to scan
    assert failed == [], "fix these or skip them inline with `#checkov:skip=ID: reason`:\n" + "\n".join(
        failed
    )
    assert unjustified == [], "give these skips a reason:\n" + "\n".join(unjustified)
    assert report["summary"]["parsing_errors"] == 0 and report["summary"]["passed"] > 0


def test_readme_documents_every_input_and_output() -> None:
    # GIVEN the README's tables and the root module's variables and outputs
    readme = (TERRAFORM_DIR / "README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", readme, flags=re.MULTILINE))
    declared = {name for name, _ in hcl_blocks((TERRAFORM_DIR / "variables.tf").read_text(), "variable")}
    declared |= {name for name, _ in hcl_blocks((TERRAFORM_DIR / "outputs.tf").read_text(), "output")}
    # WHEN / THEN every one of them has a row, and no row names something that is gone
    assert documented == declared
