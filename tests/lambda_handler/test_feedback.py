"""POST /feedback through the real handler, stored by real boto3 in moto's S3 (a moto_server child process):
kept only with consent, nothing identifying kept, every mistake a 4xx that says what is wrong."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ops.infra.moto_server import MotoServer
from tests.helpers import lambda_settings_env, load_event
from tests.lambda_handler.conftest import call

import contract
import feedback

BUCKET = "dbpedia-classifier-feedback"
LABELS = ["Company", "Athlete", "Film", "Science Fiction"]  # one with a space, as a user's own may be
SHA = "ab" * 32
TEXT = "Walter Perry Johnson was a Major League Baseball right-handed pitcher."
ITEM = {"text": TEXT, "predicted": "Company", "correct": "Athlete", "modelSha256": SHA, "consent": True}
COOKIE = "session=visitor-42"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture
def s3(s3_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An empty feedback bucket and the environment Terraform gives the function, pointed at it."""
    client = s3_server.client("s3")
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []) if _exists(client) else []:
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    if not _exists(client):
        client.create_bucket(Bucket=BUCKET)
    for name, value in lambda_settings_env().items():
        monkeypatch.setenv(name, value)
    env = {"FEEDBACK_BUCKET": BUCKET, "LABELS": json.dumps(LABELS), "AWS_ENDPOINT_URL_S3": s3_server.url}
    env |= {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ORIGIN_VERIFY_SECRET", raising=False)
    return client


def _exists(client: Any) -> bool:
    return BUCKET in {b["Name"] for b in client.list_buckets()["Buckets"]}


def stored(client: Any) -> list[dict[str, Any]]:
    keys = [obj["Key"] for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return [json.loads(client.get_object(Bucket=BUCKET, Key=key)["Body"].read()) for key in keys]


def post(body: Any, method: str = "POST") -> dict[str, Any]:
    """API Gateway's payload-2.0 event of ``method /feedback`` from a browser with a cookie and an IP."""
    event = load_event("apiGatewayV2Event.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/feedback"
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} /feedback"
    event["requestContext"]["http"]["method"] = method
    event["headers"]["cookie"] = COOKIE
    event["cookies"] = [COOKIE]
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def test_feedback_with_consent_is_stored_under_a_random_id_with_the_fields_only(s3: Any) -> None:
    # GIVEN a visitor's "Wrong? It is Athlete" with consent, from a browser with an IP, user agent and cookie
    status, _, body = call(post(ITEM))
    # THEN it is stored once, under the id the answer names, with the five fields and when it came
    assert status == 201, body
    [item] = stored(s3)
    assert body["stored"] == 1 and body["ids"] == [item["id"]]
    assert set(item) == {"id", "received", "text", "predicted", "correct", "modelSha256"}
    assert (item["text"], item["predicted"], item["correct"], item["modelSha256"]) == (
        TEXT,
        "Company",
        "Athlete",
        SHA,
    )
    # AND nothing that identifies the visitor: no IP address, user agent or cookie, anywhere in the object
    raw = json.dumps(item)
    for identifying in ("203.0.113.7", "Mozilla", "visitor-42", "x-forwarded-for"):
        assert identifying not in raw


def test_a_right_answer_and_a_list_are_stored_each_under_its_own_id(s3: Any) -> None:
    # GIVEN two items in one request: a "Right" (predicted == correct) and a label with a space
    right = {**ITEM, "correct": "Company"}
    other = {**ITEM, "predicted": "Film", "correct": "Science Fiction"}
    status, _, body = call(post([right, other]))
    # THEN both are kept, each under its own random id, in the bucket's encrypted objects
    assert status == 201 and body["stored"] == 2
    assert len(set(body["ids"])) == 2
    assert {(i["predicted"], i["correct"]) for i in stored(s3)} == {
        ("Company", "Company"),
        ("Film", "Science Fiction"),
    }
    keys = [obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert all(key.startswith(contract.FEEDBACK_PREFIX) for key in keys)
    assert {s3.head_object(Bucket=BUCKET, Key=key)["ServerSideEncryption"] for key in keys} == {"AES256"}


@pytest.mark.parametrize("consent", [None, False, "true", 1, "yes"])
def test_without_consent_nothing_is_stored_and_the_answer_says_so(s3: Any, consent: Any) -> None:
    # GIVEN feedback without "consent": true (missing, false, or a look-alike)
    item = {k: v for k, v in ITEM.items() if k != "consent"} | (
        {} if consent is None else {"consent": consent}
    )
    status, _, body = call(post(item))
    # THEN a 400 that names consent, and the bucket stays empty
    assert (status, body["error"]) == (400, "no_consent")
    assert "consent" in body["message"] and "nothing was stored" in body["message"]
    assert stored(s3) == []


def test_one_item_without_consent_keeps_the_whole_request_out(s3: Any) -> None:
    # GIVEN a list whose second item lacks consent
    status, _, body = call(post([ITEM, {**ITEM, "consent": False}]))
    # THEN nothing of it is stored, and the message names the item
    assert (status, body["error"]) == (400, "no_consent") and body["message"].startswith("item 2:")
    assert stored(s3) == []


@pytest.mark.parametrize("field", ["predicted", "correct"])
def test_a_label_the_model_does_not_have_is_a_400_listing_its_labels(s3: Any, field: str) -> None:
    status, _, body = call(post({**ITEM, field: "Spaceship"}))
    assert (status, body["error"]) == (400, "unknown_label")
    assert "'Spaceship'" in body["message"] and "Science Fiction" in body["message"]
    assert stored(s3) == []


def test_a_text_over_the_limit_is_a_413_naming_the_limit(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_TEXT_CHARS", "50")
    status, _, body = call(post(ITEM))
    assert (status, body["error"]) == (413, "payload_too_large") and "the limit is 50" in body["message"]
    assert stored(s3) == []


def test_too_many_items_in_one_request_is_a_413(s3: Any) -> None:
    status, _, body = call(post([ITEM] * (feedback.MAX_ITEMS + 1)))
    assert (status, body["error"]) == (413, "too_many_items")
    assert f"at most {feedback.MAX_ITEMS}" in body["message"]
    assert stored(s3) == []


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("{not json", "not valid JSON"),
        ([], "no feedback"),
        (["text"], "send an object"),
        ({**ITEM, "text": "  "}, '"text" must be'),
        ({**ITEM, "modelSha256": "latest"}, '"modelSha256" must be'),
    ],
)
def test_malformed_feedback_is_a_400_that_says_what_is_wrong(s3: Any, body: Any, says: str) -> None:
    status, _, answer = call(post(body))
    assert (status, answer["error"]) == (400, "bad_request") and says in answer["message"]
    assert stored(s3) == []


def test_feedback_turned_off_answers_404_and_stores_nothing(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN --no-feedback (FEEDBACK=0, as the stack passes it)
    monkeypatch.setenv("FEEDBACK", "0")
    status, _, body = call(post(ITEM))
    assert (status, body["error"]) == (404, "not_found")
    assert stored(s3) == []


def test_other_methods_and_calls_around_cloudfront_are_refused(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert call(post(ITEM, method="GET"))[0] == 405
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET", "s3cret")
    assert call(post(ITEM))[0] == 403
    assert stored(s3) == []


def test_a_bucket_that_cannot_be_written_is_a_502_in_json_not_a_traceback(
    s3: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("FEEDBACK_BUCKET", "no-such-bucket-here")
    status, _, body = call(post(ITEM))
    assert (status, body["error"]) == (502, "feedback_not_stored") and body["requestId"]
    assert "NoSuchBucket" in caplog.text


def test_without_labels_or_bucket_the_route_is_a_500_naming_what_is_missing(
    s3: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LABELS", "")
    assert call(post(ITEM))[0] == 500 and "LABELS" in caplog.text
    monkeypatch.delenv("FEEDBACK_BUCKET")
    assert call(post(ITEM))[0] == 500 and "FEEDBACK_BUCKET" in caplog.text
