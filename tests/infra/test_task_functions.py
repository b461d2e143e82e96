"""The functions behind the tasks, end to end: for --target local with their own moto_server and working
copy; for --target aws only where no AWS call is needed."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from ml.config import LOCAL_ACCOUNT_ID, ROOT
from ml.vocabulary import VOCABULARY
from ops.infra.apply import apply_emulated
from ops.infra.destroy import destroy
from ops.infra.errors import InfraError
from ops.infra.local_workdir import LOCAL_OVERRIDE
from ops.infra.model_inputs import ModelInputsError
from ops.settings import Settings, load_settings
from ops.targets import select
from tests.helpers import run_invoke

from .conftest import Reviewed, write_endpoint_tfvars, write_model_vocabulary


def _settings(tmp_path: Path, with_tfvars: bool = True, target: str = "local") -> Settings:
    terraform_dir = tmp_path / "terraform"
    terraform_dir.mkdir()
    for path in [*(ROOT / "terraform").glob("*.tf"), ROOT / "terraform" / "security-headers.json"]:
        shutil.copy(path, terraform_dir / path.name)
    settings = load_settings(build_dir=tmp_path / "build", terraform_dir=terraform_dir, target=target)
    if with_tfvars:
        write_endpoint_tfvars(terraform_dir)
        write_model_vocabulary(settings)
    return settings


def run_target(settings: Settings, operation: str) -> object:
    """``invoke infra`` or ``invoke plan`` as the task runs it: through the target the settings name."""
    target = select(settings)
    return target.apply(settings, None) if operation == "apply" else target.plan(settings)


@pytest.mark.parametrize("operation", ["apply", "plan"])
def test_without_train_s_tfvars_the_tasks_stop_before_starting_anything(
    tmp_path: Path, operation: str
) -> None:
    # GIVEN a checkout where `invoke train` has not run
    settings = _settings(tmp_path, with_tfvars=False)
    # WHEN infra or plan runs  THEN it says to train first, and nothing was built or started
    with pytest.raises(InfraError, match="run `invoke train` first"):
        run_target(settings, operation)
    assert not settings.build_dir.exists()


@pytest.mark.parametrize("older", [False, True])
@pytest.mark.parametrize("operation", ["apply", "plan"])
def test_without_the_deployed_model_s_vocabulary_the_tasks_stop_and_say_to_train(
    tmp_path: Path, operation: str, older: bool
) -> None:
    # GIVEN train's tfvars naming a model whose version folder holds no vocabulary, or one of format 2
    # (a version trained before common words, put back by a rollback), which the Lambda would refuse
    settings = _settings(tmp_path)
    path = write_model_vocabulary(settings)
    if older:  # this model's, from before common words: the format-2 header, then a word a line
        header = gzip.decompress(path.read_bytes()).decode().splitlines()[0]
        stale = re.sub(r"/\d+ ", "/2 ", header, count=1)
        path.write_bytes(gzip.compress(stale.encode() + b"\nriver\nfilm\n"))
    else:
        shutil.rmtree(settings.model_dir)
    # WHEN infra or plan runs  THEN it names the model and says to train, before Terraform starts
    with pytest.raises(
        ModelInputsError, match=r"no current vocabulary for the deployed model 5e5e.*run `invoke train`"
    ):
        run_target(settings, operation)
    assert not (settings.build_dir / "terraform-local").exists()


@pytest.mark.slow
def test_plan_for_the_local_target_writes_the_plan_its_json_and_a_summary_and_applies_nothing(
    reviewed: Reviewed,
) -> None:
    # GIVEN train's tfvars, the real lambda/ and site/ folders, and the local target
    # WHEN `invoke plan --target local` runs (the session's fixture, shared with test_plan_review.py)
    settings, report = reviewed.settings, reviewed.report
    # THEN build/ holds the plan, its JSON and its markdown summary of a stack still to create
    build = settings.build_dir
    assert (report.plan_path, report.json_path, report.markdown_path) == (
        build / "tfplan",
        build / "tfplan.json",
        build / "tfplan.md",
    )
    actions = {
        tuple(c["change"]["actions"]) for c in json.loads(report.json_path.read_text())["resource_changes"]
    }
    assert actions <= {("create",), ("read",)}
    totals = report.summary.totals
    assert totals["add"] > 0 and totals["change"] == totals["destroy"] == 0
    markdown = report.markdown_path.read_text()
    assert f"**Plan: {totals['add']} to add, 0 to change, 0 to destroy.**" in markdown
    assert 'aws_s3_object.site_file["index.html"]' in markdown
    # AND the summary ends with what the planned stack costs at the settings' traffic (1M requests a month)
    assert report.estimate is not None and report.estimate.usage.requests_per_month == 1_000_000
    assert report.estimate.lines[0].item == "SageMaker endpoint, 1 × ml.t2.medium (the autoscaling floor)"
    assert report.estimate.ceiling_per_month == pytest.approx(2 * 0.065 * 730)
    assert "#### Cost estimate" in markdown and f"**${report.estimate.per_month:,.2f}**" in markdown
    # AND it built the Lambda zip with the deployed model's vocabulary at its root, worked in its own
    # copy, and applied nothing (no state was written)
    with zipfile.ZipFile(build / "lambda.zip") as zf:
        assert zf.read(VOCABULARY) == write_model_vocabulary(settings).read_bytes()
    assert (build / "terraform-local" / LOCAL_OVERRIDE).exists()
    assert not (build / "terraform-local" / "terraform.tfstate").exists()
    assert not (settings.terraform_dir / ".terraform").exists()


@pytest.mark.slow
def test_destroy_on_aws_works_without_train_s_tfvars_and_an_empty_state_needs_no_aws_call(
    terraform: str, tmp_path: Path
) -> None:
    # GIVEN the aws target, no tfvars (deleted, or never written) and no state yet
    settings = _settings(tmp_path, with_tfvars=False, target="aws")
    messages: list[str] = []
    # WHEN destroy runs (no credentials are needed to find out that the state is empty)
    report = destroy(settings, yes=True, echo=messages.append)
    # THEN Terraform was initialised with variables from the settings, and there was nothing to remove
    assert (settings.terraform_dir / ".terraform").is_dir()
    assert report.listed == () and not report.removed
    assert messages == ["Nothing to remove: the state is empty."]


# The stack's own variables and provider configuration with one resource in place of the ~50 of the
# real stack: the real stack's apply to moto, its read-back and its second plan are the `applied` fixture's
# (tests/infra/conftest.py, test_stack_on_moto*.py); this checks what the task adds around them.
STAND_IN = """
resource "aws_sns_topic" "alarms" {
  name = "${var.name}-alarms"
}

