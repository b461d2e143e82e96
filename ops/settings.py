"""The stack's settings, and ``Settings``: every layer's, composed, as the tasks load them.

Declared here, beside the floor that reads them: the target, Terraform and its inputs (autoscaling,
monitoring, the edge), the local servers and bulk classification, what the Lambda reads, the smoke checks.
The model's are declared in ``ml/config.py`` and SageMaker's in ``ml/aws/config.py`` (ml/ never imports
ops/); each is declared once, and ``load_settings`` reads all of them (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, model_validator
from pydantic.fields import FieldInfo

from ml import config
from ml.aws.config import AwsSettings
from ml.config import ROOT

Target = Literal["local", "aws"]
HTTP_URL = r"^(https?://[^\s/?#]+(/\S*)?)?$"  # an http(s) URL with a host, or empty
SITE_DIR = ROOT / "site"  # the page's files: the local edge serves them, Terraform uploads them


def _port(default: int, what: str) -> Any:
    return Field(default, ge=1, le=65535, description=f"{what} port")


class Settings(AwsSettings):
    """Every setting of the pipeline, the local stack and the infrastructure (``DBP_<NAME>`` each)."""

    # --- where things go -------------------------------------------------------------------------
    terraform_dir: Path = Field(ROOT / "terraform", description="the Terraform root module")
    terraform_plugin_mirror: Path = Field(
        Path("/opt/tf-plugins"), description="Terraform providers' filesystem mirror (else the registry)"
    )

    # --- the target and its preflight ------------------------------------------------------------
    target: Target = Field("local", description="where to train, deploy and apply: this machine or AWS")
    preflight: bool = Field(
        True,
        description="aws: check credentials, region, role, quotas, state and names before train, tune, plan "
        "and infra start anything (`invoke preflight`)",
    )

    # --- endpoint autoscaling (target aws; docs/endpoint-capacity.md) -----------------------------
    max_instances: int = Field(2, ge=1, description="autoscaling ceiling (at least instance_count)")
    target_invocations_per_instance: int = Field(
        600, ge=1, description="autoscaling target, invocations per instance a minute"
    )
    scale_in_cooldown: int = Field(300, ge=0, description="seconds between scale-ins")
    scale_out_cooldown: int = Field(60, ge=0, description="seconds between scale-outs")

    # --- monitoring and cost (terraform/monitoring.tf, ops/infra/costs.py) --------------------------------
    alarm_email: str = Field(
        "",
        pattern=r"^([^@\s]+@[^@\s]+\.[^@\s]+)?$",
        description="an e-mail address to subscribe to the alarms (empty: none)",
    )
    requests_per_month: int = Field(1_000_000, ge=0, description="traffic the plan's cost estimate assumes")

    # --- the public edge (terraform/edge.tf, waf.tf, dns.tf; docs/edge.md) ---------------------------
    waf_rate_limit: int = Field(
        300,
        ge=10,
        le=2_000_000_000,
        description="POST /classify a client IP may send in 5 minutes before WAF blocks it (at least 10)",
    )
    waf_common_rules: bool = Field(False, description="add AWS's managed common rule set to the web ACL")
    domain_name: str = Field(
        "",
        pattern=r"^(([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})?$",
        description="custom domain of the site (DNS-validated ACM certificate; empty: cloudfront.net name)",
    )
    hosted_zone_id: str = Field(
        "",
        pattern=r"^([A-Z0-9]{1,32})?$",
        description="Route 53 zone of domain_name: validation records and alias (empty: add them yourself)",
    )

    # --- bulk classification (`invoke classify`) -------------------------------------------------
    classify_batch_size: int = Field(
        1000, ge=1, le=1000, description="local: texts per endpoint request (1,000: the fastest measured)"
    )
    classify_workers: int = Field(
        0, ge=0, le=64, description="local: processes that tokenize and send batches (0: one per core)"
    )

    # --- what the Lambda reads (the local stack and Terraform pass the same values) -----------------
    # (and top_k, the size of an answer's top list, which the model's settings declare)
    max_text_chars: int = Field(5000, ge=1, le=100_000, description="longest text accepted, in characters")
    endpoint_timeout_seconds: int = Field(
        4, ge=1, le=60, description="the Lambda's read timeout for one endpoint call"
    )
    endpoint_max_attempts: int = Field(
        3, ge=1, le=10, description="the Lambda's endpoint attempts (retries of transient errors + 1)"
    )
    explain_max_words: int = Field(
        50,
        ge=1,
        le=500,
        description='"explain": true (and `invoke classify --explain`) weighs at most this many first words, '
        "one endpoint instance each (docs/explanations.md)",
    )
    feedback: bool = Field(
        True,
        description="the page's Right / Wrong buttons and POST /feedback, kept with consent (off: none, 404)",
    )

    # --- feedback (terraform/feedback.tf; docs/feedback.md) --------------------------------------
    feedback_retention_days: int = Field(
        90, ge=1, le=3650, description="days a visitor's feedback is kept in its bucket before it expires"
    )

    # --- smoke test (`invoke smoke`): empty is the stack's outputs (aws) or `invoke up`'s site (local)
    smoke_url: str = Field(
        "",
        pattern=HTTP_URL,
        description="the site to check (aws: the stack's site_url output; local: `invoke up`'s site)",
    )
    smoke_api_url: str = Field(
        "", pattern=HTTP_URL, description="the HTTP API's own URL (aws: the stack's api_url output)"
    )
    smoke_bucket_url: str = Field(
        "",
        pattern=HTTP_URL,
        description="the site bucket's own S3 URL (aws: https://<site_bucket_name>.s3.<region>.amazonaws.com)",
    )

    # --- local stack (all on 127.0.0.1) ----------------------------------------------------------
    host: str = Field("127.0.0.1", description="address the local servers listen on")
    endpoint_port: int = _port(8080, "local endpoint")
    api_port: int = _port(3000, "local API")
    site_port: int = _port(8000, "local site")
    endpoint_workers: int = Field(
        1, ge=1, le=32, description="endpoint processes sharing its port, one core each"
    )
    api_workers: int = Field(
        1,
        ge=1,
        le=32,
        description="local API processes sharing its port, each running the Lambda handler (AWS runs "
        "concurrent requests apart; one process's threads share one core); more than 1: all spawned, "
        "apart from the endpoint's process",
    )

    @model_validator(mode="after")
    def _consistent_scaling(self) -> Self:
        if self.max_instances < self.instance_count:
            raise ValueError("{max_instances} must be at least {instance_count}")
        return self

    @property
    def tfvars_path(self) -> Path:
        """The endpoint's outputs, read by Terraform."""
        return self.terraform_dir / "endpoint.auto.tfvars.json"

    @property
    def unapproved_ok(self) -> bool:
        """Whether a version nobody approved may be deployed (``allow_unapproved``, else per target)."""
        return self.target == "local" if self.allow_unapproved is None else self.allow_unapproved

    def runtime_url(self) -> str:
        """The SageMaker runtime base URL the Lambda calls for this target."""
        if self.target == "local":
            return f"http://{self.host}:{self.endpoint_port}"
        return f"https://runtime.sagemaker.{self.region}.amazonaws.com"

    def lambda_settings(self) -> dict[str, int]:
        """What the Lambda reads from its environment (each as the upper-cased name, a whole number: a switch
        is 1 or 0), for both targets."""
        return {name: int(getattr(self, name)) for name in LAMBDA_SETTINGS}


# The settings the Lambda reads: the local stack sets them as TOP_K etc., Terraform as the same variables.
LAMBDA_SETTINGS = (
    "top_k",
    "max_text_chars",
    "endpoint_timeout_seconds",
    "endpoint_max_attempts",
    "min_known_percent",
    "explain_max_words",
    "feedback",
)
SETTING_NAMES: tuple[str, ...] = config.setting_names(Settings)


def declaration(name: str) -> FieldInfo:
    """The declaration of a setting (whichever layer declares it) or hyperparameter; KeyError if unknown."""
    return config.declaration(Settings, name)


def load_settings(flags: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Every layer's settings, loaded as ``ml.config.load`` says (defaults, file, environment, overrides).

    Raises:
        ConfigError: an unknown setting, or a value of the wrong type or range.
    """
    return config.load(Settings, flags, **overrides)
