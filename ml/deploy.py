"""Deploy a packaged model to the local endpoint and hand its outputs to Terraform.

The local endpoint registry (``build/endpoints.json``) maps endpoint names to model archives (each in its
version folder, beside its manifest: docs/model-versions.md); the endpoint server serves what it names,
and rewriting it (atomically) is what switches the deployed model. :func:`live_entry` is the one way to
read what an endpoint serves. ``terraform/endpoint.auto.tfvars.json`` carries the endpoint's name, ARN,
region, runtime URL and capacity, for either target.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ml import vocabulary
from ml.config import ENDPOINT_MODES, LOCAL_ACCOUNT_ID, ModelSettings, log
from ml.data import Splits
from ml.errors import ProjectError
from ml.fsutil import file_digest, write_json
from ml.lambda_src import text_tokenizer
from ml.package import MANIFEST

_CAPACITY_KEYS = {
    "instance": ("instance_type", "instance_count"),
    "serverless": ("memory_mb", "max_concurrency"),
}


@dataclass(frozen=True)
class EndpointCapacity:
    """How the endpoint runs: on instances (type, count) or serverless (memory, concurrency)."""

    mode: str
    instance_type: str = ""
    instance_count: int = 0
    memory_mb: int = 0
    max_concurrency: int = 0

    @classmethod
    def from_settings(cls, settings: ModelSettings) -> EndpointCapacity:
        """The capacity the settings ask for."""
        if settings.endpoint_mode == "serverless":
            return cls(
                "serverless",
                memory_mb=settings.serverless_memory_mb,
                max_concurrency=settings.serverless_max_concurrency,
            )
        return cls("instance", instance_type=settings.instance_type, instance_count=settings.instance_count)

    @classmethod
    def from_tfvars(cls, data: Any) -> EndpointCapacity:
        """Parse the tfvars' ``endpoint_capacity``; ValueError saying what is wrong."""
        mode = data.get("mode") if isinstance(data, dict) else None
        if mode not in ENDPOINT_MODES:
            raise ValueError(f"endpoint_capacity.mode must be one of {', '.join(ENDPOINT_MODES)}")
        values = {key: data.get(key) for key in _CAPACITY_KEYS[mode]}
        for key, value in values.items():
            if key == "instance_type":
                valid = isinstance(value, str) and value != ""
            else:
                valid = isinstance(value, int) and not isinstance(value, bool) and value >= 1
            if not valid:
                raise ValueError(f"endpoint_capacity.{key} is missing or invalid ({value!r})")
        return cls(mode, **values)

    def as_tfvars(self) -> dict[str, Any]:
        """The mode and its two keys (Terraform's ``endpoint_capacity`` object)."""
        return {"mode": self.mode, **{key: getattr(self, key) for key in _CAPACITY_KEYS[self.mode]}}

    def describe(self) -> str:
        """``1 × ml.t2.medium`` or ``serverless, 2048 MB, at most 5 concurrent requests``."""
        if self.mode == "serverless":
            return f"serverless, {self.memory_mb} MB, at most {self.max_concurrency} concurrent requests"
        return f"{self.instance_count} × {self.instance_type}"


@dataclass(frozen=True)
class EndpointOutputs:
    """What Terraform needs to know about the endpoint (keys are Terraform variable names)."""

    endpoint_name: str
    endpoint_arn: str
    aws_region: str
    sagemaker_runtime_url: str
    endpoint_capacity: EndpointCapacity
    model_sha256: str = ""  # of the deployed model.tar.gz: the Lambda's vocabulary must name it
    # s3://<bucket>/<prefix>/models: where plan / infra fetch the model's inputs by model_sha256 when build/
    # lacks them (ml/aws/store.py); "" for the local target, whose models stay local
    model_store_uri: str = ""

    def as_tfvars(self) -> dict[str, Any]:
        """The tfvars file's content."""
        return {**asdict(self), "endpoint_capacity": self.endpoint_capacity.as_tfvars()}


OPTIONAL_VARS = ("model_store_uri",)  # tfvars written before it have none: ""
TEXT_VARS = tuple(
    sorted(f.name for f in fields(EndpointOutputs) if f.name not in ("endpoint_capacity", *OPTIONAL_VARS))
)


