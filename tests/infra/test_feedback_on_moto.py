"""Visitors' feedback in the applied stack (the session's one apply, ``applied``): the bucket is private,
encrypted and expires what it holds; and the real handler, run as the Lambda's role with the policies that
apply gave it, in an account with IAM enforced (ops/infra/iam_emulator.py), can store feedback, and cannot
once s3:PutObject is taken away or outside feedback/."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ml.lambda_src import contract
from ops.infra.iam_emulator import IamEmulator, Principal, role_policies
from ops.settings import load_settings
from tests.helpers import lambda_settings_env, load_event
from tests.iam.acting import acting_as

import feedback
import handler
from .conftest import SITE_PAGE, Applied

pytestmark = pytest.mark.slow

ITEM = {
    "text": "Walter Perry Johnson was a Major League Baseball pitcher.",
    "predicted": "Company",
    "correct": "Company",
    "modelSha256": "5e" * 32,
    "consent": True,
}


def test_the_feedback_bucket_is_private_encrypted_and_expires_its_items(applied: Applied) -> None:
    # GIVEN the applied stack  WHEN its feedback bucket is read back
    s3 = applied.client("s3")
    bucket = applied.result.outputs["feedback_bucket_name"]
    # THEN no public access, SSE-S3 by default, and every object expires after the retention (default 90)
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"], True
    )
    [rule] = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    [lifecycle] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert lifecycle["Status"] == "Enabled" and lifecycle["Filter"] == {"Prefix": ""}
    assert lifecycle["Expiration"]["Days"] == load_settings().feedback_retention_days == 90


@pytest.fixture(scope="module")
def account(applied: Applied) -> Iterator[tuple[IamEmulator, str, list[Any]]]:
    """An account with IAM enforced holding the applied stack's feedback bucket, and the policies apply gave
    the Lambda's role (read from the applied stack: no second apply)."""
    role = applied.result.outputs["lambda_role_arn"].rsplit("/", 1)[1]
    policies = role_policies(applied.client("iam"), role)
    bucket = applied.result.outputs["feedback_bucket_name"]
    with IamEmulator("111122223333") as emulator:
        emulator.client("s3").create_bucket(Bucket=bucket)
        yield emulator, bucket, policies


def post_as(principal: Principal, bucket: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, dict[str, Any]]:
    """The handler's answer to POST /feedback, run with ``principal``'s credentials and the Lambda's env."""
    labels = [item["label"] for item in SITE_PAGE["labels"]]
    for name, value in {
        **lambda_settings_env(),
        "FEEDBACK_BUCKET": bucket,
        "LABELS": json.dumps(labels),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ORIGIN_VERIFY_SECRET", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.setattr(feedback, "_clients", {})  # a new container: the role's credentials
    event = load_event("apiGatewayV2Event.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/feedback"
    event["body"] = json.dumps(ITEM)
    with acting_as(principal):
        reply = handler.lambda_handler(event, None)
    return reply["statusCode"], json.loads(reply["body"])


def stored(emulator: IamEmulator, bucket: str) -> list[str]:
    return [obj["Key"] for obj in emulator.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_the_lambda_role_stores_feedback_under_its_prefix_and_nowhere_else(
    account: tuple[IamEmulator, str, list[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator, bucket, policies = account
    role = emulator.become("dbpedia-classifier-lambda", policies)
    # WHEN the handler runs as the role  THEN the item is stored, under feedback/
    status, body = post_as(role, bucket, monkeypatch)
    assert status == 201, body
    assert [key for key in stored(emulator, bucket) if key.endswith(f"{body['ids'][0]}.json")]
    assert all(key.startswith(contract.FEEDBACK_PREFIX) for key in stored(emulator, bucket))
    # AND the role can put nothing beside the prefix, nor read what it stored
    s3 = emulator.client("s3", role.env)
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.put_object(Bucket=bucket, Key="elsewhere.json", Body=b"{}")
    with pytest.raises(ClientError, match="AccessDenied"):
        s3.list_objects_v2(Bucket=bucket)


def test_without_s3_put_object_the_role_cannot_store_and_the_visitor_gets_a_502(
    account: tuple[IamEmulator, str, list[Any]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator, bucket, policies = account
    before = stored(emulator, bucket)
    # GIVEN the role's policies less s3:PutObject
    role = emulator.become("dbpedia-classifier-lambda", policies, without=("s3:PutObject",))
    # WHEN the handler runs as it  THEN nothing is stored, and the answer is JSON naming the failure
    status, body = post_as(role, bucket, monkeypatch)
    assert (status, body["error"]) == (502, "feedback_not_stored")
    assert "AccessDenied" in caplog.text
    assert stored(emulator, bucket) == before
