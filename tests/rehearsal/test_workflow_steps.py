"""The rehearsal's workflow runner: the repository's workflow files read as they are, their run steps run in
bash as GitHub's runner runs them (outputs, env, expressions), GitHub-only steps skipped with the reason,
and anything it cannot stand for refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ml.config import ROOT
from ops.rehearsal.workflow import (
    GITHUB_ONLY,
    Step,
    WorkflowError,
    WorkflowRun,
    base_env,
    copy_paths,
    load_steps,
    render,
    skipped,
)

WORKFLOWS = ROOT / ".github" / "workflows"


def run_in(
    tmp_path: Path,
    workflow: str,
    context: dict[str, Any] | None = None,
    actions: dict[str, Any] | None = None,
) -> list[str]:
    """Run ``workflow`` (YAML text) in ``tmp_path``; the lines the run printed."""
    path = tmp_path / "wf.yml"
    path.write_text(workflow, encoding="utf-8")
    printed: list[str] = []
    run = WorkflowRun(tmp_path, context or {}, base_env(), actions or {}, tmp_path / "wf.log", printed.append)
    run.run(path)
    return printed


def test_the_repositorys_workflows_are_read_step_by_step_with_what_each_runs() -> None:
    # GIVEN plan.yml  WHEN its steps are loaded  THEN they come in file order, run and uses apart
    steps = load_steps(WORKFLOWS / "plan.yml")
    names = [s.name for s in steps]
    assert names.index("Stack inputs (the deployed endpoint, the state backend)") < names.index(
        "Plan and review (./dev plan --target aws)"
    )
    plan = next(s for s in steps if s.name.startswith("Plan and review"))
    assert plan.run is not None and "./dev plan --target aws" in plan.run and plan.uses is None
    credentials = next(s for s in steps if s.action == "aws-actions/configure-aws-credentials")
    assert credentials.with_["role-to-assume"] == "${{ vars.AWS_PLAN_ROLE_ARN }}"


def test_only_the_steps_that_need_github_itself_count_as_github_only() -> None:
    # GIVEN apply.yml  WHEN each run step is judged  THEN the PR lookup (gh) and the pull-ref fetch need
    # GitHub, and the stack inputs and the apply do not
    judged = {s.name: skipped(s, (GITHUB_ONLY,)) for s in load_steps(WORKFLOWS / "apply.yml") if s.run}
    assert judged["Find the reviewed plan run"] == GITHUB_ONLY[1]
    assert judged["Refuse a plan of other code than main's"] == GITHUB_ONLY[1]
    assert judged["Stack inputs (the deployed endpoint, the state backend)"] is None
    assert not any(reason for name, reason in judged.items() if "./dev infra" in name)


def test_expressions_are_filled_from_the_context_and_an_unknown_one_is_refused() -> None:
    context = {"vars": {"AWS_REGION": "eu-west-1"}, "inputs": {"endpoint": True}}
    assert render("region ${{ vars.AWS_REGION }}, ${{inputs.endpoint}}", context) == "region eu-west-1, true"
    with pytest.raises(WorkflowError, match=r"no value for \$\{\{ vars.MISSING \}\}"):
        render("${{ vars.MISSING }}", context)


def test_run_steps_run_in_bash_with_their_env_and_pass_outputs_on(tmp_path: Path) -> None:
    # GIVEN a step that writes an output and a later step that reads it through an expression
    workflow = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - name: first
        id: one
        env:
          WHO: ${{ vars.WHO }}
        run: echo "greeting=hello $WHO" >> "$GITHUB_OUTPUT"
      - name: second
        env:
          GREETING: ${{ steps.one.outputs.greeting }}
        run: echo "$GREETING" > said.txt
"""
    # WHEN it runs  THEN both ran in the checkout and the output travelled
    printed = run_in(tmp_path, workflow, {"vars": {"WHO": "world"}})
    assert (tmp_path / "said.txt").read_text() == "hello world\n"
    assert printed == ["    wf.yml: first: ok", "    wf.yml: second: ok"]


