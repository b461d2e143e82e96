"""Host a BlazingText artifact on a SageMaker real-time endpoint and hand its outputs to Terraform.

Model → EndpointConfig → Endpoint through the boto3 ``sagemaker`` client (the SDK's ``core.resources``
hosting classes do not work against the emulator the tests use). The endpoint runs on instances (type and
count; Terraform adds the autoscaling) or serverless (``ServerlessConfig``: memory and concurrency), as
``settings.endpoint_mode`` says (docs/endpoint-capacity.md). Names derive from content: the model from
the artifact's sha256, the endpoint config from that and the capacity. The endpoint name
stays ``settings.endpoint_name``: a new model becomes a new endpoint config and a guarded ``UpdateEndpoint``
(blue/green with a baking period, rolled back by SageMaker when one of the endpoint's alarms fires:
docs/rollout.md), and once the endpoint is InService on it the previous config and models are deleted, so
nothing is left behind. ``invoke destroy --target aws --endpoint``
(ops/infra/destroy.py) deletes what remains: the endpoint, its config and its model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from ml.aws.config import AwsSettings
from ml.aws.resources import EndpointResources, find_endpoint_resources
from ml.aws.session import SageMakerError
from ml.config import log
from ml.deploy import EndpointCapacity, EndpointOutputs, write_tfvars

VARIANT = "AllTraffic"
_NAME_MAX = 63
SERVERLESS_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html"
AUTOSCALING_UPDATE_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-update.html"


@dataclass(frozen=True)
class Deployment:
    """What :func:`deploy` did: the outputs, the resources now serving, and what it changed or removed."""

    outputs: EndpointOutputs
    model: str
    config: str
    action: str  # "created" | "updated" | "unchanged"
    removed: tuple[str, ...]


def resource_names(settings: AwsSettings, artifact_sha256: str) -> tuple[str, str]:
    """``(model name, endpoint config name)`` for an artifact under the settings' capacity."""
    base = settings.endpoint_name[: _NAME_MAX - 17]
    capacity = EndpointCapacity.from_settings(settings)
    if capacity.mode == "instance":  # the names instance-backed endpoints always had
        variant: list[object] = [artifact_sha256, capacity.instance_type, capacity.instance_count]
    else:
        variant = [artifact_sha256, "serverless", capacity.memory_mb, capacity.max_concurrency]
    config_digest = hashlib.sha256(json.dumps(variant).encode()).hexdigest()
    return f"{base}-{artifact_sha256[:16]}", f"{base}-{config_digest[:16]}"


def production_variant(model: str, capacity: EndpointCapacity) -> dict[str, Any]:
    """The endpoint config's one variant: instances, or a ``ServerlessConfig``."""
    if capacity.mode == "serverless":
        serverless = {"MemorySizeInMB": capacity.memory_mb, "MaxConcurrency": capacity.max_concurrency}
        return {"VariantName": VARIANT, "ModelName": model, "ServerlessConfig": serverless}
    return {
        "VariantName": VARIANT,
        "ModelName": model,
        "InitialInstanceCount": capacity.instance_count,
        "InstanceType": capacity.instance_type,
        "InitialVariantWeight": 1.0,
    }


def deployment_config(
    capacity: EndpointCapacity, alarms: tuple[str, ...], bake_seconds: int, shift: str
) -> dict[str, Any]:
    """Blue/green with ``bake_seconds`` of alarm watch per step, rolled back on ``alarms``: all at once on
    one instance or serverless, else canary (one instance first) or linear (one instance at a time)."""
    routing: dict[str, Any] = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": bake_seconds}
    if capacity.mode == "instance" and capacity.instance_count >= 2:
        step = {"Type": "INSTANCE_COUNT", "Value": 1}
        routing = (
            {"Type": "CANARY", "CanarySize": step, "WaitIntervalInSeconds": bake_seconds}
            if shift == "canary"
            else {"Type": "LINEAR", "LinearStepSize": step, "WaitIntervalInSeconds": bake_seconds}
        )
    steps = capacity.instance_count if routing["Type"] == "LINEAR" else 2
    timeout = min(28_800, max(600, bake_seconds * (steps + 1) + 1800))  # the steps plus time to provision
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": timeout,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarms]},
    }


