"""The SageMaker resources behind one endpoint name: find them, describe them, delete them in order.

Shared by the SageMaker deploy (which replaces an old config and model) and ``invoke destroy --endpoint``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ml.deploy import EndpointCapacity


@dataclass(frozen=True)
class EndpointResources:
    """A SageMaker endpoint with the endpoint config and models it serves, and how it runs now."""

    endpoint: str
    config: str | None
    models: tuple[str, ...]
    capacity: EndpointCapacity | None = None  # None when the endpoint config is gone

    def describe(self) -> list[str]:
        """One line per resource, for the list shown before deleting."""
        lines = [f"SageMaker endpoint {self.endpoint}"]
        if self.config:
            lines.append(f"SageMaker endpoint config {self.config}")
        lines += [f"SageMaker model {model}" for model in self.models]
        return lines


def _not_found(exc: ClientError) -> bool:
    """SageMaker answers a missing endpoint, config or model with ValidationException "Could not find ..."."""
    error = exc.response.get("Error", {})
    return error.get("Code") == "ValidationException" and "Could not find" in str(error.get("Message", ""))


def find_endpoint_resources(client: Any, name: str) -> EndpointResources | None:
    """The endpoint ``name`` with its config and models, or None when there is no such endpoint."""
    try:
        endpoint = client.describe_endpoint(EndpointName=name)
    except ClientError as exc:
        if _not_found(exc):
            return None
        raise
    config_name = endpoint.get("EndpointConfigName")
    models: tuple[str, ...] = ()
    capacity = None
    if config_name:
        try:
            config = client.describe_endpoint_config(EndpointConfigName=config_name)
            models = tuple(variant["ModelName"] for variant in config.get("ProductionVariants", []))
            capacity = variant_capacity(config.get("ProductionVariants", []), endpoint)
        except ClientError as exc:
            if not _not_found(exc):
                raise
            config_name = None
    return EndpointResources(name, config_name, models, capacity)


def variant_capacity(variants: list[dict[str, Any]], endpoint: dict[str, Any]) -> EndpointCapacity | None:
    """How the config's first variant runs; the instance count is the endpoint's current one when it says."""
    if not variants:
        return None
    variant = variants[0]
    serverless = variant.get("ServerlessConfig")
    if serverless:
        return EndpointCapacity(
            "serverless", memory_mb=serverless["MemorySizeInMB"], max_concurrency=serverless["MaxConcurrency"]
        )
    current = [
        v.get("CurrentInstanceCount")
        for v in endpoint.get("ProductionVariants", [])
        if v.get("VariantName") == variant.get("VariantName")
    ]
    count = current[0] if current and current[0] else variant.get("InitialInstanceCount", 1)
    return EndpointCapacity("instance", instance_type=variant.get("InstanceType", ""), instance_count=count)


def delete_endpoint_resources(client: Any, resources: EndpointResources) -> None:
    """Delete the endpoint, then its config, then its models; ones already gone are skipped."""
    calls: list[tuple[Callable[..., Any], dict[str, str]]] = [
        (client.delete_endpoint, {"EndpointName": resources.endpoint})
    ]
    if resources.config:
        calls.append((client.delete_endpoint_config, {"EndpointConfigName": resources.config}))
    calls += [(client.delete_model, {"ModelName": model}) for model in resources.models]
    for call, kwargs in calls:
        try:
            call(**kwargs)
        except ClientError as exc:
            if not _not_found(exc):
                raise
