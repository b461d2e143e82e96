"""A new model on an existing endpoint: a guarded UpdateEndpoint to a new endpoint config, then the old
ones go.

moto does not implement UpdateEndpoint (500, NotImplementedError), with or without a DeploymentConfig, so
these tests drive ml/aws/deploy.py with ``botocore.stub.Stubber``: each SageMaker request must come in the
order and with the parameters listed, and gets a recorded response shaped like SageMaker's (the Stubber
checks both against the API model). Both outcomes of a blue/green update are covered: InService on the new
config, and SageMaker's automatic rollback (InService again on the old config, its reason in
FailureReason). Everything moto does implement (model packages, alarms) is tested against moto instead.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ml.aws.deploy import VARIANT, deploy, deployment_config, resource_names
from ml.aws.session import SageMakerError
from ml.deploy import EndpointCapacity
from ops.settings import Settings
from tests.helpers import make_settings

from .conftest import ACCOUNT, IMAGE, REGION, ROLE_ARN

NAME = "dbpedia-classifier"
ENDPOINT_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{NAME}"
OLD_SHA, NEW_SHA = "a" * 64, "b" * 64
NEW_DATA = "s3://bucket/dbpedia-classifier/output/blazingtext-new/output/model.tar.gz"
WHEN = datetime(2025, 1, 1, tzinfo=UTC)
ALARMS = ("dbpedia-classifier-endpoint-5xx", "dbpedia-classifier-endpoint-model-latency-p99")


def _guarded(bake: int = 600, routing: dict[str, Any] | None = None) -> dict[str, Any]:
    """The DeploymentConfig SageMaker must receive: blue/green, baked, rolled back on both alarms."""
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing or {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": bake},
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": max(600, bake * 3 + 1800),
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in ALARMS]},
    }


def _arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"


def _endpoint(config: str, status: str = "InService", reason: str | None = None) -> dict[str, Any]:
    response = {
        "EndpointName": NAME,
        "EndpointArn": ENDPOINT_ARN,
        "EndpointConfigName": config,
        "EndpointStatus": status,
        "CreationTime": WHEN,
        "LastModifiedTime": WHEN,
    }
    return response | ({"FailureReason": reason} if reason else {})


def _config(name: str, model: str) -> dict[str, Any]:
    variant = {
        "VariantName": VARIANT,
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.t2.medium",
    }
    return {
        "EndpointConfigName": name,
        "EndpointConfigArn": _arn("endpoint-config", name),
        "ProductionVariants": [variant],
        "CreationTime": WHEN,
    }


def _not_found(stub: Stubber, method: str, kind: str, params: dict[str, str]) -> None:
    name = next(iter(params.values()))
    stub.add_client_error(
        method,
        service_error_code="ValidationException",
        service_message=f"Could not find {kind} '{_arn(kind, name)}'.",
        http_status_code=400,
        expected_params=params,
    )


def _creates_new_model_and_config(stub: Stubber, settings: Settings) -> tuple[str, str]:
    """The requests that make the new model and endpoint config; returns their names."""
    model, config = resource_names(settings, NEW_SHA)
    _not_found(stub, "describe_model", "model", {"ModelName": model})
    stub.add_response(
        "create_model",
        {"ModelArn": _arn("model", model)},
        {
            "ModelName": model,
            "ExecutionRoleArn": ROLE_ARN,
            "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": NEW_DATA},
        },
    )
    _not_found(stub, "describe_endpoint_config", "endpoint-config", {"EndpointConfigName": config})
    variant = {
        "VariantName": VARIANT,
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.t2.medium",
        "InitialVariantWeight": 1.0,
    }
    stub.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": _arn("endpoint-config", config)},
        {"EndpointConfigName": config, "ProductionVariants": [variant]},
    )
    return model, config


def _serving_old(stub: Stubber, settings: Settings) -> tuple[str, str]:
    """The endpoint as it is found: InService on the old model's config."""
    old_model, old_config = resource_names(settings, OLD_SHA)
    stub.add_response("describe_endpoint", _endpoint(old_config), {"EndpointName": NAME})
    stub.add_response(
        "describe_endpoint_config", _config(old_config, old_model), {"EndpointConfigName": old_config}
    )
    return old_model, old_config


def _deploy(
    client: Any, settings: Settings, alarms: tuple[str, ...] = ALARMS, firing: tuple[str, ...] = ()
) -> Any:
    return deploy(
        client,
        settings,
        image=IMAGE,
        model_data=NEW_DATA,
        artifact_sha256=NEW_SHA,
        role_arn=ROLE_ARN,
        alarms=alarms,
        firing=firing,
        poll_seconds=0,
    )


@pytest.fixture
def sagemaker() -> Any:
    """A SageMaker client that never reaches the network (every call is stubbed)."""
    return boto3.client(
        "sagemaker", region_name=REGION, aws_access_key_id="stub", aws_secret_access_key="stub"
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, target="aws", role_arn=ROLE_ARN)


