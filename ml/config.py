"""The one place for settings: typed defaults, overridable by environment (``DBP_*``) and task flags.

Precedence, lowest first: the defaults below, the tracked hyperparameters file (``hyperparameters.json``,
written by ``invoke tune``; hyperparameters only), ``DBP_<FIELD>`` environment variables (upper-case field
names, e.g. ``DBP_EPOCHS=10``, ``DBP_TARGET=aws``), then explicit overrides passed by a task flag.
Nothing here touches the disk or the network at import time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "DBP_"
LOCAL_ACCOUNT_ID = "000000000000"  # the account in the local target's ARNs (and moto's default account)
Target = Literal["local", "aws"]
TARGETS: tuple[str, ...] = ("local", "aws")
EndpointMode = Literal["instance", "serverless"]
ENDPOINT_MODES: tuple[str, ...] = ("instance", "serverless")
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)

log = logging.getLogger("dbpedia")


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Hyperparameters:
    """BlazingText supervised-mode hyperparameters, under BlazingText's own names.

    The local trainer maps them onto fastText's; SageMaker receives them as they are.
    """

    # Measured choice on the shared DBPedia rows (docs/model-quality.md); hyperparameters.json repeats it.
    epochs: int = 10
    learning_rate: float = 0.3
    vector_dim: int = 20
    word_ngrams: int = 2
    min_count: int = 2
    buckets: int = 1_000_000
    early_stopping: bool = False
    patience: int = 4
    min_epochs: int = 5

    def as_blazingtext(self) -> dict[str, str]:
        """Return the hyperparameters as SageMaker's BlazingText expects them (strings, supervised mode)."""
        values: dict[str, str] = {"mode": "supervised"}
        for f in fields(self):
            value = getattr(self, f.name)
            values[f.name] = str(value).lower() if isinstance(value, bool) else str(value)
        if not self.early_stopping:
            values.pop("patience")
            values.pop("min_epochs")
        return values


