"""A GitHub Actions workflow's steps, read from the file and run here as the runner would run them.

The rehearsal (``invoke rehearse``) runs what ``.github/workflows/*.yml`` hold, not a copy: each ``run:``
step goes to ``bash --noprofile --norc -eo pipefail`` (GitHub's default shell) in the checkout, with the
step's ``env:`` and the expressions (``${{ vars.X }}``, ``${{ inputs.X }}``, ``${{ steps.ID.outputs.X }}``)
filled in from a context. ``uses:`` steps have no runner here; :class:`WorkflowRun` answers the ones the
workflows use (checkout, tool setup, AWS credentials, artifacts) and skips, with the reason, the ones that
only talk to GitHub. A step this module does not know fails the rehearsal, so a new step is never
silently left out.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ml.errors import ProjectError

_EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
# A run step that needs GitHub itself: its API (gh) or a pull request's refs.
GITHUB_ONLY = (re.compile(r"(^|[\s;(|&$])gh\s|refs/pull/"), "it needs GitHub's API or a pull request's refs")
Skip = tuple[re.Pattern[str], str]  # a run step matching the pattern is skipped, for the reason
STEP_TIMEOUT = 900  # seconds: a stuck step fails the rehearsal instead of hanging it


class WorkflowError(ProjectError):
    """A workflow step failed, or the rehearsal does not know how to run it."""


@dataclass(frozen=True)
class Step:
    """One step of a job, as written in the workflow file."""

    name: str
    id: str | None = None
    run: str | None = None
    uses: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    with_: Mapping[str, str] = field(default_factory=dict)

    @property
    def action(self) -> str:
        """The action's name without its version (``aws-actions/configure-aws-credentials``)."""
        return (self.uses or "").partition("@")[0]


def load_steps(path: Path) -> list[Step]:
    """Every step of every job of the workflow at ``path``, in order."""
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    steps = []
    for job in workflow["jobs"].values():
        for raw in job["steps"]:
            name = raw.get("name") or raw.get("uses") or raw.get("run", "").splitlines()[0]
            steps.append(
                Step(
                    name=name,
                    id=raw.get("id"),
                    run=raw.get("run"),
                    uses=raw.get("uses"),
                    env={k: str(v) for k, v in (raw.get("env") or {}).items()},
                    with_={k: str(v) for k, v in (raw.get("with") or {}).items()},
                )
            )
    return steps


def render(text: str, context: Mapping[str, Any]) -> str:
    """``text`` with each ``${{ a.b.c }}`` replaced from the context; WorkflowError for an unknown one."""

    def value(match: re.Match[str]) -> str:
        found: Any = context
        for part in match.group(1).split("."):
            if not isinstance(found, Mapping) or part not in found:
                raise WorkflowError(
                    f"the rehearsal has no value for ${{{{ {match.group(1)} }}}}: add it to its context "
                    "(ops/rehearsal/)"
                )
            found = found[part]
        return str(found).lower() if isinstance(found, bool) else str(found)

    return _EXPRESSION.sub(value, text)


def skipped(step: Step, skips: tuple[Skip, ...]) -> str | None:
    """Why a run step is skipped (the reason of the first pattern its script matches), or None."""
    return next((reason for pattern, reason in skips if step.run and pattern.search(step.run)), None)


def step_outputs(path: Path) -> dict[str, str]:
    """The ``name=value`` lines a step appended to ``$GITHUB_OUTPUT``."""
    if not path.exists():
        return {}
    pairs = (line.partition("=") for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)
    return {name: value for name, _, value in pairs}


Action = Callable[[Step, "WorkflowRun"], str]  # answers a ``uses:`` step; returns the line to print
# Before a run step matching the pattern: prepares what it needs (a stand-in, its env in ``run.env``) and
# returns the line to print.
Hook = tuple[re.Pattern[str], Callable[[Step, "WorkflowRun"], str]]


@dataclass
class WorkflowRun:
    """One job of a workflow run in ``checkout``: the context, the environment, what each step printed.

    ``env`` is the environment every run step starts from (the AWS credentials of the role the job has
    assumed go in it); ``actions`` answers ``uses:`` steps by action name; ``skips`` says which run steps
    cannot run here and why (those that need GitHub itself, and what the caller adds); ``hooks`` prepare
    the run steps they match before they run.
    """

    checkout: Path
    context: dict[str, Any]
    env: dict[str, str]
    actions: Mapping[str, Action]
    log: Path
    echo: Callable[[str], None] = print
    skips: tuple[Skip, ...] = (GITHUB_ONLY,)
    hooks: tuple[Hook, ...] = ()

    def run(self, workflow: Path, only: Callable[[Step], bool] = lambda step: True) -> None:
        """Run every step of ``workflow`` (or those ``only`` picks) in order; WorkflowError at the first
        failure."""
        self.context.setdefault("steps", {})
        for step in filter(only, load_steps(workflow)):
            if step.run and not skipped(step, self.skips):
                for pattern, prepare in self.hooks:
                    if pattern.search(step.run):
                        self.echo(f"    {workflow.name}: {prepare(step, self)}")
            line = self.step(step)
            self.echo(f"    {workflow.name}: {step.name}: {line}")

    def step(self, step: Step) -> str:
        """Run one step; the line that says what happened."""
        if step.uses:
            action = self.actions.get(step.action)
            if action is None:
                raise WorkflowError(
                    f"step {step.name!r} uses {step.action}, which the rehearsal cannot run: "
                    "teach ops/rehearsal/ what it stands for"
                )
            return action(step, self)
        reason = skipped(step, self.skips)
        if reason:
            return f"skipped: {reason}"
        assert step.run is not None
        outputs = self.log.with_name(f"{self.log.stem}.{len(self.context['steps'])}.out")
        outputs.unlink(missing_ok=True)
        env = {
            **self.env,
            **{k: render(v, self.context) for k, v in step.env.items()},
            "GITHUB_OUTPUT": str(outputs),
        }
        script = render(step.run, self.context)
        with self.log.open("a", encoding="utf-8") as log:
            log.write(f"\n$ {step.name}\n")
            log.flush()
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=self.checkout,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=STEP_TIMEOUT,
                check=False,
            )
        if step.id:
            self.context["steps"][step.id] = {"outputs": step_outputs(outputs)}
        if done.returncode != 0:
            raise WorkflowError(
                f"step {step.name!r} exited {done.returncode}: {last_lines(self.log)} (whole log: {self.log})"
            )
        return "ok"


def last_lines(log: Path, count: int = 3) -> str:
    """The last non-empty lines of a log, joined: what a failure says."""
    lines = [line for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
    return " | ".join(lines[-count:])


def copy_paths(patterns: str, source: Path, dest: Path) -> list[str]:
    """Copy the files an artifact step lists (one pattern a line, relative to ``source``) into ``dest``.

    As ``actions/upload-artifact`` stores them: relative to the folder the files have in common.
    """
    paths = [
        path
        for pattern in filter(None, (line.strip() for line in patterns.splitlines()))
        for path in sorted(source.glob(pattern))
        if path.is_file()
    ]
    if not paths:
        return []
    common = Path(os.path.commonpath([path.parent for path in paths]))
    for path in paths:
        target = dest / path.relative_to(common)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return [str(path.relative_to(source)) for path in paths]


def base_env(**extra: str) -> dict[str, str]:
    """The environment of a runner's step: this machine's PATH and HOME, CI=true, the extras."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "TF_PLUGIN_CACHE_DIR")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, "CI": "true", **extra}
