"""Property tests (hypothesis): whatever a client sends, the Lambda handler answers JSON and never 5xx.

The handler calls a real local endpoint server (the ``endpoint`` fixture) through boto3, so well-formed
requests are really classified; examples are bounded so the module runs in seconds. The endpoint's own
request parser gets the same treatment.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ops.local.endpoint import MAX_INSTANCES, RequestError, parse_request
from tests.helpers import lambda_environment_of, lambda_settings_env, load_event

import contract
import handler

CLIENT_STATUSES = {400, 404, 405, 413, 415}
CLASSES = {
    "Company", "EducationalInstitution", "Artist", "Athlete", "OfficeHolder", "MeanOfTransportation",
    "Building", "NaturalPlace", "Village", "Animal", "Plant", "Album", "Film", "WrittenWork",
}  # fmt: skip
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "APPLICATION/JSON; charset=utf-8",
        "text/plain",
        "text/plain; charset=latin-1",
        "",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
    ]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=10,
)
WORDS = st.lists(
    st.sampled_from(["river", "film", "pitcher", "village", "album", "the", "a", "école"]), min_size=1
)
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module", autouse=True)
def lambda_env(endpoint: Any, trained: Any) -> Iterator[None]:
    """The environment Terraform gives the function, pointed at the real local endpoint and its words."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            **lambda_settings_env(),
            **lambda_environment_of(trained[1].archive),
            "ENDPOINT_NAME": "dbpedia-classifier",
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": endpoint.url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "ENDPOINT_TIMEOUT_SECONDS": "5",
        }.items():
            mp.setenv(name, value)
        yield


def event_with(body: str | None, content_type: str = "application/json", b64: bool = False) -> dict[str, Any]:
    event = load_event("apiGatewayV2Event.json")
    event["headers"]["content-type"] = content_type
    event["isBase64Encoded"] = b64
    if body is None:
        event.pop("body")
    else:
        event["body"] = body
    return event


def answer(event: Any) -> tuple[int, dict[str, Any]]:
    """Call the handler; check the reply is an API Gateway proxy response with a JSON body."""
    reply = handler.lambda_handler(event, None)
    assert reply["headers"]["Content-Type"].startswith("application/json")
    body = json.loads(reply["body"])
    status = reply["statusCode"]
    if status == 200:  # no reason only when the word rule lets the counted words through; a reason is what
        # the rules say of these counts, the learned rule refusing the text or not
        counts = body["knownWords"], body["commonWords"], body["words"]
        said = {
            contract.unknown_reason(*counts, int(os.environ["MIN_KNOWN_PERCENT"]), r) for r in (False, True)
        }
        reason = body.get("reason")
        assert reason in said and body["top"][0]["label"] in CLASSES
        assert body["label"] is None if reason else body["label"] == body["top"][0]["label"]
    else:
        assert status in CLIENT_STATUSES, body
        assert body["error"] and body["message"] and body["requestId"]
    return status, body


@PROPERTY_SETTINGS
@given(body=st.text(max_size=300) | st.none(), content_type=CONTENT_TYPES, b64=st.booleans())
@example(body="", content_type="application/json", b64=False)
@example(body=" \t\n\r\x0b\x0c\u00a0\u2003", content_type="text/plain", b64=False)
@example(body='{"text": "\\ud800 lone surrogate"}', content_type="application/json", b64=False)
@example(body='{"text": "a river", "k": ' + "1" * 4301 + "}", content_type="application/json", b64=False)
@example(body="[" + "9" * 5000 + "]", content_type="", b64=False)
def test_any_text_body_gets_json_and_no_5xx(body: str | None, content_type: str, b64: bool) -> None:
    answer(event_with(body, content_type, b64))


@PROPERTY_SETTINGS
@given(raw=st.binary(max_size=400), content_type=CONTENT_TYPES)
@example(raw=b"\xff\xfe\x00binary", content_type="application/json")
def test_binary_bodies_are_refused_unless_they_are_utf8(raw: bytes, content_type: str) -> None:
    # GIVEN any bytes, base64-encoded by API Gateway  WHEN they reach the handler
    status, body = answer(event_with(base64.b64encode(raw).decode(), content_type, b64=True))
    # THEN bytes that are not UTF-8 are a 400 that says so
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        assert status == 400 and "UTF-8" in body["message"]


