"""The SageMaker half of ``invoke preflight --target aws``: what AWS would refuse, found before it bills.

Each check gives one :class:`Check`: passed, failed (with what to do), or a note for what cannot be checked
from here. The checks: the caller's credentials and account (STS); the region has a BlazingText image; the
execution role exists, trusts SageMaker and holds what the SDK's role check simulates (sagemaker-core
``IAM_POLICY_CONFIG["training"]``, the statements on ``*``) and what the project needs on its own resources,
asked of IAM with ``iam:SimulatePrincipalPolicy``, as the SDK asks; the account's Service Quotas for the
training, endpoint (twice the instances: a blue/green update runs both fleets) and transform instances and
tuning's parallel jobs. The Terraform half (state, names) is ops/infra/preflight.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ml.aws.config import AwsSettings
from ml.aws.session import SageMakerError, blazingtext_image, execution_role_arn
from ml.config import log
from ml.errors import ProjectError

SERVICE = "sagemaker.amazonaws.com"
ROLE_TYPE = "training"
# IAM shows a new role to every reader within seconds: GetRole is retried this long (point 8 of issue #24).
ROLE_RETRY_SECONDS = (2.0, 4.0, 8.0, 16.0)
BOOTSTRAP = "apply terraform/bootstrap (README.md, Deploying to AWS)"
QUOTAS_CONSOLE = "Service Quotas console, Amazon SageMaker"
ALARM_SUFFIXES = ("endpoint-5xx", "endpoint-model-latency-p99")  # terraform/monitoring.tf, after <name>-
COMMANDS = ("train", "tune", "classify")


class PreflightError(ProjectError):
    """A preflight check failed; the lines above the message say which and what to do."""


@dataclass(frozen=True)
class Check:
    """One check's verdict: True passed, False failed, None a note (cannot be checked from here)."""

    what: str
    ok: bool | None
    detail: str

    def line(self) -> str:
        """``ok   what: detail``, ``FAIL what: detail`` or ``note what: detail``."""
        mark = {True: "ok  ", False: "FAIL", None: "note"}[self.ok]
        return f"{mark} {self.what}: {self.detail}"


def report(checks: Iterable[Check], echo: Callable[[str], None] = print) -> None:
    """Print one line per check; PreflightError naming the failed ones when any failed."""
    checks = list(checks)
    for check in checks:
        echo(check.line())
    failed = [check.what for check in checks if check.ok is False]
    if failed:
        raise PreflightError(
            f"preflight: {len(failed)} of {len(checks)} checks failed ({', '.join(dict.fromkeys(failed))}): "
            "fix them as the lines above say; nothing was started"
        )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _denied(exc: ClientError) -> bool:
    return _code(exc) in ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation")


# --- credentials and region ------------------------------------------------------------------------


def caller(session: Any) -> tuple[Check, dict[str, str] | None]:
    """Who the credentials are (STS GetCallerIdentity, which needs no permission)."""
    try:
        identity = session.client("sts").get_caller_identity()
    except NoCredentialsError:
        return Check(
            "credentials",
            False,
            "no AWS credentials found: run `aws configure` (or `aws sso login`), or set AWS_PROFILE",
        ), None
    except (ClientError, BotoCoreError) as exc:
        return Check("credentials", False, f"STS refused them ({exc}): renew them (`aws sso login`)"), None
    return Check("credentials", True, f"account {identity['Account']} as {identity['Arn']}"), identity


def region_image(region: str) -> Check:
    """The region has a BlazingText image (the SDK's table)."""
    try:
        return Check("region", True, f"{region} has BlazingText ({blazingtext_image(region)})")
    except SageMakerError as exc:
        return Check("region", False, str(exc))


# --- the execution role ----------------------------------------------------------------------------


def sdk_role_check_actions() -> list[str]:
    """The actions the SDK's role check simulates: those of ``IAM_POLICY_CONFIG["training"]`` granted on *.

    sagemaker-core's ``resolve_and_validate_role`` gates on exactly these (its ``_get_smoke_test_actions``);
    a role denied one fails with RoleValidationError before a training job starts.
    """
    from sagemaker.core.helper.iam_policies import IAM_POLICY_CONFIG

    actions: list[str] = []
    for document in IAM_POLICY_CONFIG[ROLE_TYPE]["policies"].values():
        for statement in document.get("Statement", []):
            resource = statement.get("Resource")
            if resource == "*" or (isinstance(resource, list) and "*" in resource):
                named = statement.get("Action", [])
                actions += [named] if isinstance(named, str) else list(named)
    return actions


