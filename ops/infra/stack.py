"""Where Terraform runs for a command: ``open_stack`` yields one initialised working directory.

Two targets (``Settings.target``):

- ``aws``: Terraform runs in ``terraform/`` with its own state (a local file unless you opted in to the S3
  backend) and your AWS credentials.
- ``local``: Terraform runs in a fresh copy, ``build/terraform-local/`` (ops/infra/local_workdir.py), whose
  AWS provider points at a moto_server started for this one command; resources and state live only as long
  as that command (see docs/infra-local-target.md).

The operations on a stack are ops/infra/plan.py, apply.py and destroy.py. They raise :class:`InfraError`
(or :class:`ops.infra.terraform.TerraformError`) with a message that says what to do next; the tasks print
it and exit 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ml.deploy import EndpointOutputs
from ops.infra.inputs import (
    check_target,
    fallback_endpoint_vars,
    read_endpoint_vars,
    relative_paths,
    stack_variables,
)
from ops.infra.local_workdir import prepare_local_workdir
from ops.infra.moto_gaps import AppAutoScalingTagProxy, CloudFrontGapProxy
from ops.infra.moto_server import MotoServer
from ops.infra.terraform import TerraformRunner, write_cli_config
from ops.settings import Settings

Echo = Callable[[str], None]


@dataclass
class Stack:
    """One initialised Terraform working directory and the endpoint it is configured for."""

    target: str
    runner: TerraformRunner
    endpoint: EndpointOutputs


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
        located = relative_paths(variables, settings.terraform_dir)
        runner = TerraformRunner(settings.terraform_dir, cli_config, variables=located)
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
            workdir,
            cli_config,
            env=moto.aws_env(endpoint.aws_region),
            variables=relative_paths(variables, workdir),
        )
        runner.init()
        yield Stack("local", runner, endpoint)