@PROPERTY_SETTINGS
@given(text=JSON_VALUES | WORDS.map(" ".join), k=JSON_VALUES | st.integers(-20, 40), b64=st.booleans())
def test_json_payloads_are_classified_exactly_when_text_and_k_are_valid(text: Any, k: Any, b64: bool) -> None:
    # GIVEN {"text": ..., "k": ...} of any JSON types, sometimes base64-encoded
    raw = json.dumps({"text": text, "k": k})
    event = event_with(base64.b64encode(raw.encode()).decode() if b64 else raw, b64=b64)
    status, body = answer(event)
    # THEN a string text with a word and an integer k in 1..14 is classified with k labels, else 400
    valid_k = isinstance(k, int) and not isinstance(k, bool) and 1 <= k <= 14
    if isinstance(text, str) and valid_k and handler.tokenize(text):
        assert status == 200 and len(body["top"]) == k
    else:
        assert status == 400
        if not valid_k and isinstance(text, str) and text.strip():
            assert '"k"' in body["message"]


@settings(max_examples=15, deadline=None)
@given(depth=st.integers(1, 10_000))
@example(depth=10_000)  # past the JSON decoder's recursion limit, within the size limit
def test_deeply_nested_json_is_a_400_not_a_crash(depth: int) -> None:
    nested = "[" * depth + "]" * depth
    assert answer(event_with(nested))[0] == 400
    assert answer(event_with('{"text": ' + nested + "}"))[0] == 400


@settings(max_examples=15, deadline=None)
@given(
    digits=st.integers(4301, 20_000),
    field=st.sampled_from(["text", "k", "other"]),
    nest=st.sampled_from(["{}", "[{}]", '{{"a": [1, {}]}}']),
    b64=st.booleans(),
)
def test_integers_over_the_digit_limit_are_a_400_in_any_field(
    digits: int, field: str, nest: str, b64: bool
) -> None:
    # GIVEN a JSON body whose one field holds an integer longer than Python reads by default
    raw = '{"text": "a river", "' + field + '": ' + nest.format("7" * digits) + "}"
    event = event_with(base64.b64encode(raw.encode()).decode() if b64 else raw, b64=b64)
    # THEN the client is told, with a 400 (never a 500)
    status, body = answer(event)
    assert status == 400 and "digits" in body["message"]


@settings(max_examples=10, deadline=None)
@given(chars=st.integers(5001, 200_000), content_type=st.sampled_from(["application/json", "text/plain"]))
def test_huge_texts_are_413(chars: int, content_type: str) -> None:
    text = ("word " * (chars // 5 + 1))[:chars]
    body = json.dumps({"text": text}) if content_type == "application/json" else text
    status, answered = answer(event_with(body, content_type))
    assert status == 413 and ("5000" in answered["message"] or "too large" in answered["message"])


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, MAX_INSTANCES * 3))
def test_a_batch_of_instances_is_not_what_the_api_takes(n: int) -> None:
    status, body = answer(event_with(json.dumps({"instances": ["a river"] * n})))
    assert status in (400, 413) and body["message"]


@PROPERTY_SETTINGS
@given(event=JSON_VALUES)
@example(event={"requestContext": 5, "body": "x"})
@example(event={"requestContext": {"http": ["GET"]}, "headers": [1], "body": "a river"})
@example(event={"httpMethod": 7, "isBase64Encoded": "yes", "body": "eA=="})
def test_malformed_events_never_raise_nor_answer_5xx(event: Any) -> None:
    answer(event)


# --- the endpoint's parser, under the same treatment -------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=300) | JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    content_type=CONTENT_TYPES,
)
@example(
    body=json.dumps({"instances": ["a"] * (MAX_INSTANCES + 1)}).encode(), content_type="application/json"
)
@example(body=b"[" * 100_000 + b"]" * 100_000, content_type="application/json")
@example(body=b'{"instances": ["a"], "configuration": {"k": 15}}', content_type="application/json")
@example(
    body=('{"instances": ["a"], "configuration": {"k": ' + "1" * 4301 + "}}").encode(),
    content_type="application/json",
)
@example(body=b'{"instances": ["a"]}', content_type="Application/JSON; charset=utf-8")
def test_endpoint_parser_accepts_valid_requests_and_refuses_the_rest_with_4xx(
    body: bytes, content_type: str
) -> None:
    try:
        instances, k = parse_request(body, content_type, 14)
    except RequestError as exc:
        assert exc.status in (400, 415) and str(exc)
        media_type = content_type.split(";")[0].strip().lower()
        assert not (exc.status == 415 and media_type == "application/json"), "a JSON media type refused"
    else:
        assert content_type.split(";")[0].lower() == "application/json"
        assert 1 <= len(instances) <= MAX_INSTANCES and all(isinstance(i, str) for i in instances)
        assert 1 <= k <= 14