@dataclass(frozen=True)
class Settings:
    """Every setting of the pipeline, the local stack and the infrastructure."""

    # --- where things go -------------------------------------------------------------------------
    build_dir: Path = ROOT / "build"
    terraform_dir: Path = ROOT / "terraform"
    # Providers come from this filesystem mirror when it exists, else from the Terraform registry.
    terraform_plugin_mirror: Path = Path("/opt/tf-plugins")

    # --- data ------------------------------------------------------------------------------------
    # "auto": the full archive if it was downloaded before, else the sample shipped in data/;
    # "sample", "full" (download, resumable, checksum-verified), or a path to an archive or folder.
    data: str = "auto"
    data_url: str = (
        "https://github.com/saurabh3949/Text-Classification-Datasets/raw/master/dbpedia_csv.tar.gz"
    )
    data_md5: str = "dca7b1ae12b1091090db52aa7ec5ca64"
    sample_archive: Path = ROOT / "data" / "dbpedia_sample.tar.xz"
    validation_fraction: float = 0.1
    # Used only when the official test split is missing or incomplete (see ml/data.py).
    test_fraction: float = 0.1
    min_test_rows_per_class: int = 100
    seed: int = 42
    # Train channel: copies of each train row, each missing a seeded random half of its tokens
    # (regularisation that teaches short inputs; docs/model-quality.md). 0 turns them off.
    dropout_views: int = 20

    # --- training --------------------------------------------------------------------------------
    hyperparameters: Hyperparameters = field(default_factory=Hyperparameters)
    # BlazingText-named values that override the defaults above; `invoke tune` rewrites it.
    hyperparameters_file: Path = ROOT / "hyperparameters.json"
    threads: int = max(1, os.cpu_count() or 1)
    min_accuracy: float = 0.0  # fail `invoke train` when test accuracy is below this

    # --- tuning (`invoke tune`; see ml/tune.py and ml/sagemaker_tune.py) ---------------------------
    tune_duration: int = 300  # local: seconds of fastText autotune
    tune_max_jobs: int = 20  # aws: training jobs of the tuning job in total
    tune_max_parallel_jobs: int = 2  # aws: training jobs running at once

    # --- endpoint --------------------------------------------------------------------------------
    target: Target = "local"
    endpoint_name: str = "dbpedia-classifier"
    region: str = "us-east-1"
    top_k: int = 3

    # --- SageMaker (target aws; see ml/sagemaker_train.py and ml/sagemaker_deploy.py) ---------------
    role_arn: str = ""  # the SageMaker execution role; required for target aws
    bucket: str = ""  # empty: the SDK's default bucket, sagemaker-<region>-<account id>
    s3_prefix: str = "dbpedia-classifier"  # channels under <prefix>/data/, job outputs under <prefix>/output/
    training_instance_type: str = "ml.c5.xlarge"  # BlazingText supervised trains on one instance
    instance_type: str = "ml.t2.medium"  # the endpoint's instances (the seed's choice)
    instance_count: int = 1  # instances at deploy, and the autoscaling floor

    # --- endpoint capacity (target aws; docs/endpoint-capacity.md) ----------------------------------
    # train deploys the mode; infra applies the autoscaling of an instance-backed endpoint (Terraform).
    endpoint_mode: EndpointMode = "instance"  # "instance" (autoscaled) or "serverless"
    max_instances: int = 2  # autoscaling ceiling (the floor is instance_count)
    target_invocations_per_instance: int = 600  # per minute (SageMakerVariantInvocationsPerInstance)
    scale_in_cooldown: int = 300  # seconds
    scale_out_cooldown: int = 60  # seconds
    serverless_memory_mb: int = 2048  # 1024, 2048, ... 6144
    serverless_max_concurrency: int = 5  # 1..200

    # --- monitoring and cost (terraform/monitoring.tf, ops/costs.py) --------------------------------
    alarm_email: str = ""  # subscribe this address to the alarm topic (empty: no subscription)
    requests_per_month: int = 1_000_000  # the traffic the cost estimate assumes

    # --- bulk classification (`invoke classify`; ml/classify.py, ml/sagemaker_transform.py) ----------
    classify_batch_size: int = 100  # texts per endpoint request (the endpoint takes at most 1000)
    classify_workers: int = 4  # concurrent endpoint requests (target local)
    transform_instance_type: str = "ml.m5.large"  # SageMaker Batch Transform instances (target aws)
    transform_instance_count: int = 1

    # --- local stack (all on 127.0.0.1) ----------------------------------------------------------
    host: str = "127.0.0.1"
    endpoint_port: int = 8080
    api_port: int = 3000
    site_port: int = 8000
    max_text_chars: int = 5000
    # endpoint processes sharing its port (fastText holds the GIL: one process predicts on one core)
    endpoint_workers: int = 1

    @property
    def data_dir(self) -> Path:
        """Raw downloads and the prepared fastText files."""
        return self.build_dir / "data"

    @property
    def model_dir(self) -> Path:
        """The trained model, its package and its evaluation report."""
        return self.build_dir / "model"

    @property
    def model_archive(self) -> Path:
        """``model.tar.gz`` as BlazingText writes it: one member, ``model.bin``."""
        return self.model_dir / "model.tar.gz"

    @property
    def endpoint_registry(self) -> Path:
        """Which model each local endpoint serves (written by the local deploy)."""
        return self.build_dir / "endpoints.json"

    @property
    def tfvars_path(self) -> Path:
        """The endpoint's outputs, read by Terraform."""
        return self.terraform_dir / "endpoint.auto.tfvars.json"

    def runtime_url(self) -> str:
        """The SageMaker runtime base URL the Lambda calls for this target."""
        if self.target == "local":
            return f"http://{self.host}:{self.endpoint_port}"
        return f"https://runtime.sagemaker.{self.region}.amazonaws.com"

    def validate(self) -> Settings:
        """Check value ranges that the types alone do not; raise ConfigError naming the setting."""
        hp = self.hyperparameters
        checks = [
            (self.target in TARGETS, "target", f"must be one of {', '.join(TARGETS)}"),
            (0 < self.validation_fraction < 0.5, "validation_fraction", "must be in (0, 0.5)"),
            (0 < self.test_fraction < 0.5, "test_fraction", "must be in (0, 0.5)"),
            (hp.epochs >= 1, "epochs", "must be at least 1"),
            (hp.learning_rate > 0, "learning_rate", "must be positive"),
            (hp.vector_dim >= 1, "vector_dim", "must be at least 1"),
            (1 <= hp.word_ngrams <= 5, "word_ngrams", "must be in 1..5"),
            (hp.min_count >= 1, "min_count", "must be at least 1"),
            (hp.buckets >= 1, "buckets", "must be at least 1"),
            (hp.patience >= 1, "patience", "must be at least 1"),
            (
                1 <= hp.min_epochs <= (hp.epochs if hp.early_stopping else 10**6),
                "min_epochs",
                "must be in 1..epochs when early_stopping is on",
            ),
            (1 <= self.top_k <= 14, "top_k", "must be in 1..14"),
            *[
                (1 <= getattr(self, p) <= 65535, p, "must be a port number in 1..65535")
                for p in ("endpoint_port", "api_port", "site_port")
            ],
            (self.instance_count >= 1, "instance_count", "must be at least 1"),
            (1 <= self.endpoint_workers <= 32, "endpoint_workers", "must be in 1..32"),
            (
                self.endpoint_mode in ENDPOINT_MODES,
                "endpoint_mode",
                f"must be one of {', '.join(ENDPOINT_MODES)}",
            ),
            (self.max_instances >= self.instance_count, "max_instances", "must be at least instance_count"),
            (
                self.target_invocations_per_instance >= 1,
                "target_invocations_per_instance",
                "must be at least 1",
            ),
            *[
                (getattr(self, c) >= 0, c, "must be 0 or more")
                for c in ("scale_in_cooldown", "scale_out_cooldown")
            ],
            (
                self.serverless_memory_mb in SERVERLESS_MEMORY_MB,
                "serverless_memory_mb",
                "must be one of 1024, 2048, 3072, 4096, 5120, 6144 (SageMaker Serverless Inference)",
            ),
            (1 <= self.serverless_max_concurrency <= 200, "serverless_max_concurrency", "must be in 1..200"),
            (
                self.alarm_email == ""
                or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", self.alarm_email) is not None,
                "alarm_email",
                "must be an e-mail address, or empty for no subscription",
            ),
            (self.requests_per_month >= 0, "requests_per_month", "must be 0 or more"),
            (1 <= self.classify_batch_size <= 1000, "classify_batch_size", "must be in 1..1000"),
            (1 <= self.classify_workers <= 64, "classify_workers", "must be in 1..64"),
            (self.transform_instance_count >= 1, "transform_instance_count", "must be at least 1"),
            (0 <= self.dropout_views <= 100, "dropout_views", "must be in 0..100"),
            (self.threads >= 1, "threads", "must be at least 1"),
            (0.0 <= self.min_accuracy <= 1.0, "min_accuracy", "must be in [0, 1]"),
            (1 <= self.tune_duration <= 86_400, "tune_duration", "must be in 1..86400 seconds"),
            (1 <= self.tune_max_jobs <= 500, "tune_max_jobs", "must be in 1..500"),
            (
                1 <= self.tune_max_parallel_jobs <= self.tune_max_jobs,
                "tune_max_parallel_jobs",
                "must be in 1..tune_max_jobs",
            ),
        ]
        for ok, name, why in checks:
            if not ok:
                raise ConfigError(f"setting {name!r} {why}")
        return self


