"""The GitHub Actions workflows: actionlint finds nothing, and they keep the review's promises (OIDC and no
stored keys, one PR comment, the plan kept and applied by file, destroy behind a confirmation)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml  # PyYAML comes with moto[server]

from ml.config import ROOT

from .conftest import require

WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONLINT = ROOT / ".venv-tools" / "bin" / "actionlint"


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    """Run the tool venv's actionlint on workflow files."""
    require(
        "actionlint",
        ACTIONLINT.exists(),
        "python3 -m venv .venv-tools && .venv-tools/bin/pip install -r requirements-tools.txt",
    )
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load(name: str) -> dict[Any, Any]:
    """One workflow as data (PyYAML reads the ``on:`` key as True)."""
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    """Every step of every job."""
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def test_actionlint_passes_the_workflows_and_catches_a_broken_one(tmp_path: Path) -> None:
    # GIVEN the repository's workflows  WHEN actionlint checks them  THEN it finds nothing
    done = actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert done.returncode == 0, done.stdout + done.stderr
    # AND a workflow with an unknown expression context fails it, so the check does check
    (tmp_path / "bad.yml").write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secretz.X }}\n"
    )
    bad = actionlint(tmp_path / "bad.yml")
    assert bad.returncode == 1 and "secretz" in bad.stdout


def test_every_aws_step_assumes_a_role_through_oidc_and_no_key_is_stored() -> None:
    # GIVEN the three workflows  WHEN their permissions and AWS steps are read
    for name, role in (
        ("plan.yml", "AWS_PLAN_ROLE_ARN"),
        ("apply.yml", "AWS_DEPLOY_ROLE_ARN"),
        ("destroy.yml", "AWS_DEPLOY_ROLE_ARN"),
    ):
        workflow = load(name)
        aws = [
            s
            for s in steps(workflow)
            if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
        ]
        # THEN each may ask for an OIDC token and assumes its role; no access key appears anywhere
        assert workflow["permissions"]["id-token"] == "write", name
        assert [s["with"]["role-to-assume"] for s in aws] == [f"${{{{ vars.{role} }}}}"], name
        assert (
            "aws-access-key-id" not in (WORKFLOWS / name).read_text()
            and "secrets." not in (WORKFLOWS / name).read_text()
        )


def test_the_plan_is_made_reviewed_and_kept_as_the_readme_runs_it() -> None:
    # GIVEN plan.yml  WHEN its trigger and steps are read
    workflow = load("plan.yml")
    runs = [s.get("run", "") for s in steps(workflow)]
    comment = next(s for s in steps(workflow) if s.get("uses", "").startswith("actions/github-script@"))
    upload = next(s for s in steps(workflow) if s.get("uses", "").startswith("actions/upload-artifact@"))
    # THEN it runs on pull requests, plans with ./dev, updates one comment found by its marker even when the
    # policy failed, and keeps the plan file
    assert "pull_request" in workflow[True]
    assert "./dev plan --target aws" in runs
    assert comment["if"].startswith("always()") and "updateComment" in comment["with"]["script"]
    assert "c.body.startsWith(marker)" in comment["with"]["script"]
    assert "build/tfplan\n" in upload["with"]["path"] and upload["with"]["name"] == "tfplan"


def test_main_applies_the_reviewed_plan_file_and_destroy_needs_its_confirmation() -> None:
    # GIVEN apply.yml and destroy.yml
    apply, destroy = load("apply.yml"), load("destroy.yml")
    download = next(s for s in steps(apply) if s.get("uses", "").startswith("actions/download-artifact@"))
    # THEN apply runs on main, downloads the plan run's artifact and applies that file, one at a time
    assert apply[True]["push"]["branches"] == ["main"] and apply["concurrency"]["cancel-in-progress"] is False
    assert download["with"]["name"] == "tfplan" and "run-id" in download["with"]
    assert "./dev infra --target aws --plan-file build/tfplan" in [s.get("run") for s in steps(apply)]
    # AND destroy is manual, asks for a confirmation, and checks it before anything else
    inputs = destroy[True]["workflow_dispatch"]["inputs"]
    assert inputs["confirm"]["required"] is True
    assert (
        steps(destroy)[0]["name"] == "Confirmation"
        and "destroy dbpedia-classifier" in steps(destroy)[0]["run"]
    )
    assert "./dev destroy --target aws --yes" in steps(destroy)[-1]["run"]


