"""Deploy a packaged model to the local endpoint and hand its outputs to Terraform.

The local endpoint registry (``build/endpoints.json``) maps endpoint names to model archives; the
endpoint server serves what it names. ``terraform/endpoint.auto.tfvars.json`` carries the endpoint's
name, ARN, region and runtime URL, for either target.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ml.config import LOCAL_ACCOUNT_ID, Settings, log
from ml.fsutil import file_digest, write_json


@dataclass(frozen=True)
class EndpointOutputs:
    """What Terraform needs to know about the endpoint (keys are Terraform variable names)."""

    endpoint_name: str
    endpoint_arn: str
    aws_region: str
    sagemaker_runtime_url: str


def local_outputs(settings: Settings) -> EndpointOutputs:
    """The local endpoint's outputs: an ARN-shaped id with the placeholder account, the loopback URL."""
    arn = f"arn:aws:sagemaker:{settings.region}:{LOCAL_ACCOUNT_ID}:endpoint/{settings.endpoint_name.lower()}"
    return EndpointOutputs(settings.endpoint_name, arn, settings.region, settings.runtime_url())


def write_tfvars(outputs: EndpointOutputs, path: Path) -> None:
    """Write the endpoint tfvars (atomically; untouched when unchanged)."""
    changed = write_json(path, asdict(outputs))
    log.info("endpoint outputs %s %s", "written to" if changed else "unchanged in", path)


def register_local(settings: Settings, archive: Path) -> None:
    """Point the local endpoint ``settings.endpoint_name`` at ``archive``."""
    registry = read_registry(settings.endpoint_registry)
    registry[settings.endpoint_name] = {
        "model_archive": str(archive.resolve()),
        "sha256": file_digest(archive),
    }
    write_json(settings.endpoint_registry, registry)


def read_registry(path: Path) -> dict[str, dict[str, str]]:
    """The local endpoint registry, empty when nothing was deployed yet."""
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def registered_archive(settings: Settings) -> Path | None:
    """The model archive the local endpoint ``settings.endpoint_name`` serves, if any."""
    entry = read_registry(settings.endpoint_registry).get(settings.endpoint_name)
    return Path(entry["model_archive"]) if entry else None


def deploy_local(settings: Settings, archive: Path) -> EndpointOutputs:
    """Register the model with the local endpoint and write the tfvars; return the outputs."""
    register_local(settings, archive)
    outputs = local_outputs(settings)
    write_tfvars(outputs, settings.tfvars_path)
    log.info(
        "deployed %s to local endpoint %r (%s); start it with `invoke up`",
        archive,
        settings.endpoint_name,
        outputs.sagemaker_runtime_url,
    )
    return outputs
