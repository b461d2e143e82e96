"""ops/infra/inputs.py: the endpoint's tfvars from `invoke train`, checked, and the settings' stand-in for a
destroy."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ops.infra.errors import InfraError
from ops.infra.inputs import check_target, fallback_endpoint_vars, read_endpoint_vars
from ops.settings import load_settings

from .conftest import ENDPOINT, write_endpoint_tfvars


def test_missing_endpoint_tfvars_tell_you_to_train_first(tmp_path: Path) -> None:
    # GIVEN no endpoint.auto.tfvars.json  WHEN it is read  THEN the error names the next step
    with pytest.raises(InfraError, match=r"is missing: run `invoke train` first"):
        read_endpoint_vars(tmp_path / "endpoint.auto.tfvars.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "not valid JSON"), (json.dumps({"endpoint_name": "x"}), "lacks aws_region, endpoint_arn")],
)
def test_broken_endpoint_tfvars_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    # GIVEN a tfvars file that is not JSON, or lacks keys
    path = tmp_path / "endpoint.auto.tfvars.json"
    path.write_text(text)
    # WHEN / THEN reading it says what is wrong and to train again
    with pytest.raises(InfraError, match=rf"{message}.*run `invoke train` again"):
        read_endpoint_vars(path)


def test_endpoint_tfvars_round_trip_the_train_contract(tmp_path: Path) -> None:
    # GIVEN the file `invoke train` writes  WHEN it is read  THEN the four contract keys come back
    assert read_endpoint_vars(write_endpoint_tfvars(tmp_path)) == ENDPOINT


def test_the_aws_target_refuses_the_local_endpoint() -> None:
    # GIVEN the local endpoint's variables and the real AWS one's
    aws = replace(
        ENDPOINT,
        endpoint_arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/dbpedia-classifier",
        sagemaker_runtime_url="https://runtime.sagemaker.us-east-1.amazonaws.com",
    )
    # WHEN / THEN the aws target refuses the local one, accepts the real one; local takes either
    with pytest.raises(InfraError, match="invoke train --target aws"):
        check_target(ENDPOINT, "aws")
    check_target(aws, "aws")
    check_target(aws, "local")


def test_fallback_variables_for_destroy_point_at_the_settings_region() -> None:
    # GIVEN the default settings  WHEN destroy needs variables without a tfvars file
    endpoint = fallback_endpoint_vars(load_settings(region="eu-west-1"))
    # THEN they name the region the provider must look in, in the shapes variables.tf accepts
    assert endpoint.aws_region == "eu-west-1"
    assert endpoint.endpoint_arn == "arn:aws:sagemaker:eu-west-1:000000000000:endpoint/dbpedia-classifier"
    assert endpoint.sagemaker_runtime_url == "https://runtime.sagemaker.eu-west-1.amazonaws.com"
