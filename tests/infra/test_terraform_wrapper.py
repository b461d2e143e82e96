"""ops/infra/terraform.py against a fake `terraform` that records its arguments: the python-terraform pitfalls
stay hidden, whatever Terraform version is (or is not) installed."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ops.infra.terraform import PLUGIN_MIRROR, TerraformError, TerraformRunner, write_cli_config

FAKE_TERRAFORM = f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
var_files = [json.load(open(a.split("=", 1)[1])) for a in args if a.startswith("-var-file=")]
watched = (
    "TF_CLI_CONFIG_FILE", "CHECKPOINT_DISABLE", "TF_IN_AUTOMATION", "GOGC", "AWS_PROFILE", "AWS_ENDPOINT_URL"
)
with open(os.environ["FAKE_TF_LOG"], "a") as log:
    env = {{k: os.environ.get(k) for k in watched}}
    log.write(json.dumps({{"args": args, "var_files": var_files, "env": env}}) + "\\n")
reply = json.loads(os.environ["FAKE_TF_REPLIES"]).get(args[0], {{}})
sys.stdout.write(reply.get("out", ""))
sys.stderr.write(reply.get("err", ""))
sys.exit(reply.get("code", 0))
"""
VARIABLES = {
    "lambda_zip_path": "/x/lambda.zip",
    "force_destroy": True,
    "cors": {"extra_origins": ["http://a"]},
}
APPLIED = "Apply complete! Resources: 2 added, 1 changed, 0 destroyed.\n"
OUTPUT_JSON = json.dumps({"api_url": {"sensitive": False, "type": "string", "value": "https://abc.example"}})

