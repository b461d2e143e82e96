"""The model's settings, and the machinery every layer's settings share.

Each setting is declared once, with its type, bounds, default, help and variable, beside the layer that uses
it (docs/architecture.md): here the model's (data, training, tuning, versions, and the endpoint a deploy
hands to Terraform); the SageMaker side's in ``ml/aws/config.py``; the stack's (target, Terraform, the edge,
smoke checks, the local servers, what the Lambda reads) in ``ops/settings.py``, whose ``Settings`` composes
the three and is what the tasks load.

Precedence, lowest first: the defaults, the tracked hyperparameters file (``hyperparameters.json``,
written by ``invoke tune``; hyperparameters only), ``DBP_<NAME>`` environment variables (upper-case names,
e.g. ``DBP_EPOCHS=10``, ``DBP_TARGET=aws``), then explicit overrides passed by a task flag. The tasks take
their flags, defaults and help text from the declarations (``commands/cli.py``). Nothing here touches the
disk or the network at import time.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from abc import abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, Self, TypeVar, get_args

from pydantic import Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from ml.errors import ProjectError
from ml.hyperparameters import HYPERPARAMETER_NAMES, Hyperparameters

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "DBP_"
LOCAL_ACCOUNT_ID = "000000000000"  # the account in the local target's ARNs (and moto's default account)
EndpointMode = Literal["instance", "serverless"]
ENDPOINT_MODES: tuple[str, ...] = get_args(EndpointMode)
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)

log = logging.getLogger("dbpedia")


class ConfigError(ProjectError, ValueError):
    """A setting has a value that cannot be used; the message says which and why."""


class ModelSettings(BaseSettings):
    """The model's settings (``DBP_<NAME>`` each); the layers above add theirs by subclassing.

    What a deploy hands to Terraform beyond these (where the tfvars go, the runtime URL, whether a version
    nobody approved may go live) depends on the stack and the target, so ``ops/settings.py`` supplies it.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True, extra="forbid", validate_default=True
    )

    # --- where things go -------------------------------------------------------------------------
    build_dir: Path = Field(ROOT / "build", description="where every output goes")

    # --- data ------------------------------------------------------------------------------------
    data: str = Field(
        "auto",
        min_length=1,
        description="dataset: auto (the full archive if downloaded before, else the shipped sample), "
        "sample, full (download, resumable, md5-checked), a path to an archive or folder, or your own "
        "labelled CSV, JSON Lines or fastText file or folder (docs/own-data.md)",
    )
    data_url: str = Field(
        "https://github.com/saurabh3949/Text-Classification-Datasets/raw/master/dbpedia_csv.tar.gz",
        description="where `--data full` downloads the archive from",
    )
    data_md5: str = Field(
        "dca7b1ae12b1091090db52aa7ec5ca64", pattern=r"^[0-9a-f]{32}$", description="the archive's MD5"
    )
    sample_archive: Path = Field(ROOT / "data" / "dbpedia_sample.tar.xz", description="the shipped sample")
    validation_fraction: float = Field(0.1, gt=0, lt=0.5, description="share of train rows for validation")
    test_fraction: float = Field(
        0.1, gt=0, lt=0.5, description="share carved for test when the official test split is incomplete"
    )
    min_test_rows_per_class: int = Field(
        100, ge=1, description="official test rows a class needs before that split is used"
    )
    seed: int = Field(42, ge=0, description="seed for splits and training")
    dropout_views: int = Field(
        20,
        ge=0,
        le=100,
        description="train channel: copies of each train row missing a random half of its tokens "
        "(0 turns them off; docs/model-quality.md)",
    )
    with_feedback: bool = Field(
        False,
        description="train: add the visitors' feedback a person accepted (`invoke feedback --review`) to the "
        "train rows (docs/feedback.md)",
    )
    max_rows_per_class: int = Field(
        0,
        ge=0,
        description="train file: keep at most this many rows a class, drawn with the seed, before the "
        "splits (0: every row; the tests train on 1000)",
    )
    test_data: str = Field("", description="own data: a separate test file (docs/own-data.md)")
    label_column: str = Field("label", min_length=1, description="own data: CSV column / JSON key of labels")
    text_column: str = Field(
        "text",
        pattern=r"^[^,]+(,[^,]+)*$",
        description="own data: CSV column / JSON key of the text (several, comma-separated, are joined)",
    )
    min_rows_per_class: int = Field(10, ge=3, description="own data: fewest train rows a label may have")

    # --- training --------------------------------------------------------------------------------
    hyperparameters: Hyperparameters = Field(default_factory=lambda: Hyperparameters())
    hyperparameters_file: Path = Field(
        ROOT / "hyperparameters.json", description="BlazingText-named values; `invoke tune` rewrites it"
    )
    threads: int = Field(max(1, os.cpu_count() or 1), ge=1, description="training and tokenizing threads")
    min_accuracy: float = Field(0.0, ge=0, le=1, description="fail when test accuracy is below this")
    top_k: int = Field(
        3, ge=1, le=200, description="labels in an answer's top list (at most the deployed model's labels)"
    )
    # the live metrics' band (ml/drift.py) judges validation rows as the Lambda will, so the model declares it
    min_known_percent: int = Field(
        0,
        ge=0,
        le=100,
        description="the Lambda gives no label to a text with a smaller share of words that tell the model "
        "about a topic, in percent; 0: the learned rule alone judges that (docs/unknown-text.md)",
    )

    # --- tuning (`invoke tune`) ------------------------------------------------------------------
    tune_duration: int = Field(300, ge=1, le=86_400, description="local: seconds of fastText autotune")

    # --- the endpoint a deploy writes into the tfvars (both targets; docs/endpoint-capacity.md) ------
    endpoint_name: str = Field(
        "dbpedia-classifier",
        pattern=r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$",
        description="the endpoint's name: letters, digits and hyphens, at most 63",
    )
    region: str = Field(
        "us-east-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$", description="AWS region, like us-east-1"
    )
    instance_type: str = Field("ml.t2.medium", description="aws: endpoint instance type")
    instance_count: int = Field(1, ge=1, description="aws: endpoint instances, and the autoscaling floor")
    endpoint_mode: EndpointMode = Field(
        "instance", description="aws: how the endpoint runs (instance: autoscaled by `invoke infra`)"
    )
    serverless_memory_mb: int = Field(
        2048, description="aws, serverless: memory, one of 1024, 2048, 3072, 4096, 5120, 6144"
    )
    serverless_max_concurrency: int = Field(
        5, ge=1, le=200, description="aws, serverless: concurrent requests"
    )

    # --- rollout (docs/rollout.md) ----------------------------------------------------------------
    approve: bool = Field(False, description="register the new version Approved (else PendingManualApproval)")
    allow_unapproved: bool | None = Field(
        None, description="deploy a version nobody approved (default: yes for target local, no for aws)"
    )
    gate_margin: float = Field(
        0.01, ge=0, le=1, description="how far below the live version's test accuracy a new one may be"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.serverless_memory_mb not in SERVERLESS_MEMORY_MB:
            raise ValueError("{serverless_memory_mb} must be one of 1024, 2048, 3072, 4096, 5120, 6144")
        return self

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
    @abstractmethod
    def tfvars_path(self) -> Path:
        """The endpoint's outputs, read by Terraform."""

    @property
    @abstractmethod
    def unapproved_ok(self) -> bool:
        """Whether a version nobody approved may be deployed (``allow_unapproved``, else per target)."""

    @abstractmethod
    def runtime_url(self) -> str:
        """The SageMaker runtime base URL the Lambda calls for this target."""

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (hyperparameter names too), validated like any other settings."""
        hp = {k: changes.pop(k) for k in list(changes) if k in HYPERPARAMETER_NAMES}
        base = changes.pop("hyperparameters", self.hyperparameters)
        values = {**dict(self), **changes, "hyperparameters": {**dataclasses.asdict(base), **hp}}
        try:
            return self.model_validate(values)
        except ValidationError as exc:
            raise ConfigError(_first_error(type(self), exc, str)) from None


AnySettings = TypeVar("AnySettings", bound=ModelSettings)


def setting_names(settings: type[ModelSettings]) -> tuple[str, ...]:
    """The settings a class declares, its layers' included (hyperparameters are declared apart)."""
    return tuple(n for n in settings.model_fields if n != "hyperparameters")


def declaration(settings: type[ModelSettings], name: str) -> FieldInfo:
    """The declaration of a setting or hyperparameter; KeyError for an unknown name."""
    if name in HYPERPARAMETER_NAMES:
        return Hyperparameters.__pydantic_fields__[name]  # type: ignore[attr-defined]
    if name in setting_names(settings):
        return settings.model_fields[name]
    raise KeyError(name)


def read_hyperparameters_file(path: Path) -> dict[str, Any]:
    """The hyperparameters a ``hyperparameters.json`` sets; ConfigError when it cannot be used."""
    hint = "restore it (`git checkout hyperparameters.json`), or point DBP_HYPERPARAMETERS_FILE at one"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"hyperparameters file {path} not found: {hint}") from None
    except IsADirectoryError:
        raise ConfigError(f"hyperparameters file {path} is a directory: {hint}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"hyperparameters file {path} is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"hyperparameters file {path} must hold a JSON object of BlazingText names")
    unknown = sorted(set(raw) - set(HYPERPARAMETER_NAMES))
    if unknown:
        raise ConfigError(f"hyperparameters file {path}: unknown hyperparameter(s): {', '.join(unknown)}")
    for name, value in raw.items():
        if not isinstance(value, bool | int | float):
            raise ConfigError(f"hyperparameters file {path}: {name!r} must be a number or true/false")
    return raw