def project_needs(settings: AwsSettings, bucket: str, account: str) -> list[tuple[list[str], str]]:
    """What SageMaker does as the role for this project, as (actions, resource ARN) pairs to simulate."""
    prefix = settings.s3_prefix.strip("/")
    logs = f"arn:aws:logs:{settings.region}:{account}:log-group:/aws/sagemaker"
    alarm = (
        f"arn:aws:cloudwatch:{settings.region}:{account}:alarm:{settings.endpoint_name}-{ALARM_SUFFIXES[0]}"
    )
    return [
        (["s3:ListBucket", "s3:GetBucketLocation"], f"arn:aws:s3:::{bucket}"),
        *[
            (["s3:GetObject", "s3:PutObject"], f"arn:aws:s3:::{bucket}/{prefix}/{folder}/preflight")
            for folder in ("data", "output", "transform", "models")
        ],
        (
            ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            f"arn:aws:ecr:{settings.region}:{blazingtext_image(settings.region).split('.')[0]}:repository/blazingtext",
        ),
        *[
            (["logs:CreateLogStream", "logs:PutLogEvents"], f"{logs}/{group}:log-stream:preflight")
            for group in ("TrainingJobs", "TransformJobs", f"Endpoints/{settings.endpoint_name}")
        ],
        (["cloudwatch:DescribeAlarms"], alarm),  # deployment guardrails read the alarms as the role
    ]


