"""The local target's working copy: the root module copied to ``build/terraform-local/`` with an override
that sends the AWS provider to a moto_server and keeps the state local (docs/infra-local-target.md)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

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
        "# Written by ops/infra/local_workdir.py for --target local: the provider talks to moto_server, "
        "state here.\n"
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