def test_a_new_model_updates_the_endpoint_then_deletes_the_old_config_and_model(
    sagemaker: Any, settings: Settings
) -> None:
    # GIVEN the endpoint serving an older model, and a new artifact
    with Stubber(sagemaker) as stub:
        old_model, old_config = _serving_old(stub, settings)
        model, config = _creates_new_model_and_config(stub, settings)
        # THEN the endpoint is updated to the new config blue/green (same name: no downtime), baked and
        # watched by the endpoint's alarms
        stub.add_response(
            "update_endpoint",
            {"EndpointArn": ENDPOINT_ARN},
            {
                "EndpointName": NAME,
                "EndpointConfigName": config,
                "RetainAllVariantProperties": True,
                "DeploymentConfig": _guarded(),
            },
        )
        stub.add_response("describe_endpoint", _endpoint(config, "Updating"), {"EndpointName": NAME})
        stub.add_response("describe_endpoint", _endpoint(config), {"EndpointName": NAME})
        stub.add_response("describe_endpoint", _endpoint(config), {"EndpointName": NAME})
        # AND once it is InService the old config and the old model are deleted, nothing else
        stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": old_config})
        stub.add_response("delete_model", {}, {"ModelName": old_model})
        # WHEN the new artifact is deployed
        deployment = _deploy(sagemaker, settings)
        stub.assert_no_pending_responses()
    assert (deployment.action, deployment.model, deployment.config) == ("updated", model, config)
    assert deployment.removed == (f"endpoint config {old_config}", f"model {old_model}")
    assert json.loads(settings.tfvars_path.read_text())["endpoint_arn"] == ENDPOINT_ARN


def test_an_update_that_does_not_take_keeps_the_old_model_and_removes_the_new_one(
    sagemaker: Any, settings: Settings
) -> None:
    # GIVEN a guarded update SageMaker rolls back because an alarm fired during the baking period: the
    # endpoint is InService again, still on the old config, with the reason
    with Stubber(sagemaker) as stub:
        _, old_config = _serving_old(stub, settings)
        model, config = _creates_new_model_and_config(stub, settings)
        stub.add_response(
            "update_endpoint",
            {"EndpointArn": ENDPOINT_ARN},
            {
                "EndpointName": NAME,
                "EndpointConfigName": config,
                "RetainAllVariantProperties": True,
                "DeploymentConfig": _guarded(),
            },
        )
        reason = (
            f"The primary container rolled back: alarm {ALARMS[0]} went into ALARM during the baking period."
        )
        rolled_back = _endpoint(old_config, reason=reason)
        stub.add_response("describe_endpoint", rolled_back, {"EndpointName": NAME})
        stub.add_response("describe_endpoint", rolled_back, {"EndpointName": NAME})
        # THEN the new config and model are deleted again, so nothing is left unused
        stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": config})
        stub.add_response("delete_model", {}, {"ModelName": model})
        # WHEN the new artifact is deployed  THEN the error says the old model still serves, and why
        with pytest.raises(
            SageMakerError, match=f"rolled back.*still serves {old_config}: The primary container"
        ):
            _deploy(sagemaker, settings)
        stub.assert_no_pending_responses()
    # AND Terraform's inputs were not touched
    assert not settings.tfvars_path.exists()


def test_the_same_model_again_creates_updates_and_deletes_nothing(sagemaker: Any, settings: Settings) -> None:
    # GIVEN the endpoint already serving this artifact's config (any create, update or delete would fail:
    # the Stubber answers only the requests listed)
    model, config = resource_names(settings, NEW_SHA)
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_endpoint", _endpoint(config), {"EndpointName": NAME})
        stub.add_response("describe_endpoint_config", _config(config, model), {"EndpointConfigName": config})
        stub.add_response(
            "describe_model",
            {"ModelName": model, "ModelArn": _arn("model", model), "CreationTime": WHEN},
            {"ModelName": model},
        )
        stub.add_response("describe_endpoint_config", _config(config, model), {"EndpointConfigName": config})
        stub.add_response("describe_endpoint", _endpoint(config), {"EndpointName": NAME})
        stub.add_response("describe_endpoint", _endpoint(config), {"EndpointName": NAME})
        # WHEN it is deployed again
        deployment = _deploy(sagemaker, settings)
        stub.assert_no_pending_responses()
    # THEN nothing changed
    assert (deployment.action, deployment.removed) == ("unchanged", ())


def test_names_derive_from_the_artifact_and_the_instances_not_from_time(settings: Settings) -> None:
    # GIVEN one artifact  WHEN named twice, and under another instance type
    first = resource_names(settings, NEW_SHA)
    other = resource_names(
        make_settings(settings.build_dir.parent / "x", instance_type="ml.m5.large"), NEW_SHA
    )
    # THEN the names repeat; another instance type needs another endpoint config but the same model
    assert resource_names(settings, NEW_SHA) == first
    assert first[0] == f"{NAME}-{NEW_SHA[:16]}"
    assert other[0] == first[0] and other[1] != first[1]
    assert all(len(name) <= 63 for name in first)


