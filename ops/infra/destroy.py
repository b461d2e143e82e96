"""``invoke destroy``: list what the stack (and, asked, the SageMaker endpoint and the project's other AWS
resources) holds and what of it bills, ask, then remove it."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ml.aws import cleanup
from ml.aws import session as aws_session
from ml.aws.resources import EndpointResources, delete_endpoint_resources, find_endpoint_resources
from ops.infra.costs import billing_note, endpoint_billing, load_prices
from ops.infra.errors import InfraError
from ops.infra.stack import Echo, Stack, aws_stack
from ops.settings import Settings

Confirm = Callable[[str], bool]


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
    """``invoke destroy --target aws``: remove the stack and, with ``endpoint``, the SageMaker endpoint;
    ``everything`` (``--all``) also the model packages, the project's S3 prefix, and sets the SageMaker log
    groups' retention (ml/aws/cleanup.py)."""
    with aws_stack(settings, destroying=True) as stack:
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


def forget_emulated(build_dir: Path, dry_run: bool = False, echo: Echo = print) -> DestroyReport:
    """``invoke destroy`` (target local): its resources lived in the moto_server of the command that made
    them and went with it, so only its working copy under ``build_dir`` is cleared."""
    if not dry_run:
        shutil.rmtree(build_dir / "terraform-local", ignore_errors=True)
    echo(
        "Nothing to remove for --target local: its resources lived in the moto_server of the command "
        "that made them and went with it; the local endpoint is the local stack's, not SageMaker's."
    )
    return DestroyReport((), removed=False)