def test_apply_smoke_tests_the_stack_it_applied() -> None:
    # GIVEN apply.yml  WHEN its run steps are read in order
    runs = [s.get("run", "") for s in steps(load("apply.yml"))]
    applied = runs.index("./dev infra --target aws --plan-file build/tfplan")
    # THEN the last step smoke-tests the deployed stack, at the URLs of its outputs, after the apply
    assert runs[-1] == "./dev smoke --target aws" and applied < len(runs) - 1


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_terraform_is_pinned_where_the_backend_s_use_lockfile_needs_it() -> None:
    # GIVEN the opt-in backend (S3-native locking: use_lockfile is GA from Terraform 1.11)
    backend = (ROOT / "terraform" / "backend.tf.example").read_text()
    assert re.search(r"^\s*use_lockfile\s*=\s*true", backend, re.M)
    # WHEN the root module's required_version and the workflows' Terraform are read
    required = re.search(
        r'required_version = ">= ([0-9.]+),', (ROOT / "terraform" / "versions.tf").read_text()
    )
    assert required is not None
    floor = _version(required.group(1))
    pinned = {
        name: step["with"]["terraform_version"]
        for name in ("plan.yml", "apply.yml", "destroy.yml")
        for step in steps(load(name))
        if step.get("uses", "").startswith("hashicorp/setup-terraform@")
    }
    # THEN the module refuses a Terraform older than 1.11, and every workflow installs one it accepts
    assert floor >= (1, 11), required.group(0)
    assert set(pinned) == {"plan.yml", "apply.yml", "destroy.yml"}
    assert all(_version(version) >= floor for version in pinned.values()), pinned
    assert "Terraform >= 1.11" in backend


def _stack_inputs(tmp: Path, **env: str) -> str:
    """Run .github/stack-inputs.sh in a copy of the repository's two files it reads; return backend.tf."""
    (tmp / ".github").mkdir(parents=True)
    (tmp / "terraform").mkdir()
    shutil.copy(ROOT / ".github" / "stack-inputs.sh", tmp / ".github" / "stack-inputs.sh")
    shutil.copy(ROOT / "terraform" / "backend.tf.example", tmp / "terraform" / "backend.tf.example")
    variables = {
        "PATH": "/usr/bin:/bin",
        "ENDPOINT_TFVARS_JSON": "{}",
        "TF_STATE_BUCKET": "acme-state",
        **env,
    }
    subprocess.run(["bash", str(tmp / ".github" / "stack-inputs.sh")], env=variables, check=True, timeout=30)
    return (tmp / "terraform" / "backend.tf").read_text()


def test_the_workflows_backend_takes_the_state_bucket_and_its_region(tmp_path: Path) -> None:
    # GIVEN the repository variables a workflow passes, and the region configure-aws-credentials exports
    # WHEN the stack inputs are written
    backend = _stack_inputs(tmp_path / "stack", AWS_REGION="eu-west-1")
    # THEN backend.tf names the bucket and that region, with nothing left to fill in
    assert re.search(r'^\s*bucket\s*= "acme-state"$', backend, re.M)
    assert re.search(r'^\s*region\s*= "eu-west-1"$', backend, re.M)
    assert "CHANGE-ME" not in backend
    # AND a state bucket in another region is named by TF_STATE_REGION
    other = _stack_inputs(tmp_path / "other", AWS_REGION="eu-west-1", TF_STATE_REGION="us-west-2")
    assert re.search(r'^\s*region\s*= "us-west-2"$', other, re.M)


def test_every_workflow_passes_the_stack_inputs_script_each_repository_variable_it_reads() -> None:
    # GIVEN the variables .github/stack-inputs.sh reads (AWS_REGION comes from configure-aws-credentials)
    script = (ROOT / ".github" / "stack-inputs.sh").read_text()
    read = set(re.findall(r"\$\{([A-Z_]+)[:}]", script)) - {"AWS_REGION"}
    assert {"ENDPOINT_TFVARS_JSON", "TF_STATE_BUCKET", "TF_STATE_REGION"} <= read
    # WHEN a workflow runs it  THEN its step's env passes each one from the repository variable of that name
    runs = 0
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for step in steps(load(path.name)):
            if "stack-inputs.sh" in str(step.get("run", "")):
                runs += 1
                env = step.get("env", {})
                assert {name: env.get(name) for name in read} == {
                    name: f"${{{{ vars.{name} }}}}" for name in read
                }, f"{path.name}: {step.get('name')}"
    assert runs == 3  # plan, apply, destroy
