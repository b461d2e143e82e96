"""The applied stack's outputs, read from Terraform's state: the URLs ``invoke smoke`` checks by default."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ops.infra.errors import InfraError
from ops.infra.inputs import read_endpoint_vars
from ops.infra.terraform import TerraformRunner, write_cli_config
from ops.settings import Settings

NEEDED = ("site_url", "api_url", "site_bucket_name")


@dataclass(frozen=True)
class DeployedUrls:
    """Where the deployed stack answers: its public URL, the API's own URL, the site bucket's own URL."""

    site_url: str
    api_url: str
    bucket_url: str


def stack_outputs(settings: Settings) -> dict[str, Any]:
    """The root outputs of the stack in ``settings.terraform_dir`` (its backend's state); ``{}`` if none."""
    cli_config = write_cli_config(settings.build_dir / "terraform.rc", settings.terraform_plugin_mirror)
    runner = TerraformRunner(settings.terraform_dir, cli_config)
    runner.init()
    return runner.outputs()


def deployed_urls(settings: Settings) -> DeployedUrls:
    """The stack's URLs from its outputs; InfraError when nothing is applied there.

    The bucket's URL is its regional S3 name in the stack's region (the tfvars' ``aws_region``).
    """
    outputs = stack_outputs(settings)
    missing = [name for name in NEEDED if not outputs.get(name)]
    if missing:
        raise InfraError(
            f"no applied stack in {settings.terraform_dir} (its state has no {', '.join(missing)} output): "
            "run `invoke infra --target aws` first, or give the site's URL with --url"
        )
    region = read_endpoint_vars(settings.tfvars_path).aws_region
    bucket_url = f"https://{outputs['site_bucket_name']}.s3.{region}.amazonaws.com"
    return DeployedUrls(outputs["site_url"], outputs["api_url"], bucket_url)
