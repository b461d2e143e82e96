"""Where Terraform runs for a command: each opener yields one initialised working directory.

The target (ops/targets.py, the one switch) picks the opener:

- ``aws_stack``: Terraform runs in ``terraform/`` with its own state (a local file unless you opted in to
  the S3 backend) and your AWS credentials.
- ``emulated_stack`` (target local): Terraform runs in a fresh copy, ``build/terraform-local/``
  (ops/infra/local_workdir.py), whose AWS provider points at a moto_server started for this one command;
  resources and state live only as long as that command (see docs/infra-local-target.md).

The operations on a stack are ops/infra/plan.py, apply.py and destroy.py. They raise :class:`InfraError`
(or :class:`ops.infra.terraform.TerraformError`) with a message that says what to do next; the tasks print
it and exit 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

from ml.deploy import EndpointOutputs
from ops.infra.inputs import (
    fallback_endpoint_vars,
    read_endpoint_vars,
    refuse_local_endpoint,
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


StackOpener = Callable[..., AbstractContextManager["Stack"]]


def _inputs(settings: Settings, destroying: bool) -> tuple[EndpointOutputs, dict[str, Any]]:
    """The endpoint and Terraform's variables. ``destroying`` lifts what only matters when creating: a stack
    can be destroyed after its tfvars were rewritten or deleted (then the settings supply the variables)."""
    if destroying and not settings.tfvars_path.exists():
        endpoint = fallback_endpoint_vars(settings)
        return endpoint, {**stack_variables(settings, None), **endpoint.as_tfvars()}
    endpoint = read_endpoint_vars(settings.tfvars_path)
    return endpoint, stack_variables(settings, None if destroying else endpoint)


@contextmanager
def aws_stack(settings: Settings, *, destroying: bool = False) -> Iterator[Stack]:
    """Terraform in ``terraform/`` with its own state and your AWS credentials (target aws)."""
    endpoint, variables = _inputs(settings, destroying)
    if not destroying:
        refuse_local_endpoint(endpoint)
    cli_config = write_cli_config(settings.build_dir / "terraform.rc", settings.terraform_plugin_mirror)
    located = relative_paths(variables, settings.terraform_dir)
    runner = TerraformRunner(settings.terraform_dir, cli_config, variables=located)
    runner.init()
    yield Stack("aws", runner, endpoint)


@contextmanager
def emulated_stack(settings: Settings) -> Iterator[Stack]:
    """Terraform in a fresh copy against a moto_server that lives as long as the ``with`` block (target
    local; nothing outlives it, so there is never anything to destroy)."""
    endpoint, variables = _inputs(settings, destroying=False)
    cli_config = write_cli_config(settings.build_dir / "terraform.rc", settings.terraform_plugin_mirror)
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
