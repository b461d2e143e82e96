"""A plan's resource changes counted the way Terraform's "Plan:" line counts them, and rendered for a pull
request: totals, a per-type table, and every address under a fold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ml.tables import markdown_table
from ops.infra.plan_json import Plan, ResourceChange

# The actions the "Plan:" line counts, and how the summary marks each.
SYMBOLS = {"create": "+", "update": "~", "delete": "-", "replace": "-/+", "forget": "."}


@dataclass(frozen=True)
class PlanSummary:
    """The managed resources a plan changes (no-ops and reads left out), sorted by address."""

    changes: tuple[ResourceChange, ...]

    @staticmethod
    def _count(changes: Iterable[ResourceChange]) -> dict[str, int]:
        actions = Counter(change.action for change in changes)
        return {
            "add": actions["create"] + actions["replace"],
            "change": actions["update"],
            "destroy": actions["delete"] + actions["replace"],
            "forget": actions["forget"],
        }

    @property
    def totals(self) -> dict[str, int]:
        """``add`` / ``change`` / ``destroy`` / ``forget`` counts; a replacement adds one and destroys one."""
        return self._count(self.changes)

    def by_type(self) -> dict[str, dict[str, int]]:
        """The same counts per resource type, types sorted."""
        types = sorted({change.type for change in self.changes})
        return {kind: self._count([c for c in self.changes if c.type == kind]) for kind in types}


def summarize_plan(plan: Plan) -> PlanSummary:
    """The managed-resource changes of ``plan`` that the "Plan:" line counts."""
    changes = [c for c in plan.changes if c.mode == "managed" and c.action in SYMBOLS]
    return PlanSummary(tuple(sorted(changes, key=lambda change: change.address)))


def render_plan_markdown(summary: PlanSummary, title: str, reviewed: str = "") -> str:
    """A pull-request-ready summary: totals, a per-type table, and every address under a fold.

    ``reviewed`` (the reviewer's sections, ops/infra/review.py) goes right after the totals line.
    """
    totals = summary.totals
    lines = [f"### {title}", ""]
    if not summary.changes:
        lines += ["**No changes.** The infrastructure matches the configuration.", ""]
        return "\n".join(lines + ([reviewed] if reviewed else []))
    plan_line = f"{totals['add']} to add, {totals['change']} to change, {totals['destroy']} to destroy"
    if totals["forget"]:
        plan_line += f", {totals['forget']} to forget"
    lines += [
        f"**Plan: {plan_line}.**",
        "",
        *([reviewed, "#### Changes by resource type", ""] if reviewed else []),
        markdown_table(
            ("Resource type", "Add", "Change", "Destroy"),
            [
                (f"`{kind}`", counts["add"], counts["change"], counts["destroy"])
                for kind, counts in summary.by_type().items()
            ],
            align=("left", "right", "right", "right"),
        ),
    ]
    lines += ["", f"<details><summary>{len(summary.changes)} resources</summary>", ""]
    lines += [f"- `{SYMBOLS[c.action]}` {c.action} `{c.address}`" for c in summary.changes]
    lines += ["", "</details>", ""]
    return "\n".join(lines)
