"""`./dev rehearse`: the whole first deployment against the emulator with IAM enforced, each step as its
principal, green from end to end; and the rules of its steps and of its folder, which decide its exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml.errors import ProjectError
from ops.infra.terraform import terraform_binary
from ops.rehearsal.rehearse import MARKER, RehearsalError, Steps, fresh_workdir, rehearse
from tests.helpers import in_ci


def test_a_failing_step_ends_the_rehearsal_with_a_line_saying_why_and_later_steps_do_not_run() -> None:
    printed: list[str] = []
    steps = Steps(printed.append)
    ran: list[str] = []
    # GIVEN a step that passes, then one that fails with the project's kind of error
    steps.run("first", lambda: "did it")

    def broken() -> str:
        raise ProjectError("the plan role may not read the state")

    # WHEN the failing one runs  THEN the rehearsal stops there (the task's exit code 1), naming it
    with pytest.raises(RehearsalError, match="stopped at step 2: second"):
        steps.run("second", broken)
        steps.run("third", lambda: ran.append("third") or "")
    assert ran == []
    assert steps.lines[0].startswith("✓ first (") and steps.lines[0].endswith("): did it")
    assert steps.lines[1] == "✗ second: the plan role may not read the state"
    assert printed == ["... first", steps.lines[0], "... second", steps.lines[1]]


def test_the_folder_of_an_earlier_rehearsal_is_replaced_and_any_other_is_refused(tmp_path: Path) -> None:
    # GIVEN a folder someone keeps files in  WHEN a rehearsal is pointed at it  THEN it is refused, untouched
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(RehearsalError, match="is not empty and no rehearsal made it"):
        fresh_workdir(tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    # AND a rehearsal's own folder is emptied for the next one, and marked again
    fresh_workdir(tmp_path / "rehearsal")
    (tmp_path / "rehearsal" / "plan.log").write_text("old")
    fresh_workdir(tmp_path / "rehearsal")
    assert sorted(p.name for p in (tmp_path / "rehearsal").iterdir()) == [MARKER]


def test_the_first_deployment_rehearses_green_from_bootstrap_to_nothing_billing(tmp_path: Path) -> None:
    if terraform_binary() is None:
        if in_ci():
            pytest.fail("CI=true but terraform is missing")
        pytest.skip("terraform is not installed here")
    # GIVEN this repository's committed HEAD  WHEN a team's first deployment is rehearsed
    printed: list[str] = []
    steps = rehearse(tmp_path / "rehearsal", "auto", 20, printed.append)
    # THEN every step passed, each as its principal, in the order of docs/first-deploy.md
    titles = [line.split(" (")[0] for line in steps.lines]
    assert titles == [
        "✓ bootstrap modules, as the administrator",
        "✓ ./dev train --target aws --approve, as the ML engineer",
        "✓ plan.yml in a fresh clone, as the CI plan role",
        "✓ apply.yml with that plan, as the CI deploy role",
        "✓ ./dev train --target aws --approve on more rows, as the ML engineer",
        "✓ ./dev rollback --target aws, as the ML engineer",
        "✓ ./dev classify --target aws, as the ML engineer",
        "✓ destroy.yml with the endpoint, as the CI deploy role",
        "✓ nothing billable is left, as the administrator",
    ]
    # AND the second model replaced the first by a guarded update, the rollback put the first back, and the
    # bulk job answered the seed's text with the live model
    assert steps.lines[5].endswith("by UpdateEndpoint, guarded by the stack's alarms")
    assert steps.lines[7].endswith(": seed text -> Athlete")
    # AND the workflows' own steps ran, as their files hold them; what cannot run here said why
    assert "    plan.yml: Plan and review (./dev plan --target aws): ok" in printed
    assert (
        "    apply.yml: Apply the reviewed plan (./dev infra --target aws --plan-file build/tfplan): ok"
        in printed
    )
    assert any(
        line.startswith("    apply.yml: Find the reviewed plan run: skipped: it needs GitHub")
        for line in printed
    )
    assert any(
        "apply.yml: Smoke-test" in line and "skipped: the emulator's CloudFront" in line for line in printed
    )
    assert "    destroy.yml: Confirmation: ok" in printed
    assert any("plan.yml: aws-actions/configure-aws-credentials@v6: assumed " in line for line in printed)