def test_an_update_without_alarms_to_guard_it_is_refused_before_anything_is_created(
    sagemaker: Any, settings: Settings
) -> None:
    # GIVEN the endpoint serving an older model, and no alarms found (`invoke infra` not run yet)
    with Stubber(sagemaker) as stub:
        _serving_old(stub, settings)
        # WHEN the new artifact is deployed THEN it stops with what to do; no create, update or delete
        with pytest.raises(SageMakerError, match=r"no alarms .* `invoke infra --target aws` first"):
            _deploy(sagemaker, settings, alarms=())
        stub.assert_no_pending_responses()


def test_an_alarm_already_in_alarm_stops_the_update_with_its_name_before_anything_is_created(
    sagemaker: Any, settings: Settings
) -> None:
    # GIVEN the endpoint serving an older model, and its latency alarm in ALARM already (SageMaker would roll
    # the update back as soon as it starts: every deploy would fail until it clears)
    with Stubber(sagemaker) as stub:
        _serving_old(stub, settings)
        # WHEN the new artifact is deployed  THEN it stops naming the alarm and the flag; nothing is created
        with pytest.raises(SageMakerError, match=rf"alarm {ALARMS[1]} .* in ALARM already.*--ignore-alarm"):
            _deploy(sagemaker, settings, firing=(ALARMS[1],))
        stub.assert_no_pending_responses()


def test_an_ignored_alarm_in_alarm_lets_the_update_go_unwatched_by_it(
    sagemaker: Any, settings: Settings
) -> None:
    # GIVEN the latency alarm in ALARM, ignored with `--ignore-alarm` (the task's flag, into the settings)
    from commands.model import rollout_settings

    settings = rollout_settings(settings, False, False, [ALARMS[1]])
    with Stubber(sagemaker) as stub:
        old_model, old_config = _serving_old(stub, settings)
        model, config = _creates_new_model_and_config(stub, settings)
        # THEN the update is guarded by the other alarm only
        guard = _guarded()
        guard["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": ALARMS[0]}]}
        stub.add_response(
            "update_endpoint",
            {"EndpointArn": ENDPOINT_ARN},
            {
                "EndpointName": NAME,
                "EndpointConfigName": config,
                "RetainAllVariantProperties": True,
                "DeploymentConfig": guard,
            },
        )
        stub.add_response("describe_endpoint", _endpoint(config), {"EndpointName": NAME})
        stub.add_response("describe_endpoint", _endpoint(config), {"EndpointName": NAME})
        stub.add_response("delete_endpoint_config", {}, {"EndpointConfigName": old_config})
        stub.add_response("delete_model", {}, {"ModelName": old_model})
        # WHEN the new artifact is deployed
        deployment = _deploy(sagemaker, settings, firing=(ALARMS[1],))
        stub.assert_no_pending_responses()
    assert (deployment.action, deployment.model) == ("updated", model)


@pytest.mark.parametrize(
    ("ignored", "message"),
    [
        (("dbpedia-classifier-typo",), "--ignore-alarm dbpedia-classifier-typo: .* has no such alarm"),
        (ALARMS, "no alarms .* all are ignored"),
    ],
)
def test_ignoring_an_unknown_alarm_or_every_alarm_is_refused(
    sagemaker: Any, settings: Settings, ignored: tuple[str, ...], message: str
) -> None:
    # GIVEN an update, and --ignore-alarm naming no alarm of the endpoint, or all of them
    settings = settings.replace(ignore_alarms=ignored)
    with Stubber(sagemaker) as stub:
        _serving_old(stub, settings)
        # WHEN / THEN it stops before anything is created
        with pytest.raises(SageMakerError, match=message):
            _deploy(sagemaker, settings, firing=ALARMS)
        stub.assert_no_pending_responses()


def test_two_or_more_instances_shift_traffic_canary_or_linear_serverless_all_at_once() -> None:
    """The traffic routing each capacity gets (the parameters the Stubber tests above send as a whole)."""
    two = EndpointCapacity("instance", instance_type="ml.m5.large", instance_count=3)
    canary = deployment_config(two, ALARMS, 300, "canary")["BlueGreenUpdatePolicy"]
    linear = deployment_config(two, ALARMS, 300, "linear")["BlueGreenUpdatePolicy"]
    serverless = deployment_config(
        EndpointCapacity("serverless", memory_mb=2048, max_concurrency=5), ALARMS, 300, "canary"
    )
    assert canary["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
        "WaitIntervalInSeconds": 300,
    }
    assert linear["TrafficRoutingConfiguration"]["Type"] == "LINEAR"
    assert linear["MaximumExecutionTimeoutInSeconds"] > canary["MaximumExecutionTimeoutInSeconds"]
    assert serverless["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert serverless["AutoRollbackConfiguration"] == {"Alarms": [{"AlarmName": a} for a in ALARMS]}
