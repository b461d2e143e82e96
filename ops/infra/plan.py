"""``invoke plan``: plan the stack without applying; write the plan, its JSON and its review (tfplan.md).

The review opens with the policy verdict (ops/infra/policy.py) and what a reviewer decides on
(ops/infra/review.py), then the cost (ops/infra/costs.py) and the changes (ops/infra/plan_summary.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ops.infra import policy
from ops.infra.costs import Estimate, StackFacts, Usage, estimate, load_prices, render_markdown
from ops.infra.plan_json import Plan
from ops.infra.plan_summary import PlanSummary, render_plan_markdown, summarize_plan
from ops.infra.review import COMMENT_LIMIT, review_sections, show_details
from ops.infra.stack import Echo, Stack, StackOpener
from ops.settings import Settings


@dataclass(frozen=True)
class PlanReport:
    """Where ``plan_stack`` wrote the plan, its JSON and its markdown summary."""

    plan_path: Path
    json_path: Path
    markdown_path: Path
    summary: PlanSummary
    has_changes: bool  # terraform plan -detailed-exitcode said 2
    estimate: Estimate | None = None
    violations: tuple[policy.Violation, ...] = ()  # of the policy rules, when the plan was reviewed


def cost_section(plan: Plan, usage: Usage) -> tuple[Estimate | None, str]:
    """The cost estimate of a planned stack and its Markdown; without an estimate, a line saying why."""
    try:
        result = estimate(StackFacts.from_plan(plan), usage, load_prices())
    except KeyError as exc:
        return None, f"#### Cost estimate\n\nNone: {exc.args[0]}\n"
    return result, render_markdown(result)


def plan_stack(
    stack: Stack, out_dir: Path, usage: Usage | None = None, *, review: bool = False
) -> PlanReport:
    """Plan without applying: write ``tfplan``, ``tfplan.json`` and ``tfplan.md`` into ``out_dir``.

    With ``usage``, the summary ends with what the planned stack costs at that traffic (ops/infra/costs.py).
    With ``review``, it opens with the policy verdict and what a reviewer decides on (ops/infra/review.py),
    the cost comes before the per-type table, and ``terraform show`` closes it, cut to fit a PR comment.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    plan_path = out_dir / "tfplan"
    has_changes = stack.runner.plan(out=plan_path)
    data = stack.runner.show_plan(plan_path)
    json_path = out_dir / "tfplan.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    planned = Plan.read(data)
    summary = summarize_plan(planned)
    markdown_path = out_dir / "tfplan.md"
    title = f"Terraform plan: `{stack.endpoint.endpoint_name}` stack, target `{stack.target}`"
    cost, section = cost_section(planned, usage) if usage is not None else (None, "")
    violations: tuple[policy.Violation, ...] = ()
    if review:
        violations = tuple(policy.check(planned))
        reviewed = "\n".join([policy.render(violations), review_sections(planned), section])
        markdown = render_plan_markdown(summary, title, reviewed)
        show = stack.runner.show_plan_text(plan_path)
        markdown += "\n" + show_details(show, COMMENT_LIMIT - len(markdown) - 1)
    else:
        markdown = render_plan_markdown(summary, title) + ("\n" + section if section else "")
    markdown_path.write_text(markdown, encoding="utf-8")
    return PlanReport(plan_path, json_path, markdown_path, summary, has_changes, cost, violations)


def plan(settings: Settings, open_stack: StackOpener, echo: Echo = print) -> PlanReport:
    """``invoke plan``: write ``build/tfplan``, its JSON and its review (``tfplan.md``); apply nothing.

    ``open_stack`` is the target's (ops/infra/stack.py). The report carries the policy's violations;
    :func:`require_policy` turns them into the task's failure.
    """
    with open_stack(settings) as stack:
        echo(f"Planning the stack ({stack.target}) in {stack.runner.working_dir} ...")
        return plan_stack(stack, settings.build_dir, Usage(settings.requests_per_month), review=True)


def require_policy(report: PlanReport) -> None:
    """PolicyError, one line per violation, when the reviewed plan breaks a rule of ops/infra/policy.py."""
    if report.violations:
        raise policy.error(report.violations, str(report.markdown_path))