def _coerce(name: str, raw: Any, kind: Any) -> Any:
    """Turn a flag or environment string into the field's type; ConfigError when it does not parse."""
    if typing.get_origin(kind) is Literal:
        if raw not in typing.get_args(kind):
            allowed = ", ".join(typing.get_args(kind))
            raise ConfigError(f"setting {name!r} must be one of {allowed}, not {raw!r}")
        return raw
    if not isinstance(raw, str):
        return kind(raw) if kind in (int, float, Path) and not isinstance(raw, bool) else raw
    try:
        if kind is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        return kind(raw)
    except ValueError:
        raise ConfigError(f"setting {name!r} expects {kind.__name__}, got {raw!r}") from None


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def read_hyperparameters_file(path: Path) -> dict[str, Any]:
    """The hyperparameters a ``hyperparameters.json`` sets, typed; ConfigError when it cannot be used."""
    hint = "restore it (`git checkout hyperparameters.json`), or point DBP_HYPERPARAMETERS_FILE at one"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"hyperparameters file {path} not found: {hint}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"hyperparameters file {path} is not valid JSON ({exc.msg}, line {exc.lineno})"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"hyperparameters file {path} must hold a JSON object of BlazingText names")
    hp_types = _field_types(Hyperparameters)
    unknown = sorted(set(raw) - set(hp_types))
    if unknown:
        raise ConfigError(f"hyperparameters file {path}: unknown hyperparameter(s): {', '.join(unknown)}")
    values = {}
    for name, value in raw.items():
        if not isinstance(value, bool | int | float):
            raise ConfigError(f"hyperparameters file {path}: {name!r} must be a number or true/false")
        values[name] = _coerce(name, str(value), hp_types[name])
    return values


def load_settings(**overrides: Any) -> Settings:
    """Build the settings: defaults, the hyperparameters file, ``DBP_*`` environment, non-None ``overrides``.

    Hyperparameter names (``epochs``, ``learning_rate`` …) are accepted at the top level too.

    Raises:
        ConfigError: an unknown setting, or a value of the wrong type or range.
    """
    top_types = _field_types(Settings)
    hp_types = _field_types(Hyperparameters)
    values: dict[str, Any] = {}
    for name in [*top_types, *hp_types]:
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env is not None and env != "":
            values[name] = env
    unknown = sorted(set(overrides) - set(top_types) - set(hp_types))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    values.update({k: v for k, v in overrides.items() if v is not None})

    top: dict[str, Any] = {}
    hp: dict[str, Any] = {}
    for name, raw in values.items():
        if name in hp_types:
            hp[name] = _coerce(name, raw, hp_types[name])
        elif name != "hyperparameters":
            top[name] = _coerce(name, raw, top_types[name])
    base = overrides.get("hyperparameters") or Hyperparameters(
        **read_hyperparameters_file(top.get("hyperparameters_file", Settings.hyperparameters_file))
    )
    settings = Settings(**top, hyperparameters=replace(base, **hp))
    return settings.validate()


def setup_logging(verbose: bool = False) -> None:
    """Log ``HH:MM:SS level message`` lines to stderr (DEBUG with ``verbose``)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("botocore", "boto3", "urllib3", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def settings_to_dict(settings: Settings) -> dict[str, Any]:
    """A JSON-ready view of the settings (paths as strings), for reports and logs."""

    def plain(value: Any) -> Any:
        if isinstance(value, Path):
            return str(value)
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
        return value

    return plain(settings)


__all__ = [
    "ROOT",
    "TARGETS",
    "ConfigError",
    "Hyperparameters",
    "Settings",
    "load_settings",
    "read_hyperparameters_file",
    "settings_to_dict",
    "setup_logging",
]
