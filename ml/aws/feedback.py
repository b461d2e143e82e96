"""Download visitors' feedback from its bucket (``feedback/<day>/<id>.json``, lambda/feedback.py) into
``<build_dir>/feedback/items/`` (ml/feedback.py): the one way feedback reaches this machine, from AWS
(`invoke feedback --target aws`: the bucket the stack's Lambda names in ``FEEDBACK_BUCKET``) or from the
local stack's emulated S3 (`invoke up`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ml import feedback
from ml.aws.session import boto_session
from ml.errors import ProjectError
from ml.fsutil import write_text
from ml.lambda_src import contract


class FeedbackDownloadError(ProjectError):
    """The bucket cannot be listed or read; the message names it and why."""


def download(s3: Any, bucket: str, folder: Path) -> int:
    """Fetch every item of ``bucket`` not yet in ``folder`` (items are written once: an id's file never
    changes); return how many were new. An object that is not an item is skipped with its key logged."""
    new = 0
    needs = f"s3:ListBucket on {bucket}"  # what the failing call needed: S3's AccessDenied may not say
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=contract.FEEDBACK_PREFIX)
        for page in pages:
            for obj in page.get("Contents", []):
                item_id = obj["Key"].rsplit("/", 1)[-1].removesuffix(".json")
                target = feedback.item_path(folder, item_id)
                if not item_id.isalnum() or target.exists():
                    continue
                needs = f"s3:GetObject on {bucket}/{obj['Key']}"
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode("utf-8")
                needs = f"s3:ListBucket on {bucket}"
                write_text(target, body)
                try:
                    feedback.read_item(target)
                except feedback.FeedbackError:
                    target.unlink()
                    continue
                new += 1
    except (BotoCoreError, ClientError, UnicodeDecodeError) as exc:
        raise FeedbackDownloadError(f"cannot read the feedback bucket ({needs}): {exc}") from None
    return new


def lambda_bucket(lambda_client: Any, function: str) -> str:
    """The bucket the stack's Lambda ``function`` writes feedback to: its ``FEEDBACK_BUCKET`` variable."""
    try:
        config = lambda_client.get_function_configuration(FunctionName=function)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise FeedbackDownloadError(
                f"no Lambda function {function!r} here (DBP_REGION, DBP_ENDPOINT_NAME): deploy the stack "
                "with `invoke infra --target aws` first"
            ) from None
        raise FeedbackDownloadError(f"cannot read the Lambda function {function}: {exc}") from None
    except BotoCoreError as exc:
        raise FeedbackDownloadError(f"cannot read the Lambda function {function}: {exc}") from None
    bucket = str(config.get("Environment", {}).get("Variables", {}).get("FEEDBACK_BUCKET", ""))
    if not bucket:
        raise FeedbackDownloadError(
            f"the Lambda function {function} names no feedback bucket (FEEDBACK_BUCKET): "
            "apply the current stack"
        )
    return bucket


def collect(region: str, function: str, folder: Path) -> int:
    """``invoke feedback --target aws``: the new items of the bucket the stack's Lambda writes feedback to,
    downloaded into ``folder``; how many."""
    boto = boto_session(region)
    return download(boto.client("s3"), lambda_bucket(boto.client("lambda"), function), folder)