Calls = list[dict[str, Any]]
MakeRunner = Callable[..., tuple[TerraformRunner, Callable[[], Calls]]]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeRunner:
    """A factory: a TerraformRunner on a fake terraform answering ``replies``, and a reader of its calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "terraform").write_text(FAKE_TERRAFORM)
    (bin_dir / "terraform").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "calls.jsonl"

    def make(
        replies: dict[str, dict[str, Any]] | None = None, **env: str | None
    ) -> tuple[TerraformRunner, Any]:
        runner = TerraformRunner(
            tmp_path,
            tmp_path / "terraform.rc",
            env={"FAKE_TF_LOG": str(log), "FAKE_TF_REPLIES": json.dumps(replies or {}), **env},
            variables=VARIABLES,
        )
        return runner, lambda: [json.loads(line) for line in log.read_text().splitlines()]

    return make


def test_destroy_auto_approves_without_the_force_flag_terraform_1_rejects(fake: MakeRunner) -> None:
    # GIVEN a terraform that destroys three resources
    runner, calls = fake({"destroy": {"out": "Destroy complete! Resources: 3 destroyed.\n"}})
    # WHEN the runner destroys
    count = runner.destroy()
    # THEN it approved on the command line, passed no -force, sent the variables, and counted the removals
    [call] = calls()
    assert call["args"][0] == "destroy"
    assert "-auto-approve=true" in call["args"] and "-force" not in call["args"]
    assert call["var_files"] == [VARIABLES]
    assert count == 3


@pytest.mark.parametrize(("code", "expected"), [(0, False), (2, True)])
def test_plan_detailed_exit_code_2_means_changes_not_failure(
    fake: MakeRunner, code: int, expected: bool
) -> None:
    # GIVEN a plan that exits with 0 (no changes) or 2 (changes)
    runner, calls = fake({"plan": {"code": code}})
    # WHEN the runner plans into a file
    has_changes = runner.plan(out=Path("/tmp/tfplan"))
    # THEN the exit code becomes "has changes", and the flags were the ones that make it meaningful
    assert has_changes is expected
    args = calls()[0]["args"]
    assert {"-detailed-exitcode", "-out=/tmp/tfplan", "-input=false"} <= set(args)


def test_plan_exit_1_raises_with_terraform_s_error(fake: MakeRunner) -> None:
    # GIVEN a plan that fails
    runner, _ = fake({"plan": {"code": 1, "err": "Error: Invalid value for variable"}})
    # WHEN / THEN the runner raises with the command, the exit code and Terraform's own message
    with pytest.raises(
        TerraformError, match=r"terraform plan failed \(exit 1\)[\s\S]*Invalid value for variable"
    ) as raised:
        runner.plan()
    # AND its last line says what to do next
    assert str(raised.value).splitlines()[-1].startswith("next: fix what Terraform reports above")


def test_a_failed_apply_says_how_to_resume(fake: MakeRunner) -> None:
    # GIVEN an apply that fails half-way  WHEN it runs  THEN the error ends with the way forward
    runner, _ = fake({"apply": {"code": 1, "err": "Error: creating Lambda Function: AccessDenied"}})
    with pytest.raises(TerraformError, match="AccessDenied") as raised:
        runner.apply()
    assert "run `invoke infra` again" in str(raised.value).splitlines()[-1]


def test_apply_never_waits_for_approval_and_returns_counts_and_outputs(fake: MakeRunner) -> None:
    # GIVEN a terraform whose apply adds 2 and changes 1
    runner, calls = fake({"apply": {"out": APPLIED}, "output": {"out": OUTPUT_JSON}})
    # WHEN the runner applies
    result = runner.apply()
    # THEN it auto-approved with our variables, parsed Terraform's counts and unwrapped the outputs
    apply_call, output_call = calls()
    assert "-auto-approve=true" in apply_call["args"] and apply_call["var_files"] == [VARIABLES]
    assert (result.added, result.changed, result.destroyed, result.has_changes) == (2, 1, 0, True)
    assert output_call["args"][:2] == ["output", "-json"]
    assert result.outputs == {"api_url": "https://abc.example"}


def test_applying_a_saved_plan_passes_no_variables(fake: MakeRunner) -> None:
    # GIVEN a saved plan (Terraform refuses variables alongside one)
    runner, calls = fake({"apply": {"out": APPLIED}, "output": {"out": "{}"}})
    # WHEN it is applied
    runner.apply(Path("/tmp/tfplan"))
    # THEN the plan is the last argument and no var file is passed
    apply_call = calls()[0]
    assert apply_call["args"][-1] == "/tmp/tfplan"
    assert apply_call["var_files"] == []


def test_init_neither_reconfigures_nor_takes_variables(fake: MakeRunner) -> None:
    # GIVEN a runner  WHEN it inits
    runner, calls = fake()
    runner.init()
    # THEN -reconfigure (which would drop existing state on a backend change) and var files are absent
    [call] = calls()
    assert call["args"][0] == "init"
    assert "-reconfigure" not in call["args"] and call["var_files"] == []


def test_every_command_uses_the_mirror_only_cli_config_and_the_given_environment(
    fake: MakeRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a developer profile in the environment and a runner told to unset it and use an emulator
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.delenv("GOGC", raising=False)
    before = dict(os.environ)
    runner, calls = fake(AWS_PROFILE=None, AWS_ENDPOINT_URL="http://127.0.0.1:1234")
    # WHEN a command runs
    runner.validate()
    # THEN terraform saw our CLI config (mirror only), no checkpoint, the emulator and no profile
    env = calls()[0]["env"]
    assert env == {
        "TF_CLI_CONFIG_FILE": str(tmp_path / "terraform.rc"),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "GOGC": "400",
        "AWS_PROFILE": None,
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1234",
    }
    config = (tmp_path / "terraform.rc").read_text()
    assert f'filesystem_mirror {{\n    path = "{PLUGIN_MIRROR}"' in config and "direct" not in config
    # AND the caller's own environment is back as it was
    assert dict(os.environ) == before


def test_a_gogc_of_the_user_s_own_is_kept(fake: MakeRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN GOGC set by the user  WHEN a command runs  THEN terraform sees theirs, not the project's 400
    monkeypatch.setenv("GOGC", "50")
    runner, calls = fake()
    runner.validate()
    assert calls()[0]["env"]["GOGC"] == "50"


def test_state_list_is_empty_without_state_and_raises_on_other_errors(fake: MakeRunner) -> None:
    # GIVEN no state file  WHEN the state is listed  THEN the list is empty
    runner, _ = fake({"state": {"code": 1, "err": "No state file was found!\n"}})
    assert runner.state_list() == []
    # GIVEN a backend error  WHEN the state is listed  THEN it raises
    runner, _ = fake({"state": {"code": 1, "err": "Error: AccessDenied"}})
    with pytest.raises(TerraformError, match="AccessDenied"):
        runner.state_list()
    # GIVEN a state with a data source and a resource  WHEN it is listed  THEN only the resource is
    runner, _ = fake({"state": {"out": "data.aws_iam_policy_document.lambda\naws_s3_bucket.site\n"}})
    assert runner.state_list() == ["aws_s3_bucket.site"]


def test_a_missing_terraform_binary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a PATH without terraform
    monkeypatch.setenv("PATH", str(tmp_path))
    # WHEN / THEN making a runner says what is missing
    with pytest.raises(TerraformError, match="terraform is not on PATH"):
        TerraformRunner(tmp_path, write_cli_config(tmp_path / "terraform.rc"))


def test_without_the_mirror_providers_come_from_the_registry(tmp_path: Path) -> None:
    # GIVEN a machine without the provider mirror (a user's laptop, a CI runner with internet)
    # WHEN the CLI config is written THEN it installs providers directly, with no filesystem mirror
    config = write_cli_config(tmp_path / "terraform.rc", tmp_path / "no-mirror").read_text()
    assert "direct {}" in config and "filesystem_mirror" not in config
    # AND with the mirror present it is the only source
    (tmp_path / "mirror").mkdir()
    config = write_cli_config(tmp_path / "terraform.rc", tmp_path / "mirror").read_text()
    assert "filesystem_mirror" in config and "direct" not in config