def check_mode_change(previous: EndpointResources | None, capacity: EndpointCapacity) -> None:
    """Refuse, before any change, what SageMaker refuses.

    An instance-backed endpoint cannot become serverless; and the instance type of a variant that
    Application Auto Scaling manages (`invoke infra` registers it) cannot change in an update.
    """
    before = previous.capacity if previous else None
    if previous is None or before is None or before.mode != "instance":
        return
    if capacity.mode == "serverless":
        raise SageMakerError(
            f"endpoint {previous.endpoint} runs on instances and SageMaker cannot convert an instance-based "
            f"endpoint to serverless ({SERVERLESS_DOC}, feature exclusions): remove it first with "
            "`invoke destroy --target aws --endpoint`, or keep --endpoint-mode instance"
        )
    if capacity.instance_type != before.instance_type:
        raise SageMakerError(
            f"endpoint {previous.endpoint} runs on {before.instance_type}; SageMaker refuses to change the "
            f"instance type of an autoscaled variant in an update ({AUTOSCALING_UPDATE_DOC}): keep "
            f"--instance-type {before.instance_type}, or remove the stack and endpoint first with "
            "`invoke destroy --target aws --endpoint`, then train and `invoke infra` again"
        )


def guarding_alarms(
    endpoint: str, alarms: tuple[str, ...], firing: tuple[str, ...], ignored: tuple[str, ...]
) -> tuple[str, ...]:
    """The alarms that guard an update of ``endpoint``: its ``alarms`` less the ``ignored`` ones.

    SageMakerError when one of them is in ALARM already (SageMaker would roll this update back at once, and
    every later one, until it clears), when an ignored name is none of the endpoint's alarms, or when no
    alarm is left to guard the update.
    """
    unknown = sorted(set(ignored) - set(alarms))
    if unknown:
        raise SageMakerError(
            f"--ignore-alarm {', '.join(unknown)}: endpoint {endpoint} has no such alarm "
            f"(its alarms: {', '.join(alarms) or 'none'})"
        )
    guard = tuple(name for name in alarms if name not in ignored)
    blocking = [name for name in firing if name in guard]
    if blocking:
        raise SageMakerError(
            f"alarm {', '.join(blocking)} of endpoint {endpoint} is in ALARM already: the guarded update "
            "would be rolled back as soon as it starts; fix what fires it, or pass "
            f"{' '.join(f'--ignore-alarm {name}' for name in blocking)} to update without watching it"
        )
    if not guard:
        raise SageMakerError(
            f"endpoint {endpoint} has no alarms on its 5xx errors or model latency to guard the update: "
            + ("create them with `invoke infra --target aws` first" if not alarms else "all are ignored")
        )
    return guard


def _missing(exc: ClientError) -> bool:
    """SageMaker answers a missing model, config or endpoint with ValidationException "Could not find ..."."""
    error = exc.response.get("Error", {})
    return error.get("Code") == "ValidationException" and "Could not find" in str(error.get("Message", ""))


def _exists(describe: Callable[..., Any], **name: str) -> bool:
    try:
        describe(**name)
    except ClientError as exc:
        if _missing(exc):
            return False
        raise
    return True


def _delete(client: Any, config: str | None, models: tuple[str, ...]) -> tuple[str, ...]:
    """Delete an endpoint config and models (ones already gone are skipped); return what was asked."""
    calls: list[tuple[str, Callable[..., Any], dict[str, str]]] = []
    if config:
        calls.append(
            (f"endpoint config {config}", client.delete_endpoint_config, {"EndpointConfigName": config})
        )
    calls += [(f"model {model}", client.delete_model, {"ModelName": model}) for model in models]
    for _, call, kwargs in calls:
        try:
            call(**kwargs)
        except ClientError as exc:
            if not _missing(exc):
                raise
    return tuple(label for label, *_ in calls)


def _wait_in_service(client: Any, name: str, poll_seconds: float, max_minutes: int) -> dict[str, Any]:
    """Wait until the endpoint is InService and return its description; SageMakerError when it Failed."""
    attempts = max(1, int(max_minutes * 60 / max(poll_seconds, 1)))
    try:
        client.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": poll_seconds, "MaxAttempts": attempts}
        )
    except WaiterError:
        endpoint = client.describe_endpoint(EndpointName=name)
        reason = endpoint.get("FailureReason", "no reason given")
        raise SageMakerError(
            f"endpoint {name} is {endpoint['EndpointStatus']}: {reason}; "
            f"its logs are in CloudWatch, /aws/sagemaker/Endpoints/{name}. Remove it with "
            "`invoke destroy --target aws --endpoint` and run again"
        ) from None
    return client.describe_endpoint(EndpointName=name)