def test_a_failing_step_stops_the_run_with_its_exit_code_and_last_lines(tmp_path: Path) -> None:
    # GIVEN a step that fails in a pipe (pipefail, as GitHub's bash) and a step after it
    workflow = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - name: broken
        run: |
          echo "about to fail"
          false | cat
          echo "not reached"
      - name: after
        run: touch after.txt
"""
    with pytest.raises(WorkflowError, match=r"step 'broken' exited 1: .*about to fail"):
        run_in(tmp_path, workflow)
    assert not (tmp_path / "after.txt").exists()


def test_an_action_the_rehearsal_cannot_stand_for_is_refused_not_skipped(tmp_path: Path) -> None:
    workflow = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - uses: some-org/deploy-everything@v1
"""
    with pytest.raises(
        WorkflowError, match="uses some-org/deploy-everything, which the rehearsal cannot run"
    ):
        run_in(tmp_path, workflow, actions={"actions/checkout": lambda step, run: "the clone"})


def test_artifact_files_are_kept_relative_to_their_common_folder_as_upload_artifact_does(
    tmp_path: Path,
) -> None:
    # GIVEN a checkout with build/tfplan and build/tfplan.md  WHEN plan.yml's upload list is copied
    (tmp_path / "build").mkdir()
    for name in ("tfplan", "tfplan.md", "unrelated.log"):
        (tmp_path / "build" / name).write_text(name)
    upload = next(s for s in load_steps(WORKFLOWS / "plan.yml") if s.action == "actions/upload-artifact")
    copied = copy_paths(upload.with_["path"], tmp_path, tmp_path / "artifact")
    # THEN the listed files that exist are kept without their build/ prefix, and nothing else
    assert copied == ["build/tfplan", "build/tfplan.md"]
    assert sorted(p.name for p in (tmp_path / "artifact").iterdir()) == ["tfplan", "tfplan.md"]


def test_a_step_needing_github_or_matching_the_callers_rule_is_skipped_with_the_reason(
    tmp_path: Path,
) -> None:
    rule = (re.compile(r"\./dev smoke"), "the emulator serves no traffic")
    run = WorkflowRun(tmp_path, {"steps": {}}, base_env(), {}, tmp_path / "wf.log", skips=(GITHUB_ONLY, rule))
    assert run.step(Step(name="pr", run='gh api "repos/x/y/pulls"')) == f"skipped: {GITHUB_ONLY[1]}"
    assert (
        run.step(Step(name="smoke", run="./dev smoke --target aws"))
        == "skipped: the emulator serves no traffic"
    )
    assert run.step(Step(name="other", run="touch ran")) == "ok" and (tmp_path / "ran").exists()


def test_a_hook_prepares_the_step_it_matches_and_only_the_picked_steps_run(tmp_path: Path) -> None:
    # GIVEN a hook for the smoke step that puts a URL in the environment and says what it started
    workflow = """
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - name: apply
        run: touch applied
      - name: smoke
        run: echo "$DBP_SMOKE_URL" > smoked.txt
"""
    (tmp_path / "wf.yml").write_text(workflow, encoding="utf-8")

    def prepare(step: Step, run: WorkflowRun) -> str:
        run.env["DBP_SMOKE_URL"] = "http://127.0.0.1:1/"
        return f"stand-in for {step.name}"

    printed: list[str] = []
    hooks = ((re.compile(r"smoked"), prepare),)
    run = WorkflowRun(tmp_path, {}, base_env(), {}, tmp_path / "wf.log", printed.append, hooks=hooks)
    # WHEN only the smoke step is picked  THEN the hook ran just before it, its env reached the step,
    # and the other step did not run
    run.run(tmp_path / "wf.yml", lambda step: step.name == "smoke")
    assert printed == ["    wf.yml: stand-in for smoke", "    wf.yml: smoke: ok"]
    assert (tmp_path / "smoked.txt").read_text() == "http://127.0.0.1:1/\n"
    assert not (tmp_path / "applied").exists()
