"""``invoke infra``: apply the stack, or exactly a saved and reviewed plan; for the local target, check that
a second apply would change nothing."""

from __future__ import annotations

from pathlib import Path

from ops.infra import policy
from ops.infra.errors import InfraError
from ops.infra.plan import plan_stack
from ops.infra.plan_json import Plan
from ops.infra.stack import Echo, Stack, aws_stack, emulated_stack
from ops.infra.terraform import ApplyResult, TerraformError
from ops.settings import Settings


def check_no_drift(stack: Stack, out_dir: Path) -> None:
    """Plan again after an apply; InfraError listing the changes if a second apply would change anything."""
    report = plan_stack(stack, out_dir)
    if report.has_changes:
        raise InfraError(
            "the stack drifts: a second apply would still change it "
            f"(a provider or emulator mismatch; fix the configuration):\n{report.markdown_path.read_text()}"
        )


def apply_plan_file(stack: Stack, plan_file: Path, echo: Echo = print) -> ApplyResult:
    """Apply a saved, reviewed plan exactly: checked against the policy again, refused when stale."""
    if not plan_file.is_file():
        raise InfraError(
            f"no plan file at {plan_file}: run `invoke plan` (or fetch the reviewed tfplan artifact)"
        )
    violations = policy.check(Plan.read(stack.runner.show_plan(plan_file)))
    if violations:
        raise policy.error(violations, str(plan_file))
    echo(f"Applying the reviewed plan {plan_file} ({stack.target}) in {stack.runner.working_dir} ...")
    try:
        return stack.runner.apply(plan_file)
    except TerraformError as exc:
        if "Saved plan is stale" not in str(exc):
            raise
        raise InfraError(
            f"{plan_file} is stale: the state changed after it was planned, so Terraform refuses it; "
            "run `invoke plan` again and have the new plan reviewed"
        ) from None


def apply_aws(settings: Settings, echo: Echo = print, plan_file: Path | None = None) -> ApplyResult:
    """``invoke infra --target aws``: init and apply; with ``plan_file`` (``--plan-file``) exactly that saved,
    reviewed plan (:func:`apply_plan_file`)."""
    with aws_stack(settings) as stack:
        if plan_file is not None:
            return apply_plan_file(stack, plan_file, echo)
        echo(f"Applying the stack (aws, CloudFront takes minutes) in {stack.runner.working_dir} ...")
        return stack.runner.apply()


def apply_emulated(settings: Settings, echo: Echo = print) -> ApplyResult:
    """``invoke infra`` (target local): apply to a moto_server, then check that a second apply would change
    nothing (the emulator lives for this command only, so the check is free)."""
    with emulated_stack(settings) as stack:
        echo(f"Applying the stack (local, about a minute) in {stack.runner.working_dir} ...")
        result = stack.runner.apply()
        check_no_drift(stack, settings.build_dir / "terraform-local")
        echo("Checked: a second apply against the same emulator would change nothing.")
        return result
