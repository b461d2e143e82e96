"""The local endpoint speaks SageMaker's protocols: driven by a real boto3 client and plain HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from ml.serve import MAX_INSTANCES, EndpointServer, start_endpoint

NAME = "dbpedia-classifier"


@pytest.fixture
def runtime(endpoint: EndpointServer) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def post(url: str, body: bytes, content_type: str = "application/json") -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_boto3_invoke_endpoint_returns_blazingtext_predictions(runtime: Any) -> None:
    # GIVEN two tokenized instances and k=3 WHEN invoked through the runtime API with boto3
    body = {
        "instances": ["walter johnson was a baseball pitcher", "the danube is a river in europe"],
        "configuration": {"k": 3},
    }
    response = runtime.invoke_endpoint(
        EndpointName=NAME, ContentType="application/json", Body=json.dumps(body)
    )
    answer = json.loads(response["Body"].read())
    # THEN each instance gets 3 labels with descending probabilities, as BlazingText answers
    assert [len(a["label"]) for a in answer] == [3, 3]
    assert answer[0]["label"][0] == "__label__Athlete"
    assert answer[1]["label"][0] == "__label__NaturalPlace"
    for a in answer:
        assert a["prob"] == sorted(a["prob"], reverse=True) and 0 < a["prob"][0] <= 1


def test_unknown_endpoint_name_is_a_validation_error(runtime: Any) -> None:
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(
            EndpointName="other", ContentType="application/json", Body=b'{"instances":["x"]}'
        )
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert "other" in info.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"instances": ["a"]}', "text/csv", 415),
        (b"not json", "application/json", 400),
        (b'{"instances": "a"}', "application/json", 400),
        (b'{"instances": []}', "application/json", 400),
        (b'{"instances": [1, 2]}', "application/json", 400),
        (b'{"instances": ["a"], "configuration": {"k": 0}}', "application/json", 400),
        (b'{"instances": ["a"], "configuration": {"k": 15}}', "application/json", 400),
        (json.dumps({"instances": ["a"] * (MAX_INSTANCES + 1)}).encode(), "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
    ],
)
def test_container_contract_refuses_bad_requests(
    endpoint: EndpointServer, body: bytes, content_type: str, status: int
) -> None:
    code, answer = post(endpoint.url + "/invocations", body, content_type)
    assert code == status and answer["message"]


def test_model_errors_reach_boto3_as_modelerror_with_the_original_status(runtime: Any) -> None:
    with pytest.raises(ClientError) as info:
        runtime.invoke_endpoint(EndpointName=NAME, ContentType="application/json", Body=b'{"instances": []}')
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400


def test_ping_reports_model_loaded_and_not_loaded(endpoint: EndpointServer) -> None:
    with urllib.request.urlopen(endpoint.url + "/ping", timeout=5) as response:
        assert response.status == 200
    empty = start_endpoint(None, NAME)  # type: ignore[arg-type]
    try:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(empty.url + "/ping", timeout=5)
        assert info.value.code == 503
        assert post(empty.url + "/invocations", b'{"instances": ["a"]}')[0] == 503
    finally:
        empty.shutdown()
        empty.server_close()


def test_server_keeps_serving_after_bad_requests(endpoint: EndpointServer) -> None:
    for body in (b"{", b"[]", b'{"instances": [null]}'):
        post(endpoint.url + "/invocations", body)
    code, answer = post(endpoint.url + "/invocations", b'{"instances": ["a film by a director"]}')
    assert code == 200 and answer[0]["label"] == ["__label__Film"]
