"""The one wrapper around ``python-terraform``: the rest of the project never imports it directly.

It hides the library's known pitfalls on Terraform 1.x:

- ``destroy()`` passes ``-force``, which Terraform 1.x rejects: we pass ``force=IsNotFlagged`` and
  ``auto_approve=True``.
- ``output("name")`` raises: we read ``output()`` (all outputs, JSON) and unwrap the values.
- ``plan()`` adds ``-detailed-exitcode``: exit 2 means "there are changes", not failure.
- ``apply()`` without ``skip_plan=True`` waits for an approval nobody gives.
- every command gets ``-var-file`` from the constructor's ``variables`` (an empty dict included), and a saved
  plan refuses variables: variables go to plan/apply/destroy only, never to init/output/show or a plan file.
- ``init()`` passes ``-reconfigure``, which silently drops existing state when the backend changes: we don't.

Terraform installs providers through a CLI config file we write (``TF_CLI_CONFIG_FILE``): only from the
filesystem mirror when it exists (then ``registry.terraform.io`` is never contacted), else from the registry
directly. HashiCorp's checkpoint service is never contacted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, IsNotFlagged, Terraform

from ml.errors import ProjectError
from ops.settings import Settings

PLUGIN_MIRROR: Path = Settings.model_fields["terraform_plugin_mirror"].default
# python-terraform logs every non-zero exit as a WARNING with raw bytes; TerraformError carries it instead.
logging.getLogger("python_terraform").setLevel(logging.ERROR)
_APPLY_LINE = re.compile(r"Resources: (\d+) added, (\d+) changed, (\d+) destroyed")


class TerraformError(ProjectError):
    """A terraform command failed; the message names the command, its error output and what to do next."""


# What to do when a command fails, printed after Terraform's own error output.
NEXT_STEPS = {
    "init": "check the provider source (mirror or registry, docs/infra-provider-lock.md) and the backend "
    "(terraform/README.md), then run the task again",
    "plan": "fix what Terraform reports above (the endpoint's values come from terraform/endpoint.auto.tfvars"
    ".json, written by `invoke train`), then run `invoke plan` again",
    "apply": "fix what Terraform reports above, then run `invoke infra` again: it resumes from the state, "
    "and `invoke plan` shows what is left to do",
    "destroy": "run `invoke destroy` again: it lists what is still in the state and removes only that",
}


@dataclass(frozen=True)
class ApplyResult:
    """What an apply did, counted from Terraform's own closing line, and the outputs after it."""

    added: int
    changed: int
    destroyed: int
    outputs: dict[str, Any]

    @property
    def has_changes(self) -> bool:
        """True when the apply created, updated or deleted anything."""
        return bool(self.added or self.changed or self.destroyed)


def terraform_binary() -> str | None:
    """Path of the ``terraform`` executable on PATH, or None."""
    return shutil.which("terraform")


def write_cli_config(path: Path, mirror: Path = PLUGIN_MIRROR) -> Path:
    """Write a CLI config that installs providers from ``mirror`` only (or, without it, from the registry).

    Returns the path.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if mirror.is_dir():
        header = "providers come from the local mirror only, never from a registry"
        body = f"  filesystem_mirror {{\n    path = {json.dumps(str(mirror))}\n  }}\n"
    else:
        header = f"no provider mirror at {mirror}, so providers come from the registry"
        body = "  direct {}\n"
    source = f"# Written by ops/infra/terraform.py: {header}.\nprovider_installation {{\n{body}}}\n"
    path.write_text(source)
    return path


def command_env(cli_config: Path) -> dict[str, str]:
    """What every terraform command of the project gets in its environment, beside the caller's own."""
    return {
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        # Terraform and its AWS provider are Go programs; every command starts the provider two or three
        # times, and at GOGC=400 (Go's default is 100) a plan takes about a quarter less CPU (13.2 -> 9.6 s)
        # for some 50 MB more memory a process. A GOGC of the user's own is kept.
        "GOGC": os.environ.get("GOGC", "400"),
    }


