"""Endpoint capacity on SageMaker (moto_server): a serverless endpoint config, and the refusals.

SageMaker documents that an instance-based endpoint cannot be converted to serverless (UpdateEndpoint answers
ValidationError): the deploy refuses that before creating anything. moto stores ``ServerlessConfig`` and
serves DescribeEndpoint for it; it cannot run a model, so nothing here invokes the endpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ml.aws.deploy import VARIANT, deploy, resource_names
from ml.aws.resources import find_endpoint_resources
from ml.aws.session import SageMakerError
from ml.config import ConfigError
from ml.deploy import EndpointCapacity
from ops.infra.inputs import read_endpoint_vars
from ops.infra.moto_server import MotoServer
from ops.settings import Settings
from tests.helpers import make_settings

from .conftest import IMAGE, ROLE_ARN

SHA = "c" * 64
MODEL_DATA = "s3://bucket/dbpedia-classifier/output/blazingtext-x/output/model.tar.gz"


def _deploy(settings: Settings, sha: str = SHA) -> Any:
    client = _client()
    return deploy(
        client,
        settings,
        image=IMAGE,
        model_data=MODEL_DATA,
        artifact_sha256=sha,
        role_arn=ROLE_ARN,
        poll_seconds=0,
    )


def _client() -> Any:
    import boto3

    return boto3.client("sagemaker", region_name="us-east-1")  # AWS_ENDPOINT_URL: the `aws` fixture's moto


def test_serverless_mode_creates_a_serverless_endpoint_config_and_records_it_for_terraform(
    aws: MotoServer, tmp_path: Path
) -> None:
    # GIVEN settings asking for a serverless endpoint of 3072 MB and 8 concurrent requests
    settings = make_settings(
        tmp_path,
        target="aws",
        role_arn=ROLE_ARN,
        endpoint_mode="serverless",
        serverless_memory_mb=3072,
        serverless_max_concurrency=8,
    )
    # WHEN the artifact is deployed
    deployment = _deploy(settings)
    # THEN its one variant has a ServerlessConfig and no instances
    sagemaker = aws.client("sagemaker")
    [variant] = sagemaker.describe_endpoint_config(EndpointConfigName=deployment.config)["ProductionVariants"]
    assert variant["VariantName"] == VARIANT
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 8}
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
    assert sagemaker.describe_endpoint(EndpointName="dbpedia-classifier")["EndpointStatus"] == "InService"
    # AND the tfvars tell Terraform it is serverless (so no autoscaling), and read back as such
    serverless = {"mode": "serverless", "memory_mb": 3072, "max_concurrency": 8}
    assert json.loads(settings.tfvars_path.read_text())["endpoint_capacity"] == serverless
    assert read_endpoint_vars(settings.tfvars_path).endpoint_capacity == EndpointCapacity(
        "serverless", memory_mb=3072, max_concurrency=8
    )
    # AND destroy's listing sees the same capacity
    found = find_endpoint_resources(sagemaker, "dbpedia-classifier")
    assert found is not None and found.capacity == EndpointCapacity(
        "serverless", memory_mb=3072, max_concurrency=8
    )


def test_the_endpoint_config_name_follows_the_capacity(tmp_path: Path) -> None:
    # GIVEN one artifact under instance settings and two serverless sizes
    instance = make_settings(tmp_path / "a")
    small = make_settings(tmp_path / "b", endpoint_mode="serverless", serverless_memory_mb=1024)
    large = make_settings(tmp_path / "c", endpoint_mode="serverless", serverless_memory_mb=6144)
    names = [resource_names(s, SHA) for s in (instance, small, large)]
    # THEN the model is the same, each capacity is its own endpoint config
    assert len({model for model, _ in names}) == 1
    assert len({config for _, config in names}) == 3


def test_an_instance_backed_endpoint_is_not_turned_serverless_and_nothing_is_created(
    aws: MotoServer, tmp_path: Path
) -> None:
    # GIVEN an endpoint deployed on one instance
    _deploy(make_settings(tmp_path / "instance", target="aws", role_arn=ROLE_ARN))
    sagemaker = aws.client("sagemaker")
    before = (sagemaker.list_models()["Models"], sagemaker.list_endpoint_configs()["EndpointConfigs"])
    # WHEN a new artifact is deployed with the serverless mode
    serverless = make_settings(
        tmp_path / "serverless", target="aws", role_arn=ROLE_ARN, endpoint_mode="serverless"
    )
    with pytest.raises(
        SageMakerError, match="cannot convert an instance-based endpoint to serverless"
    ) as refused:
        _deploy(serverless, sha="d" * 64)
    # THEN the message says what to do, and no model or endpoint config was created
    assert "invoke destroy --target aws --endpoint" in str(refused.value)
    assert (sagemaker.list_models()["Models"], sagemaker.list_endpoint_configs()["EndpointConfigs"]) == before
    assert not serverless.tfvars_path.exists()


def test_an_instance_type_change_is_refused_before_any_change(aws: MotoServer, tmp_path: Path) -> None:
    """SageMaker fails an update that changes the instance type of an autoscaled variant (`invoke infra`
    registers one): the deploy refuses it up front, with the way out."""
    # GIVEN an endpoint deployed on ml.t2.medium
    _deploy(make_settings(tmp_path / "t2", target="aws", role_arn=ROLE_ARN))
    sagemaker = aws.client("sagemaker")
    before = (sagemaker.list_models()["Models"], sagemaker.list_endpoint_configs()["EndpointConfigs"])
    # WHEN a new artifact is deployed on another instance type
    bigger = make_settings(tmp_path / "c5", target="aws", role_arn=ROLE_ARN, instance_type="ml.c5.large")
    with pytest.raises(SageMakerError, match=r"keep --instance-type ml\.t2\.medium") as refused:
        _deploy(bigger, sha="e" * 64)
    # THEN it says why and what to do, and nothing was created
    assert "endpoint-scaling-update" in str(refused.value)
    assert (sagemaker.list_models()["Models"], sagemaker.list_endpoint_configs()["EndpointConfigs"]) == before


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"endpoint_mode": "lambda"}, "--endpoint-mode lambda: must be one of instance or serverless"),
        ({"serverless_memory_mb": "1500"}, "--serverless-memory-mb must be one of 1024, 2048"),
        ({"serverless_max_concurrency": "0"}, "--serverless-max-concurrency 0: must be at least 1"),
        ({"instance_count": "3", "max_instances": "2"}, "--max-instances must be at least --instance-count"),
        ({"target_invocations_per_instance": "0"}, "--target-invocations-per-instance 0: must be at least 1"),
        ({"scale_in_cooldown": "-1"}, "--scale-in-cooldown -1: must be at least 0"),
        ({"alarm_email": "ops at example"}, "--alarm-email ops at example: is not valid .an e-mail address"),
    ],
)
def test_bad_capacity_settings_stop_before_any_aws_call(
    tmp_path: Path, overrides: dict[str, str], message: str
) -> None:
    # GIVEN a capacity setting SageMaker or Application Auto Scaling would refuse
    # WHEN the settings are loaded  THEN a ConfigError names it
    with pytest.raises(ConfigError, match=message):
        make_settings(tmp_path, **overrides)