output "alarms_topic_arn" {
  value = aws_sns_topic.alarms.arn
}

output "lambda_settings" {
  value = var.lambda_settings
}
"""


def _stand_in_settings(tmp_path: Path) -> Settings:
    """Settings with train's tfvars and a terraform/ of the stack's variables and provider configuration
    with one resource (``STAND_IN``): the task's own path at a fraction of the real stack's time."""
    settings = _settings(tmp_path)
    for path in settings.terraform_dir.glob("*.tf"):
        if path.name not in ("variables.tf", "versions.tf"):
            path.unlink()
    (settings.terraform_dir / "stand_in.tf").write_text(STAND_IN)
    return settings


@pytest.mark.slow
def test_infra_for_the_local_target_applies_checks_for_drift_and_returns_the_outputs(
    terraform: str, tmp_path: Path
) -> None:
    # GIVEN train's tfvars, the local target, and a terraform/ of the stack's variables and provider
    # configuration with one resource
    settings = _stand_in_settings(tmp_path)
    messages: list[str] = []
    # WHEN `invoke infra --target local` runs
    result = apply_emulated(settings, echo=messages.append)
    # THEN it applied to its emulator (moto's ARN of the created topic), planned again against the same
    # emulator (no drift), and returns the outputs
    assert (result.added, result.changed, result.destroyed) == (1, 0, 0)
    assert "Checked: a second apply against the same emulator would change nothing." in messages
    assert (
        result.outputs["alarms_topic_arn"]
        == f"arn:aws:sns:us-east-1:{LOCAL_ACCOUNT_ID}:dbpedia-classifier-alarms"
    )
    # AND Terraform got the settings' variables and the deployed model's class count (write_model_vocabulary)
    assert result.outputs["lambda_settings"] == {**settings.lambda_settings(), "n_labels": 14}
    # AND nothing of it outlives the command: its working copy is the emulator's, not terraform/
    assert not (settings.terraform_dir / "terraform.tfstate").exists()


@pytest.mark.slow
def test_a_failing_terraform_command_ends_the_task_with_what_to_do_next(
    terraform: str, tmp_path: Path
) -> None:
    # GIVEN a variable file Terraform's own validation refuses (a log retention CloudWatch does not offer;
    # the stack's variables.tf in the stand-in)
    settings = _stand_in_settings(tmp_path)
    (settings.terraform_dir / "retention.auto.tfvars.json").write_text('{"log_retention_days": 2}')
    env = {
        **os.environ,
        "DBP_BUILD_DIR": str(settings.build_dir),
        "DBP_TERRAFORM_DIR": str(settings.terraform_dir),
    }
    # WHEN `invoke plan --target local` runs real terraform against moto
    result = run_invoke(env, "plan", "--target", "local")
    # THEN it exits 1 with Terraform's error and, last, the next step; no traceback
    assert result.returncode == 1
    assert "log_retention_days" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("next: fix what Terraform reports above")