def deploy(
    client: Any,
    settings: AwsSettings,
    *,
    image: str,
    model_data: str,
    artifact_sha256: str,
    role_arn: str,
    alarms: tuple[str, ...] = (),
    firing: tuple[str, ...] = (),
    model_store: str = "",
    poll_seconds: float = 30.0,
    max_minutes: int = 60,
) -> Deployment:
    """Serve ``model_data`` on the endpoint ``settings.endpoint_name``, then write the tfvars (naming
    ``model_store``, where the model's deploy inputs are: ml/aws/store.py).

    Creates the model and endpoint config when missing, then creates the endpoint, or updates it (guarded
    by ``alarms``, less ``settings.ignore_alarms``: :func:`deployment_config`) when it serves another
    config, waits for InService and deletes the previous config and models. ``firing``: those of
    ``alarms`` in ALARM now (:func:`guarding_alarms`).

    Raises:
        SageMakerError: the endpoint Failed, or an update did not take or was rolled back (the endpoint
            still serves the old model; the new config and model are deleted again; SageMaker's reason
            is in the message), or it is instance-backed and the settings ask for serverless, or an update
            has no alarms to watch it or one of them fires already (refused before anything is created).
    """
    name = settings.endpoint_name
    capacity = EndpointCapacity.from_settings(settings)
    previous: EndpointResources | None = find_endpoint_resources(client, name)
    check_mode_change(previous, capacity)
    model, config = resource_names(settings, artifact_sha256)
    if previous is not None and previous.config != config:
        alarms = guarding_alarms(name, alarms, firing, settings.ignore_alarms)
    if not _exists(client.describe_model, ModelName=model):
        client.create_model(
            ModelName=model,
            ExecutionRoleArn=role_arn,
            PrimaryContainer={"Image": image, "ModelDataUrl": model_data},
        )
        log.info("created SageMaker model %s (%s)", model, model_data)
    if not _exists(client.describe_endpoint_config, EndpointConfigName=config):
        client.create_endpoint_config(
            EndpointConfigName=config, ProductionVariants=[production_variant(model, capacity)]
        )
        log.info("created endpoint config %s: %s", config, capacity.describe())

    if previous is None:
        client.create_endpoint(EndpointName=name, EndpointConfigName=config)
        action = "created"
    elif previous.config != config:
        # Same capacity, new model: keep the instance count autoscaling chose (not the config's floor).
        retain = previous.capacity == capacity
        guard = deployment_config(capacity, alarms, settings.bake_seconds, settings.traffic_shift)
        client.update_endpoint(
            EndpointName=name,
            EndpointConfigName=config,
            RetainAllVariantProperties=retain,
            DeploymentConfig=guard,
        )
        log.info("blue/green update guarded by %s", ", ".join(alarms))
        action = "updated"
    else:
        action = "unchanged"
    if action != "unchanged":
        log.info("endpoint %s %s with %s; waiting for InService (minutes on AWS)", name, action, config)
    endpoint = _wait_in_service(client, name, poll_seconds, max_minutes)

    removed: tuple[str, ...] = ()
    if endpoint["EndpointConfigName"] != config:
        kept = previous.models if previous else ()
        _delete(client, config, () if model in kept else (model,))
        raise SageMakerError(
            f"endpoint {name} did not take the new config {config} (rolled back) and still serves "
            f"{endpoint['EndpointConfigName']}: {endpoint.get('FailureReason', 'no reason given')}"
        )
    if previous is not None and previous.config != config:
        removed = _delete(client, previous.config, tuple(m for m in previous.models if m != model))
        log.info("removed the previous %s", ", ".join(removed) or "nothing")
    outputs = EndpointOutputs(
        name,
        endpoint["EndpointArn"],
        settings.region,
        settings.runtime_url(),
        capacity,
        artifact_sha256,
        model_store,
    )
    write_tfvars(outputs, settings.tfvars_path)
    log.info("endpoint %s is InService: %s", name, outputs.endpoint_arn)
    return Deployment(outputs, model, config, action, removed)