@contextmanager
def _environ(overrides: Mapping[str, str | None]) -> Iterator[None]:
    """Set (or, for None, unset) environment variables for the duration of one command.

    python-terraform hands each command a copy of ``os.environ`` and has no per-call environment.
    """
    saved = {name: os.environ.get(name) for name in overrides}
    try:
        for name, value in overrides.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class TerraformRunner:
    """Runs terraform in one working directory with a fixed CLI config and environment.

    Args:
        working_dir: the root module (``*.tf`` files, ``*.auto.tfvars.json``, local state).
        cli_config: written with :func:`write_cli_config` if it does not exist yet.
        env: extra environment for every command; a None value removes the variable.
        variables: passed to plan, apply and destroy (as a JSON var file).
    """

    def __init__(
        self,
        working_dir: Path,
        cli_config: Path,
        env: Mapping[str, str | None] | None = None,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        binary = terraform_binary()
        if binary is None:
            raise TerraformError(
                "terraform is not on PATH: install Terraform 1.11+ (see terraform/README.md)"
            )
        if not cli_config.exists():
            write_cli_config(cli_config)
        self.working_dir = working_dir
        self.variables = dict(variables or {})
        self.env: dict[str, str | None] = {**command_env(cli_config), **(env or {})}
        self._tf = Terraform(working_dir=str(working_dir), terraform_bin_path=binary)

    def _call(self, call: Any, *args: Any, **kwargs: Any) -> tuple[int, str, str]:
        """One python-terraform call with our environment, output captured: (exit code, stdout, stderr)."""
        with _environ(self.env), warnings.catch_warnings():
            # python-terraform logs every non-zero exit (plan's 2 included) through the deprecated Logger.warn
            warnings.filterwarnings("ignore", "The 'warn' method is deprecated", DeprecationWarning)
            code, out, err = call(*args, capture_output=True, **kwargs)
        return code, out or "", err or ""

    def _run(
        self, name: str, call: Any, *args: Any, ok: tuple[int, ...] = (0,), **kwargs: Any
    ) -> tuple[int, str]:
        """Like :meth:`_call`, raising TerraformError (with stderr) on an exit code outside ``ok``."""
        code, out, err = self._call(call, *args, **kwargs)
        if code not in ok:
            detail = (err or out).strip()
            hint = NEXT_STEPS.get(name, "fix what Terraform reports above, then run the task again")
            raise TerraformError(
                f"terraform {name} failed (exit {code}) in {self.working_dir}:\n{detail}\nnext: {hint}"
            )
        return code, out

    def init(self) -> None:
        """``terraform init`` without ``-reconfigure``: a changed backend stops with Terraform's advice."""
        self._run("init", self._tf.init, reconfigure=IsNotFlagged, var=None)

    def validate(self) -> None:
        """``terraform validate``; raises TerraformError with the diagnostics."""
        self._run("validate", self._tf.cmd, "validate", no_color=IsFlagged)

    def plan(self, out: Path | None = None, *, destroy: bool = False) -> bool:
        """``terraform plan -detailed-exitcode`` (optionally ``-out``); True when there are changes."""
        code, _ = self._run(
            "plan",
            self._tf.plan,
            ok=(0, 2),
            out=str(out) if out else None,
            destroy=IsFlagged if destroy else None,
            var=self.variables,
        )
        return code == 2

    def apply(self, plan: Path | None = None) -> ApplyResult:
        """Apply without prompting (a saved ``plan`` as it is); return counts and outputs."""
        if plan is None:
            _, out = self._run("apply", self._tf.apply, skip_plan=True, var=self.variables)
        else:
            _, out = self._run("apply", self._tf.apply, str(plan), skip_plan=True, var=None)
        match = _APPLY_LINE.search(out)
        if match is None:
            raise TerraformError(f"terraform apply printed no summary line:\n{out.strip()[-2000:]}")
        added, changed, destroyed = (int(n) for n in match.groups())
        return ApplyResult(added, changed, destroyed, self.outputs())

    def destroy(self) -> int:
        """Destroy everything in the state without prompting; return how many resources went."""
        _, out = self._run(
            "destroy", self._tf.destroy, force=IsNotFlagged, auto_approve=True, var=self.variables
        )
        match = re.search(r"Resources: (\d+) destroyed", out)
        return int(match.group(1)) if match else 0

    def outputs(self) -> dict[str, Any]:
        """All root outputs as plain values (``{}`` before the first apply)."""
        _, out = self._run("output", self._tf.output_cmd, json=IsFlagged, no_color=IsFlagged)
        return {name: item["value"] for name, item in json.loads(out or "{}").items()}

    def show_plan(self, plan: Path) -> dict[str, Any]:
        """The saved plan as Terraform's JSON representation (``terraform show -json``)."""
        _, out = self._run("show", self._tf.cmd, "show", str(plan), json=IsFlagged, no_color=IsFlagged)
        return json.loads(out)

    def show_plan_text(self, plan: Path) -> str:
        """The saved plan as Terraform prints it for people (``terraform show -no-color``)."""
        _, out = self._run("show", self._tf.cmd, "show", str(plan), no_color=IsFlagged)
        return out

    def state_list(self) -> list[str]:
        """Addresses of the managed resources in the state (data sources left out); [] without state."""
        code, out, err = self._call(self._tf.cmd, "state list", no_color=IsFlagged)
        if code != 0 and "No state file was found" in err:
            return []
        if code != 0:
            raise TerraformError(f"terraform state list failed (exit {code}) in {self.working_dir}:\n{err}")
        return [line for line in out.splitlines() if line and not line.startswith("data.")]

    def fmt_check(self) -> list[str]:
        """Files ``terraform fmt -check`` would rewrite (empty when formatted)."""
        code, out = self._run("fmt", self._tf.cmd, "fmt", ok=(0, 3), check=IsFlagged, list=True)
        return out.split() if code == 3 else []