def get_role(iam: Any, name: str, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """The role ``name``, looked for again while IAM may be propagating a new one (ClientError after that)."""
    for delay in ROLE_RETRY_SECONDS:
        try:
            return dict(iam.get_role(RoleName=name)["Role"])
        except ClientError as exc:
            if _code(exc) not in ("NoSuchEntity", "NoSuchEntityException"):
                raise
            log.info(
                "role %s not found (yet?): IAM may still be propagating it; retrying in %gs", name, delay
            )
            sleep(delay)
    return dict(iam.get_role(RoleName=name)["Role"])  # the last look: its error is the caller's


def trusts_sagemaker(role: dict[str, Any]) -> bool:
    """The role's trust policy lets sagemaker.amazonaws.com assume it."""
    document = role.get("AssumeRolePolicyDocument") or {}
    if isinstance(document, str):
        document = json.loads(unquote(document))
    for statement in document.get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        services = (statement.get("Principal") or {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        if statement.get("Effect") == "Allow" and "sts:AssumeRole" in actions and SERVICE in services:
            return True
    return False


def denied_actions(iam: Any, role_arn: str, actions: list[str], resource: str | None = None) -> list[str]:
    """The actions IAM's policy simulator does not allow ``role_arn`` (on ``resource``, else on *)."""
    extra = {"ResourceArns": [resource]} if resource else {}
    denied: list[str] = []
    for page in iam.get_paginator("simulate_principal_policy").paginate(
        PolicySourceArn=role_arn, ActionNames=actions, **extra
    ):
        denied += [r["EvalActionName"] for r in page["EvaluationResults"] if r["EvalDecision"] != "allowed"]
    return denied


def execution_role(
    session: Any, settings: AwsSettings, identity: dict[str, str], sleep: Callable[[float], None] = time.sleep
) -> list[Check]:
    """The role exists and trusts SageMaker, passes the SDK's check, and may do what the project needs."""
    role_arn = execution_role_arn(settings.role_arn, settings.endpoint_name, identity["Arn"])
    name = role_arn.rsplit("/", 1)[1]
    iam = session.client("iam")
    try:
        role = get_role(iam, name, sleep)
    except ClientError as exc:
        if _denied(exc):
            return [
                Check("execution role", None, f"cannot read {role_arn} (iam:GetRole refused): not checked")
            ]
        if _code(exc) in ("NoSuchEntity", "NoSuchEntityException"):
            hint = "pass --role-arn with yours" if settings.role_arn else f"{BOOTSTRAP}, or pass --role-arn"
            return [Check("execution role", False, f"{role_arn} does not exist: {hint}")]
        raise
    if not trusts_sagemaker(role):
        return [Check("execution role", False, f"{role_arn} does not trust {SERVICE}: {BOOTSTRAP}")]
    bucket = settings.bucket or f"sagemaker-{settings.region}-{identity['Account']}"
    asks = [(sdk_role_check_actions(), None), *project_needs(settings, bucket, identity["Account"])]
    try:
        missing = [(a, r) for actions, r in asks for a in denied_actions(iam, role_arn, actions, r)]
    except ClientError as exc:
        if not _denied(exc):
            raise
        return [
            Check("execution role", True, f"{role_arn} exists and trusts {SERVICE}"),
            Check(
                "role permissions",
                None,
                "cannot simulate its policies (iam:SimulatePrincipalPolicy refused): not checked; the SDK "
                "skips its own check then too",
            ),
        ]
    if missing:
        named = ", ".join(f"{a}" + (f" on {r}" if r else "") for a, r in missing)
        fix = (
            "grant them (terraform/bootstrap's role has them)" if settings.role_arn else f"{BOOTSTRAP} again"
        )
        return [Check("execution role", False, f"{role_arn} is denied {named}: {fix}")]
    return [
        Check(
            "execution role",
            True,
            f"{role_arn} trusts {SERVICE}, passes the SDK's role check and reaches s3://{bucket}/"
            f"{settings.s3_prefix.strip('/')}/, the image, its logs and the endpoint's alarms",
        )
    ]


# --- Service Quotas --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Need:
    """Instances a command needs at once of one quota, and what to say when the quota is lower."""

    what: str
    quota: str  # the quota's name in Service Quotas
    count: int
    otherwise: str  # what else the user can do


def quota_needs(settings: AwsSettings, commands: Iterable[str]) -> list[Need]:
    """The quotas ``commands`` (train, tune, classify) need; a blue/green update runs two fleets at once."""
    commands = set(commands)
    training = f"{settings.training_instance_type} for training job usage"
    needs = []
    if commands & {"train", "tune"}:
        parallel = settings.tune_max_parallel_jobs if "tune" in commands else 1
        what = f"tuning's {parallel} parallel jobs" if parallel > 1 else "training"
        needs.append(Need(what, training, parallel, "or pass --training-instance-type with another type"))
    if "train" in commands and settings.endpoint_mode == "instance":
        needs.append(
            Need(
                f"the endpoint ({settings.instance_count} instances, twice during a blue/green update)",
                f"{settings.instance_type} for endpoint usage",
                2 * settings.instance_count,
                "or pass --instance-type / --instance-count",
            )
        )
    if "classify" in commands:
        needs.append(
            Need(
                "Batch Transform",
                f"{settings.transform_instance_type} for transform job usage",
                settings.transform_instance_count,
                "or set DBP_TRANSFORM_INSTANCE_TYPE / DBP_TRANSFORM_INSTANCE_COUNT",
            )
        )
    return needs


def quota_values(client: Any) -> dict[str, float] | None:
    """SageMaker's quotas for this account and region by name, the applied ones over AWS's defaults; None
    when Service Quotas refuses both lists."""
    values: dict[str, float] = {}
    refused = 0
    for operation in ("list_aws_default_service_quotas", "list_service_quotas"):
        try:
            for page in client.get_paginator(operation).paginate(ServiceCode="sagemaker"):
                values |= {q["QuotaName"]: float(q["Value"]) for q in page["Quotas"]}
        except ClientError as exc:
            if not _denied(exc):
                raise
            refused += 1
    return None if refused == 2 else values


def quotas(session: Any, settings: AwsSettings, commands: Iterable[str]) -> list[Check]:
    """One check per quota the commands need: enough instances of each type at once."""
    needs = quota_needs(settings, commands)
    if not needs:
        return []
    values = quota_values(session.client("service-quotas"))
    if values is None:
        names = "; ".join(f"'{n.quota}' at least {n.count}" for n in needs)
        return [
            Check("quota", None, f"Service Quotas refused the lists: check {names} in the {QUOTAS_CONSOLE}")
        ]
    checks = []
    for need in needs:
        value = values.get(need.quota)
        if value is None:
            checks.append(Check("quota", None, f"Service Quotas lists no '{need.quota}': check the console"))
        elif value < need.count:
            checks.append(
                Check(
                    "quota",
                    False,
                    f"'{need.quota}' is {value:g}, {need.what} needs {need.count}: request {need.count} "
                    f"in the {QUOTAS_CONSOLE} (new accounts start at 0 for many types), {need.otherwise}",
                )
            )
        else:
            checks.append(
                Check("quota", True, f"'{need.quota}' is {value:g}, {need.what} needs {need.count}")
            )
    return checks


def checks(
    session: Any,
    settings: AwsSettings,
    commands: Iterable[str] = COMMANDS,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[list[Check], dict[str, str] | None]:
    """Every SageMaker check for ``commands``, and the caller's identity (None without credentials)."""
    found, identity = caller(session)
    image = region_image(settings.region)
    done = [found, image]
    if identity is not None and image.ok:
        done += execution_role(session, settings, identity, sleep)
        done += quotas(session, settings, commands)
    return done, identity