def local_outputs(settings: ModelSettings, model_sha256: str = "") -> EndpointOutputs:
    """The local endpoint's outputs: an ARN-shaped id with the placeholder account, the loopback URL."""
    arn = f"arn:aws:sagemaker:{settings.region}:{LOCAL_ACCOUNT_ID}:endpoint/{settings.endpoint_name.lower()}"
    return EndpointOutputs(
        settings.endpoint_name,
        arn,
        settings.region,
        settings.runtime_url(),
        EndpointCapacity.from_settings(settings),
        model_sha256,
    )


def write_tfvars(outputs: EndpointOutputs, path: Path) -> None:
    """Write the endpoint tfvars (atomically; untouched when unchanged)."""
    changed = write_json(path, outputs.as_tfvars())
    log.info("endpoint outputs %s %s", "written to" if changed else "unchanged in", path)


class RegistryError(ProjectError):
    """The local endpoint registry cannot be read; the message says how to get a good one."""


def _read_registry(path: Path) -> dict[str, dict[str, Any]]:
    """The local endpoint registry, empty when nothing was deployed yet."""
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (UnicodeDecodeError, ValueError):
        raise RegistryError(f"{path} is not readable JSON: run `invoke train` to deploy again") from None


def live_entry(settings: ModelSettings) -> dict[str, Any] | None:
    """What the local endpoint ``settings.endpoint_name`` serves: its registry entry (``model_archive``,
    ``sha256``, ``tokenizer``, ``version``, ``history``), None when nothing is deployed there."""
    return _read_registry(settings.endpoint_registry).get(settings.endpoint_name)


def with_history(previous: dict[str, Any], new_version: str) -> list[str]:
    """The ``history`` (versions live before, newest last) once ``new_version`` goes live: going back to
    one of them pops the history back to it (so a second rollback goes further back, never to the version
    rolled back from); any other version pushes the one it replaces."""
    history = [v for v in previous.get("history", []) if isinstance(v, str)]
    if new_version in history:
        return history[: history.index(new_version)]
    old = previous.get("version")
    return [*history, old] if old and old != new_version else history


def register_local(settings: ModelSettings, archive: Path) -> None:
    """Point the local endpoint ``settings.endpoint_name`` at ``archive`` (its version folder's), keeping
    the versions live before it (``history``)."""
    registry = _read_registry(settings.endpoint_registry)
    previous = registry.get(settings.endpoint_name, {})
    version = archive.resolve().parent.name
    registry[settings.endpoint_name] = {
        "model_archive": str(archive.resolve()),
        "sha256": file_digest(archive),
        "tokenizer": text_tokenizer().SCHEME,  # the model was trained on tokens of this scheme
        "version": version,
        "history": with_history(previous, version),
    }
    write_json(settings.endpoint_registry, registry)


def registered_archive(settings: ModelSettings) -> Path | None:
    """The model archive the local endpoint ``settings.endpoint_name`` serves, if any."""
    entry = live_entry(settings)
    return Path(entry["model_archive"]) if entry else None


def registered_manifest(settings: ModelSettings) -> Path | None:
    """The manifest of the model the local endpoint ``settings.endpoint_name`` serves, if any."""
    archive = registered_archive(settings)
    return archive.with_name(MANIFEST) if archive else None


def tokenizer_mismatch(settings: ModelSettings) -> str | None:
    """Why the model registered for ``settings.endpoint_name`` cannot be served with today's tokenizer.

    None when nothing is registered or the schemes agree. Entries written before the registry recorded
    the scheme are from ``nfkd-lower-nltkword-v1``, the only scheme there was.
    """
    entry = live_entry(settings)
    if entry is None:
        return None
    trained, current = entry.get("tokenizer", "nfkd-lower-nltkword-v1"), text_tokenizer().SCHEME
    if trained == current:
        return None
    return (
        f"the model deployed to the local endpoint {settings.endpoint_name!r} was trained on tokenizer "
        f"{trained!r}, but the Lambda now tokenizes as {current!r}"
    )


def deploy_local(
    settings: ModelSettings, archive: Path, train_rows: Path, splits: Callable[[], Splits]
) -> EndpointOutputs:
    """Derive the model's vocabulary (from its ``train_rows`` and ``splits``), register it locally, write
    the tfvars."""
    vocabulary.ensure(archive, settings.build_dir / "endpoint-cache", train_rows, splits)
    register_local(settings, archive)
    outputs = local_outputs(settings, file_digest(archive))
    write_tfvars(outputs, settings.tfvars_path)
    log.info(
        "deployed %s to local endpoint %r (%s); start it with `invoke up`",
        archive,
        settings.endpoint_name,
        outputs.sagemaker_runtime_url,
    )
    return outputs
