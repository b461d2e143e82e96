"""The plain functions behind ``invoke infra``, ``invoke plan`` and ``invoke destroy``.

Two targets (``Settings.target``):

- ``aws``: Terraform runs in ``terraform/`` with its own state (a local file unless you opted in to the S3
  backend) and your AWS credentials.
- ``local``: Terraform runs in a fresh copy, ``build/terraform-local/``, whose AWS provider points at a
  moto_server started for this one command; resources and state live only as long as that command
  (see docs/infra-local-target.md).

Every function raises :class:`InfraError` (or :class:`ops.infra.terraform.TerraformError`) with a message
that says what to do next; the tasks print it and exit 1.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ml.aws import cleanup
from ml.aws import session as aws_session
from ml.aws.resources import EndpointResources, delete_endpoint_resources, find_endpoint_resources
from ml.config import LOCAL_ACCOUNT_ID, ROOT, Settings
from ml.deploy import OPTIONAL_VARS, TEXT_VARS, EndpointCapacity, EndpointOutputs
from ml.errors import ProjectError
from ml.tables import markdown_table
from ops.infra import policy
from ops.infra.costs import (
    Estimate,
    StackFacts,
    Usage,
    billing_note,
    endpoint_billing,
    estimate,
    load_prices,
    render_markdown,
)
from ops.infra.lambda_zip import build_lambda_zip
from ops.infra.model_inputs import model_vocabulary
from ops.infra.moto_gaps import AppAutoScalingTagProxy, CloudFrontGapProxy
from ops.infra.moto_server import MotoServer
from ops.infra.review import COMMENT_LIMIT, PlanFacts, review_sections, show_details
from ops.infra.terraform import ApplyResult, TerraformError, TerraformRunner, write_cli_config

SITE_DIR = ROOT / "site"
LOCAL_OVERRIDE = "local_target_override.tf"
EDGE_RESOURCE = 'resource "aws_cloudfront_distribution" "edge"'
# The emulator deploys a distribution at once, but the provider sleeps 30 s before it first asks.
EDGE_NO_WAIT = f"\n{EDGE_RESOURCE} {{\n  wait_for_deployment = false\n}}\n"
# Services the stack calls; AWS_ENDPOINT_URL in the environment catches any other.
LOCAL_SERVICES = (
    "acm",
    "apigatewayv2",
    "appautoscaling",
    "cloudfront",
    "cloudwatch",
    "cloudwatchlogs",
    "iam",
    "lambda",
    "route53",
    "s3",
    "sns",
    "sts",
    "wafv2",
)
# The provider configurations of versions.tf: the default one and the us-east-1 alias (CloudFront's ACM, WAF).
PROVIDER_ALIASES: tuple[str | None, ...] = (None, "us_east_1")
_ALIAS = re.compile(r'^\s*alias\s*=\s*"([^"]+)"', re.MULTILINE)

Echo = Callable[[str], None]
Confirm = Callable[[str], bool]


class InfraError(ProjectError):
    """The infrastructure cannot be handled as asked; the message says what to do next."""


# --- inputs ------------------------------------------------------------------------------------


def read_endpoint_vars(path: Path) -> EndpointOutputs:
    """Read and check the endpoint's tfvars file; InfraError when it is missing, incomplete or invalid."""
    if not path.exists():
        raise InfraError(
            f"{path} is missing: run `invoke train` first (it deploys the endpoint and writes it)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InfraError(f"{path} is not valid JSON ({exc}): run `invoke train` again") from None
    missing = [key for key in TEXT_VARS if not (isinstance(data, dict) and isinstance(data.get(key), str))]
    if isinstance(data, dict) and "endpoint_capacity" not in data:
        missing.append("endpoint_capacity")
    if missing:
        raise InfraError(f"{path} lacks {', '.join(missing)}: run `invoke train` again")
    try:
        capacity = EndpointCapacity.from_tfvars(data["endpoint_capacity"])
    except ValueError as exc:
        raise InfraError(f"{path}: {exc}: run `invoke train` again") from None
    optional = {key: data[key] for key in OPTIONAL_VARS if isinstance(data.get(key), str)}
    return EndpointOutputs(**{key: data[key] for key in TEXT_VARS}, **optional, endpoint_capacity=capacity)


def check_target(endpoint: EndpointOutputs, target: str) -> None:
    """Refuse to point a real AWS stack at the local target's endpoint."""
    if target == "aws" and (
        f":{LOCAL_ACCOUNT_ID}:" in endpoint.endpoint_arn
        or not endpoint.sagemaker_runtime_url.startswith("https://")
    ):
        raise InfraError(
            "terraform/endpoint.auto.tfvars.json describes the local endpoint "
            f"({endpoint.endpoint_arn}, {endpoint.sagemaker_runtime_url}): "
            "run `invoke train --target aws` first, or use --target local"
        )


# --- where terraform runs ----------------------------------------------------------------------


def local_override(
    endpoint_url: str,
    services: dict[str, str] | None = None,
    aliases: tuple[str | None, ...] = PROVIDER_ALIASES,
) -> str:
    """An override file that sends the AWS provider to ``endpoint_url`` and keeps the state local.

    ``services`` sends single services elsewhere (Application Auto Scaling, CloudFront: moto_gaps.py);
    ``aliases`` are the provider configurations the module declares (None: the default one).
    """
    urls = {service: endpoint_url for service in LOCAL_SERVICES} | (services or {})
    endpoints = "\n".join(f"    {service:<14} = {json.dumps(url)}" for service, url in sorted(urls.items()))
    providers = "\n".join(
        'provider "aws" {\n'
        + (f"  alias                   = {json.dumps(alias)}\n" if alias else "")
        + "  s3_use_path_style       = true\n"
        "  skip_metadata_api_check = true\n\n"
        f"  endpoints {{\n{endpoints}\n  }}\n"
        "}\n"
        for alias in aliases
    )
    return (
        "# Written by ops/infra/stack.py for --target local: the provider talks to moto_server, state here.\n"
        'terraform {\n  backend "local" {}\n}\n\n' + providers
    )


def prepare_local_workdir(
    source: Path, dest: Path, endpoint_url: str, services: dict[str, str] | None = None
) -> Path:
    """Make ``dest`` a fresh copy of the root module (``*.tf``, ``*.tfvars``, ``*.json``) for the emulator.

    The JSON files are the tfvars and what the module reads (security-headers.json). The override also
    tells an edge distribution not to wait for its deployment (EDGE_NO_WAIT).

    Whatever ``dest`` held before, state included, is removed: it described an emulator that has stopped.
    """
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for path in sorted(source.iterdir()):
        if path.is_file() and path.name.endswith((".tf", ".tfvars", ".json")):
            shutil.copy2(path, dest / path.name)
    sources = [path.read_text(encoding="utf-8") for path in dest.glob("*.tf")]
    aliases = (None, *sorted({alias for source in sources for alias in _ALIAS.findall(source)}))
    override = local_override(endpoint_url, services, aliases)
    if any(EDGE_RESOURCE in path.read_text(encoding="utf-8") for path in dest.glob("*.tf")):
        override += EDGE_NO_WAIT
    (dest / LOCAL_OVERRIDE).write_text(override, encoding="utf-8")
    return dest


@dataclass
class Stack:
    """One initialised Terraform working directory and the endpoint it is configured for."""

    target: str
    runner: TerraformRunner
    endpoint: EndpointOutputs


def settings_variables(settings: Settings) -> dict[str, Any]:
    """The variables from the settings: autoscaling, the alarm e-mail, what the Lambda reads, the edge."""
    return {
        "alarm_email": settings.alarm_email,
        "domain_name": settings.domain_name,
        "hosted_zone_id": settings.hosted_zone_id,
        "waf": {"rate_limit": settings.waf_rate_limit, "common_rules": settings.waf_common_rules},
        "lambda_settings": settings.lambda_settings(),
        "autoscaling": {
            "max_instances": settings.max_instances,
            "scale_in_cooldown_seconds": settings.scale_in_cooldown,
            "scale_out_cooldown_seconds": settings.scale_out_cooldown,
            "target_invocations_per_instance": settings.target_invocations_per_instance,
        },
    }


def stack_variables(settings: Settings, endpoint: EndpointOutputs | None = None) -> dict[str, Any]:
    """The variables Python supplies: the freshly built Lambda zip, the site folder and the settings'.

    The zip carries the vocabulary of the model ``endpoint`` names (None: none, for a destroy).
    """
    vocabulary = model_vocabulary(settings, endpoint) if endpoint is not None else None
    try:
        zip_path = build_lambda_zip(settings.build_dir / "lambda.zip", vocabulary=vocabulary)
    except FileNotFoundError as exc:
        raise InfraError(f"cannot build the Lambda zip: {exc}") from None
    return {"lambda_zip_path": str(zip_path), "site_dir": str(SITE_DIR), **settings_variables(settings)}


def fallback_endpoint_vars(settings: Settings) -> EndpointOutputs:
    """Endpoint variables from the settings, for destroying a stack whose tfvars file is gone.

    Destroy needs valid values for the required variables, not the ones the stack was made with; only the
    region matters (it is where the provider looks).
    """
    return EndpointOutputs(
        aws_region=settings.region,
        endpoint_arn=f"arn:aws:sagemaker:{settings.region}:{LOCAL_ACCOUNT_ID}:endpoint/{settings.endpoint_name}",
        endpoint_name=settings.endpoint_name,
        sagemaker_runtime_url=f"https://runtime.sagemaker.{settings.region}.amazonaws.com",
        endpoint_capacity=EndpointCapacity.from_settings(settings),
        model_sha256="0" * 64,  # any valid value: destroy needs none
    )


@contextmanager
def open_stack(settings: Settings, *, destroying: bool = False) -> Iterator[Stack]:
    """Build the zip, prepare and ``init`` the working directory for ``settings.target``; yield the stack.

    For ``local`` a moto_server runs for as long as the ``with`` block. ``destroying`` lifts the checks that
    only matter when creating: a stack can be destroyed after the tfvars were rewritten for the local
    target, or deleted (then the settings supply the variables).
    """
    fallback: dict[str, Any] = {}
    if destroying and not settings.tfvars_path.exists():
        endpoint = fallback_endpoint_vars(settings)
        fallback = endpoint.as_tfvars()
    else:
        endpoint = read_endpoint_vars(settings.tfvars_path)
        if not destroying:
            check_target(endpoint, settings.target)
    variables = {**stack_variables(settings, None if destroying else endpoint), **fallback}
    cli_config = write_cli_config(settings.build_dir / "terraform.rc", settings.terraform_plugin_mirror)
    if settings.target == "aws":
        runner = TerraformRunner(settings.terraform_dir, cli_config, variables=variables)
        runner.init()
        yield Stack("aws", runner, endpoint)
        return
    with (
        MotoServer() as moto,
        AppAutoScalingTagProxy(moto.url) as tags,
        CloudFrontGapProxy(moto.url) as cloudfront,
    ):
        workdir = prepare_local_workdir(
            settings.terraform_dir,
            settings.build_dir / "terraform-local",
            moto.url,
            {"appautoscaling": tags.url, "cloudfront": cloudfront.url},
        )
        runner = TerraformRunner(
            workdir, cli_config, env=moto.aws_env(endpoint.aws_region), variables=variables
        )
        runner.init()
        yield Stack("local", runner, endpoint)


# --- plan summary ------------------------------------------------------------------------------

_ACTIONS = {
    ("create",): "create",
    ("update",): "update",
    ("delete",): "delete",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("forget",): "forget",
}
_SYMBOLS = {"create": "+", "update": "~", "delete": "-", "replace": "-/+", "forget": "."}


@dataclass(frozen=True)
class ResourceChange:
    """One managed resource the plan touches."""

    address: str
    type: str
    action: str  # create | update | replace | delete | forget


@dataclass(frozen=True)
class PlanSummary:
    """The resource changes of a plan, counted the way Terraform's "Plan:" line counts them."""

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


def summarize_plan(plan: dict[str, Any]) -> PlanSummary:
    """The managed-resource changes in ``terraform show -json`` of a plan (no-ops and reads left out)."""
    changes = []
    for item in plan.get("resource_changes", []):
        action = _ACTIONS.get(tuple(item["change"]["actions"]))
        if item.get("mode") == "managed" and action is not None:
            changes.append(ResourceChange(item["address"], item["type"], action))
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
    lines += [f"- `{_SYMBOLS[c.action]}` {c.action} `{c.address}`" for c in summary.changes]
    lines += ["", "</details>", ""]
    return "\n".join(lines)


# --- the three operations on a stack -----------------------------------------------------------


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


def cost_section(plan: dict[str, Any], usage: Usage) -> tuple[Estimate | None, str]:
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
    summary = summarize_plan(data)
    markdown_path = out_dir / "tfplan.md"
    title = f"Terraform plan: `{stack.endpoint.endpoint_name}` stack, target `{stack.target}`"
    cost, section = cost_section(data, usage) if usage is not None else (None, "")
    violations: tuple[policy.Violation, ...] = ()
    if review:
        facts = PlanFacts.from_plan(data)
        violations = tuple(policy.check(facts))
        reviewed = "\n".join([policy.render(violations), review_sections(facts), section])
        markdown = render_plan_markdown(summary, title, reviewed)
        show = stack.runner.show_plan_text(plan_path)
        markdown += "\n" + show_details(show, COMMENT_LIMIT - len(markdown) - 1)
    else:
        markdown = render_plan_markdown(summary, title) + ("\n" + section if section else "")
    markdown_path.write_text(markdown, encoding="utf-8")
    return PlanReport(plan_path, json_path, markdown_path, summary, has_changes, cost, violations)


def check_no_drift(stack: Stack, out_dir: Path) -> None:
    """Plan again after an apply; InfraError listing the changes if a second apply would change anything."""
    report = plan_stack(stack, out_dir)
    if report.has_changes:
        raise InfraError(
            "the stack drifts: a second apply would still change it "
            f"(a provider or emulator mismatch; fix the configuration):\n{report.markdown_path.read_text()}"
        )


@dataclass(frozen=True)
class DestroyReport:
    """What ``destroy_stack`` listed and whether it removed it."""

    listed: tuple[str, ...]
    removed: bool
    billing: tuple[str, ...] = ()  # of the listed, what bills and how


def ask(question: str) -> bool:
    """Ask a yes/no question on the terminal; InfraError when there is no terminal to ask on."""
    if not sys.stdin.isatty():
        raise InfraError(
            "no terminal to confirm on: pass --yes to remove without asking, or --dry-run to list"
        )
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def destroy_stack(
    stack: Stack,
    *,
    sagemaker: Any | None = None,
    leftovers: cleanup.Leftovers | None = None,
    dry_run: bool = False,
    yes: bool = False,
    confirm: Confirm = ask,
    echo: Echo = print,
) -> DestroyReport:
    """List the stack's resources (and, given a ``sagemaker`` client, the endpoint's; given ``leftovers``,
    the project's other AWS resources: ml/aws/cleanup.py), ask, then remove them.

    Nothing is removed on ``dry_run``; without ``yes`` the ``confirm`` callback must answer True, else
    InfraError ("cancelled").
    """
    addresses = stack.runner.state_list()
    endpoint = find_endpoint_resources(sagemaker, stack.endpoint.endpoint_name) if sagemaker else None
    listed = tuple(
        [f"terraform {address}" for address in addresses]
        + (endpoint.describe() if endpoint else [])
        + (leftovers.describe() if leftovers else [])
    )
    if not listed:
        echo(
            "Nothing to remove: the state is empty"
            + (" and there is no such endpoint." if sagemaker else ".")
        )
        return DestroyReport((), removed=False)
    echo(f"{'Would remove' if dry_run else 'Will remove'} ({stack.target}):")
    for line in listed:
        echo(f"  - {line}")
    billing = billing_lines(addresses, endpoint)
    echo("Of these, what bills (and stops billing once removed):")
    for line in billing:
        echo(f"  - {line}")
    if sagemaker is None:
        echo(
            f"  (not listed: the SageMaker endpoint {stack.endpoint.endpoint_name}, if deployed, keeps "
            "billing every hour it runs; add --endpoint to remove it too)"
        )
    if dry_run:
        return DestroyReport(listed, removed=False, billing=billing)
    if not yes and not confirm(f"Remove these {len(listed)} resources?"):
        raise InfraError("cancelled: nothing was removed")
    if addresses:
        stack.runner.destroy()
    if endpoint:
        delete_endpoint_resources(sagemaker, endpoint)
    if leftovers:
        cleanup.remove(leftovers)
    return DestroyReport(listed, removed=True, billing=billing)


def billing_lines(addresses: Iterable[str], endpoint: EndpointResources | None) -> tuple[str, ...]:
    """One line per resource that bills: the endpoint first (with its hourly cost), then Terraform's."""
    lines = []
    if endpoint is not None and endpoint.capacity is not None:
        lines.append(endpoint_billing(endpoint.endpoint, endpoint.capacity, load_prices()))
    for address in addresses:
        note = billing_note(address)
        if note:
            lines.append(f"{address}: {note}")
    return tuple(lines)


# --- what the tasks call -----------------------------------------------------------------------


def apply_plan_file(stack: Stack, plan_file: Path, echo: Echo = print) -> ApplyResult:
    """Apply a saved, reviewed plan exactly: checked against the policy again, refused when stale."""
    if not plan_file.is_file():
        raise InfraError(
            f"no plan file at {plan_file}: run `invoke plan` (or fetch the reviewed tfplan artifact)"
        )
    violations = policy.check(PlanFacts.from_plan(stack.runner.show_plan(plan_file)))
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


def apply(settings: Settings, echo: Echo = print, plan_file: Path | None = None) -> ApplyResult:
    """``invoke infra``: init and apply; for the local target, check that a second apply changes nothing.

    With ``plan_file`` (``--plan-file``), apply exactly that saved plan (:func:`apply_plan_file`); aws only.
    """
    if plan_file is not None and settings.target == "local":
        raise InfraError(
            "--plan-file is for --target aws: a local plan names the emulator of the command that made it, "
            "which stopped with it"
        )
    with open_stack(settings) as stack:
        if plan_file is not None:
            return apply_plan_file(stack, plan_file, echo)
        echo(f"Applying the stack ({stack.target}, about a minute) in {stack.runner.working_dir} ...")
        result = stack.runner.apply()
        if stack.target == "local":
            check_no_drift(stack, settings.build_dir / "terraform-local")
            echo("Checked: a second apply against the same emulator would change nothing.")
        return result


def plan(settings: Settings, echo: Echo = print) -> PlanReport:
    """``invoke plan``: write ``build/tfplan``, its JSON and its review (``tfplan.md``); apply nothing.

    The report carries the policy's violations; :func:`require_policy` turns them into the task's failure.
    """
    with open_stack(settings) as stack:
        echo(f"Planning the stack ({stack.target}) in {stack.runner.working_dir} ...")
        return plan_stack(stack, settings.build_dir, Usage(settings.requests_per_month), review=True)


def require_policy(report: PlanReport) -> None:
    """PolicyError, one line per violation, when the reviewed plan breaks a rule of ops/infra/policy.py."""
    if report.violations:
        raise policy.error(report.violations, str(report.markdown_path))


def destroy(
    settings: Settings,
    *,
    endpoint: bool = False,
    everything: bool = False,
    dry_run: bool = False,
    yes: bool = False,
    confirm: Confirm = ask,
    echo: Echo = print,
) -> DestroyReport:
    """``invoke destroy``: remove the stack and, with ``endpoint``, the SageMaker endpoint; ``everything``
    (``--all``) also the model packages, the project's S3 prefix, and sets the SageMaker log groups'
    retention (ml/aws/cleanup.py).

    The local target keeps nothing between commands (its emulator stopped with ``invoke infra``), so there
    it only clears ``build/terraform-local/``.
    """
    if settings.target == "local":
        if not dry_run:
            shutil.rmtree(settings.build_dir / "terraform-local", ignore_errors=True)
        echo(
            "Nothing to remove for --target local: its resources lived in the moto_server of the command "
            "that made them and went with it; the local endpoint is the local stack's, not SageMaker's."
        )
        return DestroyReport((), removed=False)
    with open_stack(settings, destroying=True) as stack:
        config = Config(connect_timeout=10, retries={"max_attempts": 3, "mode": "standard"})
        boto = aws_session.boto_session(stack.endpoint.aws_region)
        try:
            client = boto.client("sagemaker", config=config) if endpoint or everything else None
            name, bucket, prefix = stack.endpoint.endpoint_name, settings.bucket, settings.s3_prefix
            found = cleanup.find(boto, name, bucket, prefix) if everything else None
            return destroy_stack(
                stack, sagemaker=client, leftovers=found, dry_run=dry_run, yes=yes, confirm=confirm, echo=echo
            )
        except (BotoCoreError, ClientError) as exc:
            raise InfraError(f"AWS refused or could not be reached ({exc}): check AWS credentials") from None
