"""The smoke step's S3 stand-in (ops/rehearsal/live.py): with IAM enforced moto answers an unsigned read
of a bucket like the stack's 500, so the stand-in answers anonymous reads by S3's rules from the bucket's
configuration in the emulator. Real moto_server with IAM enforced, real HTTP on 127.0.0.1. (The other
stand-ins run in the rehearsal: tests/rehearsal/test_rehearse.py.)"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from ops.infra.iam_emulator import IamEmulator
from ops.rehearsal.live import BucketStandIn

pytestmark = pytest.mark.slow

BUCKET = "site-bucket"
CLOUDFRONT_ONLY = {  # terraform/site.tf's grant: the distribution, by its ARN
    "Effect": "Allow",
    "Principal": {"Service": "cloudfront.amazonaws.com"},
    "Action": "s3:GetObject",
    "Resource": f"arn:aws:s3:::{BUCKET}/*",
    "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::111122223333:distribution/E1"}},
}

EVERYONE = {**CLOUDFRONT_ONLY, "Principal": "*", "Condition": {}}


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    with IamEmulator("111122223333") as account:
        client = account.client("s3")
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="index.html", Body=b"<html></html>", ContentType="text/html")
        yield client


def test_moto_itself_cannot_answer_an_anonymous_read_of_a_bucket_like_the_stacks(s3: Any) -> None:
    """The gap the stand-in answers: with IAM enforced, an unsigned GET of a bucket whose policy grants its
    distribution makes moto fail (500), neither 200 nor 403 (403 while the bucket has no policy)."""
    url = f"{s3.meta.endpoint_url}/{BUCKET}/index.html"
    s3.delete_bucket_policy(Bucket=BUCKET)
    assert status(url) == 403
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Statement": [CLOUDFRONT_ONLY]}))
    assert status(url) == 500


def test_an_anonymous_read_is_refused_unless_a_policy_for_everyone_allows_it_and_nothing_blocks_it(
    s3: Any,
) -> None:
    with BucketStandIn(s3) as stand_in:
        stand_in.start()
        url = f"{stand_in.url}/{BUCKET}/index.html"
        # GIVEN the stack's grant to its distribution only  THEN an anonymous read is refused
        s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Statement": [CLOUDFRONT_ONLY]}))
        assert status(url) == 403
        # GIVEN a statement for everyone as well  THEN it is let through
        s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps({"Statement": [CLOUDFRONT_ONLY, EVERYONE]}))
        assert status(url) == 200
        # GIVEN the public access block restricting public policies  THEN refused again
        block = dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
        )
        s3.put_public_access_block(Bucket=BUCKET, PublicAccessBlockConfiguration=block)
        assert status(url) == 403
        stand_in.shutdown()
