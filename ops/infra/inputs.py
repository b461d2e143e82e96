"""What the stack is given: the endpoint's tfvars from ``invoke train`` (checked), or the settings' stand-in
for a destroy, and the variables Python supplies (the Lambda zip, the site folder, the settings')."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ml import page
from ml.config import LOCAL_ACCOUNT_ID
from ml.deploy import OPTIONAL_VARS, TEXT_VARS, EndpointCapacity, EndpointOutputs
from ops.infra.errors import InfraError
from ops.infra.lambda_zip import build_lambda_zip
from ops.infra.model_inputs import model_variables, model_vocabulary
from ops.settings import SITE_DIR, Settings


def read_endpoint_vars(path: Path) -> EndpointOutputs:
    """Read and check the endpoint's tfvars file; InfraError when it is missing, incomplete or invalid."""
    if not path.exists():
        raise InfraError(
            f"{path} is missing: run `invoke train` first (it deploys the endpoint and writes it)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InfraError(f"{path} is not valid JSON ({exc}): run `invoke train` again") from None
    missing = [key for key in TEXT_VARS if not (isinstance(data, dict) and isinstance(data.get(key), str))]
    if isinstance(data, dict) and "endpoint_capacity" not in data:
        missing.append("endpoint_capacity")
    if missing:
        raise InfraError(f"{path} lacks {', '.join(missing)}: run `invoke train` again")
    try:
        capacity = EndpointCapacity.from_tfvars(data["endpoint_capacity"])
    except ValueError as exc:
        raise InfraError(f"{path}: {exc}: run `invoke train` again") from None
    optional = {key: data[key] for key in OPTIONAL_VARS if isinstance(data.get(key), str)}
    return EndpointOutputs(**{key: data[key] for key in TEXT_VARS}, **optional, endpoint_capacity=capacity)


def refuse_local_endpoint(endpoint: EndpointOutputs) -> None:
    """Refuse to point a real AWS stack at the local target's endpoint."""
    if f":{LOCAL_ACCOUNT_ID}:" in endpoint.endpoint_arn or not endpoint.sagemaker_runtime_url.startswith(
        "https://"
    ):
        raise InfraError(
            "terraform/endpoint.auto.tfvars.json describes the local endpoint "
            f"({endpoint.endpoint_arn}, {endpoint.sagemaker_runtime_url}): "
            "run `invoke train --target aws` first, or use --target local"
        )


def fallback_endpoint_vars(settings: Settings) -> EndpointOutputs:
    """Endpoint variables from the settings, for destroying a stack whose tfvars file is gone.

    Destroy needs valid values for the required variables, not the ones the stack was made with; only the
    region matters (it is where the provider looks).
    """
    return EndpointOutputs(
        aws_region=settings.region,
        endpoint_arn=f"arn:aws:sagemaker:{settings.region}:{LOCAL_ACCOUNT_ID}:endpoint/{settings.endpoint_name}",
        endpoint_name=settings.endpoint_name,
        sagemaker_runtime_url=f"https://runtime.sagemaker.{settings.region}.amazonaws.com",
        endpoint_capacity=EndpointCapacity.from_settings(settings),
        model_sha256="0" * 64,  # any valid value: destroy needs none
    )


def settings_variables(settings: Settings) -> dict[str, Any]:
    """The variables from the settings: autoscaling, the alarm e-mail, what the Lambda reads, the edge."""
    return {
        "alarm_email": settings.alarm_email,
        "feedback_retention_days": settings.feedback_retention_days,
        "domain_name": settings.domain_name,
        "hosted_zone_id": settings.hosted_zone_id,
        "waf": {"rate_limit": settings.waf_rate_limit, "common_rules": settings.waf_common_rules},
        "lambda_settings": settings.lambda_settings(),
        "autoscaling": {
            "max_instances": settings.max_instances,
            "scale_in_cooldown_seconds": settings.scale_in_cooldown,
            "scale_out_cooldown_seconds": settings.scale_out_cooldown,
            "target_invocations_per_instance": settings.target_invocations_per_instance,
        },
    }


def stack_variables(settings: Settings, endpoint: EndpointOutputs | None = None) -> dict[str, Any]:
    """The variables Python supplies: the freshly built Lambda zip, the site folder, the settings', and the
    deployed version's: its class count (``lambda_settings.n_labels``), page (``site_page``, ml/page.py),
    model card and drift band.

    The zip carries the vocabulary of the model ``endpoint`` names (None: none, for a destroy, which gets
    a placeholder of two labels: destroy needs valid values, not the stack's).
    """
    vocabulary = model_vocabulary(settings, endpoint) if endpoint is not None else None
    try:
        zip_path = build_lambda_zip(settings.build_dir / "lambda.zip", vocabulary=vocabulary)
    except FileNotFoundError as exc:
        raise InfraError(f"cannot build the Lambda zip: {exc}") from None
    if vocabulary is not None:  # the version's folder: its manifest (fetched with it) and page.json
        try:
            n_labels = page.label_count(vocabulary.parent)
        except (OSError, ValueError, KeyError, TypeError):
            raise InfraError(
                f"{vocabulary.parent} has no readable manifest.json with the model's labels: the version is "
                "unfinished; run `invoke train` again"
            ) from None
        shown = page.read(vocabulary.parent, [])
    else:
        n_labels, shown = 2, {"labels": [], "examples": []}
    variables = settings_variables(settings)
    variables["lambda_settings"] = {**variables["lambda_settings"], "n_labels": n_labels}
    model = model_variables(settings, endpoint) if endpoint is not None else {}
    site = {"site_dir": str(SITE_DIR), "site_page": json.dumps(shown, ensure_ascii=False)}
    return {"lambda_zip_path": str(zip_path), **site, **variables, **model}


def relative_paths(variables: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """``variables`` with the zip's and the site's paths relative to ``workdir``, where Terraform runs: the
    state then holds the same paths in every checkout (a CI runner's, a laptop's), so a plan from another
    one does not show every site file and the function as changed."""
    paths = {name: os.path.relpath(variables[name], workdir) for name in ("lambda_zip_path", "site_dir")}
    return {**variables, **paths}