_MESSAGES = {
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be above {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be below {lt}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "bool_parsing": "must be true or false",
    "literal_error": "must be one of {expected}",
    "string_pattern_mismatch": "is not a valid value here",
    "string_too_short": "must not be empty",
}


def number_text(value: float) -> str:
    """A bound or value as messages and help show it: ``0.3``, ``1e-05``, ``14``."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _first_error(settings: type[ModelSettings], exc: ValidationError, where: Callable[[str], str]) -> str:
    """One line for pydantic's first error, naming the setting the way the user gave it."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"] if part != "hyperparameters"]
    template = _MESSAGES.get(error["type"])
    ctx = {
        k: number_text(v) if isinstance(v, float) else str(v).replace("'", "")
        for k, v in error.get("ctx", {}).items()
    }
    message = template.format(**ctx) if template else str(error["msg"]).removeprefix("Value error, ")
    if not loc:  # a check across settings: the message names them in braces
        names = (*setting_names(settings), *HYPERPARAMETER_NAMES)
        return message.format_map({name: where(name) for name in names})
    given = error.get("input")
    shown = f"{given}" if isinstance(given, str | int | float) and not isinstance(given, bool) else ""
    source = where(loc[0])
    shown = f"={shown}" if source.startswith(ENV_PREFIX) else f" {shown}" if shown else ""
    if error["type"] == "string_pattern_mismatch":
        message = f"is not valid ({declaration(settings, loc[0]).description})"
    return f"{source}{shown}: {message}"


def load(
    settings: type[AnySettings], flags: Mapping[str, str] | None = None, **overrides: Any
) -> AnySettings:
    """Build ``settings``: defaults, the hyperparameters file, ``DBP_*`` environment, non-None ``overrides``.

    Hyperparameter names (``epochs``, ``learning_rate`` …) are accepted at the top level. ``flags`` maps
    a setting to the flag the user typed for it (``{"top_k": "-k"}``), so an error names what was typed.

    Raises:
        ConfigError: an unknown setting, or a value of the wrong type or range.
    """
    names = setting_names(settings)
    known = {*names, *HYPERPARAMETER_NAMES, "hyperparameters"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    given = {k: v for k, v in overrides.items() if v is not None}

    def env(name: str) -> str:
        return os.environ.get(ENV_PREFIX + name.upper(), "")

    # Hyperparameters have flat variables (DBP_EPOCHS) and a file layer, so they are gathered here;
    # pydantic-settings reads the other variables.
    file = Path(
        given.get("hyperparameters_file")
        or env("hyperparameters_file")
        or settings.model_fields["hyperparameters_file"].default
    )
    base = given.get("hyperparameters")
    layer = dataclasses.asdict(base) if base is not None else read_hyperparameters_file(file)
    hp_env = {name: env(name) for name in HYPERPARAMETER_NAMES if env(name)}
    hp = {**layer, **hp_env, **{k: v for k, v in given.items() if k in HYPERPARAMETER_NAMES}}

    def where(name: str) -> str:
        if name in given:
            return (flags or {}).get(name, "--" + name.replace("_", "-"))
        if env(name):
            return ENV_PREFIX + name.upper()
        if name in layer and base is None:
            return f"{file.name}: {name}"
        return name

    top = {k: v for k, v in given.items() if k in names}
    try:
        return settings(**top, hyperparameters=hp)
    except ValidationError as exc:
        raise ConfigError(_first_error(settings, exc, where)) from None


def settings_to_dict(settings: ModelSettings) -> dict[str, Any]:
    """A JSON-ready view of the settings (paths as strings), for reports and logs."""
    return settings.model_dump(mode="json")
