"""``invoke preflight --target aws``, and the check that opens train, tune, plan and infra on AWS.

The SageMaker checks (credentials, region, execution role, quotas) are ml/aws/preflight.py's; this module
adds Terraform's: the state bucket and its lock answer (a note without ``terraform/backend.tf``), every name
derived from the stack name fits its AWS limit, and a note on what cannot be checked (CloudFront's account
verification). One line each; the task exits 1 when one failed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ml.aws import preflight as sagemaker_checks
from ml.aws.preflight import Check
from ml.aws.session import EXECUTION_ROLE_SUFFIX
from ops.settings import Settings

Echo = Callable[[str], None]
# The site bucket's bucket_prefix (terraform/site.tf): S3 allows 63 characters and Terraform appends 26.
BUCKET_PREFIX_MAX = 63 - 26
# terraform/variables.tf `name` (and terraform/bootstrap's): what every name below derives from.
STACK_NAME = re.compile(r"^[a-z][a-z0-9-]{1,29}[a-z0-9]$")
SHA16 = "0" * 16
# (what, name made from the stack name, AWS's limit): terraform/, its bootstrap/ and ci-role/, ml/aws.
NAMES: tuple[tuple[str, str, int], ...] = (
    ("site bucket prefix (S3, less Terraform's 26-character suffix)", "{}-site-", BUCKET_PREFIX_MAX),
    ("Lambda function", "{}", 64),
    ("Lambda role", "{}-lambda", 64),
    ("SageMaker execution role", "{}-" + EXECUTION_ROLE_SUFFIX, 64),
    ("CI deploy role", "{}-ci-deploy", 64),
    ("ML engineer policy", "{}-ml-engineer", 128),
    ("CloudFront origin access control", "{}-site", 64),
    ("CloudFront response headers policy", "{}-security-headers", 128),
    ("WAF web ACL", "{}-edge", 128),
    ("WAF metric", "{}-aws-common-rule-set", 128),
    ("CloudWatch alarm", "{}-endpoint-model-latency-p99", 255),
    ("SNS topic", "{}-alarms", 256),
    ("SageMaker endpoint and model package group", "{}", 63),
    # ml/aws/deploy.py cuts a longer name, and the ML engineer's grant on model/<name>-* then misses it.
    ("SageMaker model", "{}-" + SHA16, 63),
)
# What training and deploying the endpoint name without a stack: the default role, the endpoint, the models.
SAGEMAKER_NAMES = tuple(n for n in NAMES if n[0].startswith("SageMaker"))
CLOUDFRONT_NOTE = (
    "CloudFront needs a verified account: a new account may get AccessDenied from CreateDistribution until "
    "AWS Support verifies it (open a case before the first `invoke infra --target aws`)"
)


def name_checks(stack: str, names: tuple[tuple[str, str, int], ...] = NAMES) -> list[Check]:
    """The names made from the stack name against their AWS limits; one line when all fit.

    With every name (the stack's), the stack name must also be what terraform/ accepts as ``name``.
    """
    problems = [
        f"{what} {pattern.format(stack)!r} has {len(pattern.format(stack))} characters, at most {limit}"
        for what, pattern, limit in names
        if len(pattern.format(stack)) > limit
    ]
    if names == NAMES and not STACK_NAME.match(stack):
        problems.insert(0, f"{stack!r} is not 3-31 lower-case letters, digits and hyphens")
    if problems:
        longest = min(limit - len(pattern.format("")) for _, pattern, limit in names)
        return [
            Check(
                "names",
                False,
                f"stack name {stack!r}: {'; '.join(problems)}: pass --endpoint-name with one of at most "
                f"{longest} lower-case letters, digits and hyphens",
            )
        ]
    return [Check("names", True, f"every name made from {stack!r} fits its AWS limit")]


def backend(terraform_dir: Path) -> dict[str, str] | None:
    """The S3 backend's bucket, key and region from ``backend.tf``; None without one."""
    path = terraform_dir / "backend.tf"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    found = {
        key: match.group(1)
        for key in ("bucket", "key", "region")
        if (match := re.search(rf'^\s*{key}\s*=\s*"([^"]*)"', text, re.M))
    }
    return found


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def state_checks(s3: Any, config: dict[str, str]) -> list[Check]:
    """The state bucket answers, the state and its lock file can be read (the lock is not written)."""
    bucket, key = config.get("bucket", ""), config.get("key", "")
    if not bucket or not key:
        return [
            Check(
                "state", False, "terraform/backend.tf names no bucket or key: fill it in (backend.tf.example)"
            )
        ]
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = _code(exc)
        what = "does not exist" if code in ("404", "NoSuchBucket") else f"refused HeadBucket ({code})"
        return [
            Check(
                "state",
                False,
                f"bucket {bucket} {what}: create it (versioned, encrypted) or fix terraform/backend.tf, "
                "and allow s3:ListBucket on it",
            )
        ]
    for name, item in (("state", key), ("state lock", f"{key}.tflock")):
        try:
            s3.head_object(Bucket=bucket, Key=item)
        except ClientError as exc:
            if _code(exc) not in ("404", "NoSuchKey", "NotFound"):
                return [
                    Check(
                        name, False, f"s3://{bucket}/{item} refused ({_code(exc)}): allow s3:GetObject on it"
                    )
                ]
        else:
            if name == "state lock":
                return [
                    Check(
                        name,
                        False,
                        f"s3://{bucket}/{item} exists: another plan or apply holds the lock; wait for it "
                        "(or `terraform force-unlock` once you know it died)",
                    )
                ]
    return [
        Check("state", True, f"s3://{bucket}/{key} answers, and its lock is free"),
        Check(
            "state lock",
            None,
            f"s3:PutObject and s3:DeleteObject on s3://{bucket}/{key}.tflock are not tried (writing it would "
            "take the lock): without them init/plan stop with AccessDenied on that key",
        ),
    ]


# Without backend.tf Terraform keeps the state in this checkout: a stack CI applied is not seen from here.
NO_BACKEND_NOTE = (
    "no terraform/backend.tf: the state stays in this checkout, so a stack the workflows applied is not seen "
    "(plan would create it again, destroy would remove nothing): copy backend.tf.example to backend.tf with "
    "CI's state bucket, key and region first"
)


def stack_checks(settings: Settings, session: Any) -> list[Check]:
    """Terraform's checks: the state (a note without an S3 backend), the names, the CloudFront note."""
    found: list[Check] = []
    config = backend(settings.terraform_dir)
    if config is None:
        found.append(Check("state", None, NO_BACKEND_NOTE))
    else:
        s3 = session.client("s3", region_name=config.get("region") or settings.region)
        try:
            found += state_checks(s3, config)
        except BotoCoreError as exc:
            found.append(Check("state", False, f"S3 could not be reached ({exc})"))
    found += name_checks(settings.endpoint_name)
    found.append(Check("CloudFront", None, CLOUDFRONT_NOTE))
    return found


def run(settings: Settings, commands: Iterable[str], echo: Echo = print) -> list[Check]:
    """Run the checks ``commands`` need (train, tune, classify: SageMaker's; plan, infra: Terraform's),
    print them, and raise PreflightError when one failed."""
    commands = set(commands)
    session = boto3.Session(region_name=settings.region)
    sagemaker = commands & set(sagemaker_checks.COMMANDS)
    if sagemaker:
        found, identity = sagemaker_checks.checks(session, settings, sagemaker)
    else:
        check, identity = sagemaker_checks.caller(session)
        found = [check]
    if commands & {"plan", "infra"} and identity is not None:
        found += stack_checks(settings, session)
    elif identity is not None:
        found += name_checks(settings.endpoint_name, SAGEMAKER_NAMES)
    sagemaker_checks.report(found, echo)
    return found
