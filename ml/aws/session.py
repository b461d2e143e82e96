"""One run's AWS session: boto3 and the SageMaker SDK, the account, role, bucket and image; S3 objects.

Everything that talks to AWS runs inside :func:`aws_errors`, which turns AWS failures into
:class:`SageMakerError` with a one-line message. Every client of a run comes from :func:`boto_session`
(the tests watch it). The SDK is imported only when needed: it takes seconds to import.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from ml.aws.config import AwsSettings
from ml.config import ConfigError, log
from ml.errors import ProjectError
from ml.fsutil import atomic_path, file_digest

EXECUTION_ROLE_SUFFIX = "sagemaker-execution"  # the role terraform/bootstrap creates: <endpoint name>-<this>
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$")


class SageMakerError(ProjectError):
    """An AWS call failed, or a training job or endpoint ended badly; the message says what to do."""


@contextmanager
def aws_errors() -> Iterator[None]:
    """Turn AWS client failures (no credentials, refused calls, unreachable service) into SageMakerError."""
    try:
        yield
    except NoCredentialsError:
        raise SageMakerError(
            "no AWS credentials found: run `aws configure` (or `aws sso login`), or set AWS_PROFILE, "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    except ProfileNotFound as exc:
        raise SageMakerError(
            f"no AWS profile named {exc.kwargs.get('profile')!r}: "
            "check AWS_PROFILE (`aws configure list-profiles`)"
        ) from None
    except ClientError as exc:
        raise SageMakerError(f"AWS refused the request: {exc}") from None
    except BotoCoreError as exc:
        raise SageMakerError(f"AWS could not be reached: {exc}") from None


def boto_session(region: str) -> boto3.Session:
    """The boto3 session every AWS call of a run goes through (credentials from the usual chain);
    SageMakerError when AWS_PROFILE names no profile."""
    with aws_errors():
        return boto3.Session(region_name=region)


@dataclass(frozen=True)
class Aws:
    """One run's AWS context: clients, the SDK session, where data goes, the role and the image."""

    boto: boto3.Session
    session: Any  # sagemaker.core.helper.session_helper.Session
    sagemaker: Any
    s3: Any
    bucket: str
    prefix: str
    role_arn: str
    image: str

    def uri(self, *parts: str) -> str:
        """``s3://<bucket>/<prefix>/<parts…>``."""
        return "/".join([f"s3://{self.bucket}", self.prefix, *parts])


def check_role_arn(role_arn: str) -> None:
    """ConfigError unless ``role_arn`` is empty (the default role) or an IAM role ARN."""
    if role_arn and not _ROLE_ARN.match(role_arn):
        raise ConfigError(
            "setting 'role_arn' must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), "
            f"not {role_arn!r}"
        )


def execution_role_arn(role_arn: str, endpoint_name: str, caller_arn: str) -> str:
    """``role_arn``, else the role terraform/bootstrap creates, ``<endpoint_name>-sagemaker-execution``, in
    the caller's account and partition (``caller_arn`` is STS's answer)."""
    if role_arn:
        return role_arn
    partition, account = caller_arn.split(":")[1], caller_arn.split(":")[4]
    return f"arn:{partition}:iam::{account}:role/{endpoint_name}-{EXECUTION_ROLE_SUFFIX}"


def blazingtext_image(region: str) -> str:
    """The BlazingText image of ``region`` (the SDK's table, offline); SageMakerError where there is none."""
    from sagemaker.core import image_uris

    try:
        return str(image_uris.retrieve("blazingtext", region))
    except ValueError:
        raise SageMakerError(
            f"region {region} has no SageMaker BlazingText image (sagemaker {metadata.version('sagemaker')} "
            "knows none there): pass --region with one that has it, e.g. us-east-1 or eu-west-1"
        ) from None


def connect(settings: AwsSettings) -> Aws:
    """Check the region, find the account and the role, make sure the bucket exists, resolve the image.

    The role is ``settings.role_arn``, else the stack's ``<endpoint_name>-sagemaker-execution`` in the
    caller's account (terraform/bootstrap creates it).

    Raises:
        ConfigError: a malformed role ARN, or no region.
        SageMakerError: the region has no BlazingText image.
        NoCredentialsError / ClientError: no credentials, or AWS refused (see :func:`aws_errors`).
    """
    check_role_arn(settings.role_arn)
    if not settings.region:
        raise ConfigError("setting 'region' is required for --target aws: set DBP_REGION or pass --region")
    image = blazingtext_image(settings.region)
    from sagemaker.core.helper.session_helper import Session

    boto = boto_session(settings.region)
    caller = boto.client("sts").get_caller_identity()
    account = caller["Account"]
    role_arn = execution_role_arn(settings.role_arn, settings.endpoint_name, caller["Arn"])
    bucket = settings.bucket or f"sagemaker-{settings.region}-{account}"
    # An explicit default bucket: the SDK would otherwise ask STS at the real regional URL for the account.
    session = Session(boto_session=boto, default_bucket=bucket)
    session.default_bucket()  # creates the bucket when it does not exist yet
    log.info(
        "AWS account %s, region %s, bucket %s, role %s, image %s",
        account,
        settings.region,
        bucket,
        role_arn,
        image,
    )
    return Aws(
        boto=boto,
        session=session,
        sagemaker=boto.client("sagemaker"),
        s3=boto.client("s3"),
        bucket=bucket,
        prefix=settings.s3_prefix.strip("/"),
        role_arn=role_arn,
        image=image,
    )


# --- S3 ------------------------------------------------------------------------------------------


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``; SageMakerError for anything else."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket or not key:
        raise SageMakerError(f"not an S3 object URL: {uri!r} (expected s3://bucket/key)")
    return bucket, key


def upload_if_changed(s3: Any, path: Path, uri: str, content_type: str = "text/plain") -> bool:
    """Upload ``path`` to ``uri`` unless the object there carries the same sha256; True when uploaded."""
    bucket, key = split_s3_uri(uri)
    digest = file_digest(path)
    try:
        stored = s3.head_object(Bucket=bucket, Key=key).get("Metadata", {}).get("sha256")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        stored = None
    if stored == digest:
        log.info("unchanged, not uploaded: %s", uri)
        return False
    s3.upload_file(
        str(path), bucket, key, ExtraArgs={"ContentType": content_type, "Metadata": {"sha256": digest}}
    )
    log.info("uploaded %s (%s bytes)", uri, f"{path.stat().st_size:,}")
    return True


def download(s3: Any, uri: str, dest: Path) -> Path:
    """Download an S3 object to ``dest`` atomically; SageMakerError when it is not there."""
    bucket, key = split_s3_uri(uri)
    try:
        with atomic_path(dest) as tmp:
            s3.download_file(bucket, key, str(tmp))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise SageMakerError(f"there is no object at {uri}") from None
        raise
    log.info("downloaded %s to %s", uri, dest)
    return dest
