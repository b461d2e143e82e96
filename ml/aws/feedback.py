"""Download visitors' feedback from its bucket (``feedback/<day>/<id>.json``, lambda/feedback.py) into
``<build_dir>/feedback/items/`` (ml/feedback.py): the one way feedback reaches this machine, from AWS
(`invoke feedback --target aws`) or from the local stack's emulated S3 (`invoke up`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ml import feedback
from ml.errors import ProjectError
from ml.fsutil import write_text
from ml.lambda_src import contract


class FeedbackDownloadError(ProjectError):
    """The bucket cannot be listed or read; the message names it and why."""


def download(s3: Any, bucket: str, folder: Path) -> int:
    """Fetch every item of ``bucket`` not yet in ``folder`` (items are written once: an id's file never
    changes); return how many were new. An object that is not an item is skipped with its key logged."""
    new = 0
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=contract.FEEDBACK_PREFIX)
        for page in pages:
            for obj in page.get("Contents", []):
                item_id = obj["Key"].rsplit("/", 1)[-1].removesuffix(".json")
                target = feedback.item_path(folder, item_id)
                if not item_id.isalnum() or target.exists():
                    continue
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode("utf-8")
                write_text(target, body)
                try:
                    feedback.read_item(target)
                except feedback.FeedbackError:
                    target.unlink()
                    continue
                new += 1
    except (BotoCoreError, ClientError, UnicodeDecodeError) as exc:
        raise FeedbackDownloadError(f"cannot read the feedback bucket {bucket}: {exc}") from None
    return new
