"""A policy as moto can enforce it (its "emulator view"), and the resource check moto cannot make.

moto 5.2 with IAM enforcement (../shared/docs/FACTS.md) checks each call's action against the caller's
policies, but:

- it evaluates resources for S3, for IAM calls naming an existing role (against that role's ARN) and for
  ``sts:AssumeRole``; every other call is checked against resource ``*``, so an Allow scoped to ARNs never
  matches there. The view widens non-S3 Allow resources to ``*``; what the ARNs allow is checked apart,
  against the ORIGINAL policy (:func:`refused`, :func:`uncovered_resources`);
- it has no request context: a statement with a ``Condition`` counts as an explicit Deny. The view drops
  conditions (``iam:PassedToService``, ``iam:AWSServiceName``), which the emulator then does not check;
- the view keeps Deny statements as written: they take effect on the emulator where it evaluates resources
  (S3, IAM calls on an existing role), never elsewhere; the resource check evaluates them everywhere;
- it names some actions its own way: CloudWatch's as ``monitoring:<Operation>`` (the API's signing name),
  API Gateway v2's as ``apigateway:<Operation>`` where IAM has the HTTP verbs (``apigateway:POST``), and a
  few of S3's (``MOTO_S3_NAMES``; a bucket sub-resource moto does not know is named after the method:
  ``s3:ListBucket`` for a GET, ``s3:CreateBucket`` for a PUT). The view adds moto's names beside IAM's.

What the emulator cannot check at all: ``iam:PassRole`` (no API call of its own), the calls a service
makes on the caller's behalf with the caller's rights (API Gateway's log delivery, Application Auto
Scaling's alarms and ``UpdateEndpointWeightsAndCapacities``), and the trust policy's conditions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.session
from moto.iam.access_control import IAMPolicy, PermissionResult

Policy = dict[str, Any]

S3_ARN = "arn:aws:s3:::"
# IAM's action prefix -> the prefix moto checks (the API's signing name).
MOTO_PREFIXES = {"cloudwatch": "monitoring"}
# S3 actions moto checks under another name (moto/s3/responses.py ACTION_MAP): HeadBucket, which IAM
# authorizes as s3:ListBucket, and the public access block, which IAM calls the bucket's.
MOTO_S3_NAMES = {
    "s3:ListBucket": ["s3:HeadBucket"],
    "s3:GetBucketPublicAccessBlock": ["s3:GetPublicAccessBlock"],
    "s3:PutBucketPublicAccessBlock": ["s3:PutPublicAccessBlock", "s3:DeletePublicAccessBlock"],
}


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def statements(policy: Policy) -> list[dict[str, Any]]:
    """The policy's statements as a list, each ``Action`` and ``Resource`` as a list."""
    found = policy.get("Statement", [])
    result = []
    for statement in [found] if isinstance(found, dict) else found:
        statement = dict(statement)
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            if key in statement:
                statement[key] = _listed(statement[key])
        result.append(statement)
    return result


def _api_gateway_operations() -> dict[str, list[str]]:
    """HTTP verb -> API Gateway v2 operations that use it (botocore's model of the API)."""
    model = botocore.session.get_session().get_service_model("apigatewayv2")
    verbs: dict[str, list[str]] = {}
    for name in model.operation_names:
        verbs.setdefault(model.operation_model(name).http["method"], []).append(name)
    return verbs


def moto_actions(action: str) -> list[str]:
    """``action`` and the names moto checks for it (see the module's docstring)."""
    prefix, _, name = action.partition(":")
    if prefix == "apigateway" and name in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        return [action] + [f"apigateway:{op}" for op in _api_gateway_operations().get(name, [])]
    if prefix in MOTO_PREFIXES:
        return [action, f"{MOTO_PREFIXES[prefix]}:{name}"]
    return [action, *MOTO_S3_NAMES.get(action, [])]


def emulator_view(policy: Policy, without: Iterable[str] = ()) -> Policy:
    """The policy as moto can enforce it: Allow resources widened to ``*`` except S3's, conditions dropped,
    moto's action names added, Deny statements kept as written; the actions ``without`` left out."""
    removed = set(without)
    view = []
    for statement in statements(policy):
        statement.pop("Condition", None)
        if "Action" in statement:
            kept = [a for a in statement["Action"] if a not in removed]
            if not kept:
                continue
            statement["Action"] = [name for action in kept for name in moto_actions(action)]
        resources = statement.get("Resource", [])
        if statement.get("Effect") == "Allow" and any(not r.startswith(S3_ARN) for r in resources):
            statement["Resource"] = ["*"]
        view.append(statement)
    return {"Version": policy.get("Version", "2012-10-17"), "Statement": view}


# --- the resource check --------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One action on one resource, as a call made it (``resource`` is ``*`` for a call on none)."""

    action: str
    resource: str


def _without_conditions(policy: Policy) -> IAMPolicy:
    """moto's evaluator for ``policy`` with conditions dropped: the check is about resources only."""
    kept = [{k: v for k, v in s.items() if k != "Condition"} for s in statements(policy)]
    return IAMPolicy(json.dumps({"Version": "2012-10-17", "Statement": kept}))


def allows(policies: Sequence[Policy], call: Call) -> bool:
    """True when some policy allows ``call`` on its resource and none denies it (conditions not evaluated)."""
    results = [_without_conditions(p).is_action_permitted(call.action, call.resource) for p in policies]
    return PermissionResult.PERMITTED in results and PermissionResult.DENIED not in results


def refused(policies: Sequence[Policy], calls: Iterable[Call]) -> list[Call]:
    """The calls the ORIGINAL ``policies`` would not allow on AWS, by their resources and Deny statements."""
    return [call for call in dict.fromkeys(calls) if not allows(policies, call)]


# The action that creates each resource type of the repo's modules, which the resource check holds its ARN
# against. A type missing here is reported by the check, not skipped: add it.
CREATED_BY = {
    "aws_acm_certificate": "acm:RequestCertificate",
    "aws_apigatewayv2_api": "apigateway:POST",
    "aws_apigatewayv2_stage": "apigateway:POST",
    "aws_appautoscaling_target": "application-autoscaling:RegisterScalableTarget",
    "aws_cloudfront_distribution": "cloudfront:CreateDistribution",
    "aws_cloudfront_origin_access_control": "cloudfront:CreateOriginAccessControl",
    "aws_cloudfront_response_headers_policy": "cloudfront:CreateResponseHeadersPolicy",
    "aws_cloudwatch_dashboard": "cloudwatch:PutDashboard",
    "aws_cloudwatch_log_group": "logs:CreateLogGroup",
    "aws_cloudwatch_metric_alarm": "cloudwatch:PutMetricAlarm",
    "aws_iam_openid_connect_provider": "iam:CreateOpenIDConnectProvider",
    "aws_iam_policy": "iam:CreatePolicy",
    "aws_iam_role": "iam:CreateRole",
    "aws_lambda_function": "lambda:CreateFunction",
    "aws_s3_bucket": "s3:CreateBucket",
    "aws_s3_object": "s3:PutObject",
    "aws_sagemaker_model_package_group": "sagemaker:CreateModelPackageGroup",
    "aws_sns_topic": "sns:CreateTopic",
    "aws_wafv2_web_acl": "wafv2:CreateWebACL",
}
# Resources whose ARN is not what IAM authorizes: Application Auto Scaling authorizes a scaling policy
# (arn:aws:autoscaling:...:scalingPolicy:...) as its scalable target; an SNS subscription as its topic.
NOT_IAM_RESOURCES = ("aws_appautoscaling_policy", "aws_sns_topic_subscription")


def state_arns(state: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """``(type, address, arn)`` of each managed resource with an ARN in a Terraform state file (format 4:
    what ``terraform.tfstate`` or the S3 backend's object holds)."""
    for resource in state.get("resources", []):
        if resource.get("mode") != "managed" or resource["type"] in NOT_IAM_RESOURCES:
            continue
        prefix = ".".join(filter(None, [resource.get("module"), resource["type"], resource["name"]]))
        for instance in resource.get("instances", []):
            arn = instance.get("attributes", {}).get("arn")
            key = instance.get("index_key")
            address = prefix + (f"[{json.dumps(key)}]" if key is not None else "")
            if isinstance(arn, str) and arn.startswith("arn:"):
                yield resource["type"], address, arn


def uncovered_resources(policies: Sequence[Policy], state: dict[str, Any]) -> list[str]:
    """``address arn: action`` of each resource in ``state`` that the ORIGINAL ``policies`` would not let the
    principal create there (:data:`CREATED_BY`): where moto checked the action only, this checks the ARN."""
    missing = []
    for kind, address, arn in state_arns(state):
        action = CREATED_BY.get(kind)
        if action is None:
            missing.append(f"{address} {arn}: no creating action known for {kind} (add it to CREATED_BY)")
        elif not allows(policies, Call(action, arn)):
            missing.append(f"{address} {arn}: {action}")
    return missing


# S3 operations authorized under an action of another name (AWS's Service Authorization Reference).
S3_ACTIONS = {
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadBucket": "ListBucket",
    "HeadObject": "GetObject",
    "CreateMultipartUpload": "PutObject",
    "UploadPart": "PutObject",
    "CompleteMultipartUpload": "PutObject",
}


def call_resource(service: str, operation: str, params: dict[str, Any], region: str, account: str) -> str:
    """The ARN a boto3 call acts on, from its operation and parameters; ``*`` when it names none.

    SageMaker names its resources (``DeleteEndpointConfig(EndpointConfigName=...)`` acts on
    ``arn:aws:sagemaker:REGION:ACCOUNT:endpoint-config/<name, lower case>``; a new version of a model package
    group on ``model-package/<group>/*``); S3 by bucket and key; other
    services by a parameter ending in ``Arn``.
    """
    if service == "s3" and "Bucket" in params:
        return f"{S3_ARN}{params['Bucket']}" + (f"/{params['Key']}" if "Key" in params else "")
    if service == "lambda" and isinstance(name := params.get("FunctionName"), str):
        return name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
    group = params.get("ModelPackageGroupName")
    if service == "sagemaker" and operation == "CreateModelPackage" and isinstance(group, str):
        # a new version of the group: SageMaker numbers it, so any version of the group's ARN
        return f"arn:aws:sagemaker:{region}:{account}:model-package/{group.lower()}/*"
    match = re.fullmatch(r"(?:Create|Describe|Delete|Update|Stop|Add)([A-Z]\w*)", operation)
    name = params.get(f"{match.group(1)}Name") if service == "sagemaker" and match else None
    if isinstance(name, str):
        if name.startswith("arn:"):
            return name
        kind = re.sub(r"(?<!^)(?=[A-Z])", "-", match.group(1)).lower() if match else ""
        return f"arn:aws:sagemaker:{region}:{account}:{kind}/{name.lower()}"
    arns = [value for key, value in params.items() if key.lower().endswith("arn") and isinstance(value, str)]
    return arns[0] if arns else "*"


class CallRecorder:
    """Records the action and resource of every call made through a boto3 session or client's events.

    ``recorder.watch(session.events)`` (or ``client.meta.events``), run the code, then check
    ``refused(policies, recorder.calls)``. S3 calls are recorded too, though moto checks those itself.
    """

    def __init__(self, region: str, account: str) -> None:
        self.region = region
        self.account = account
        self.calls: list[Call] = []

    def watch(self, events: Any) -> None:
        """Record every call whose client was created from ``events`` (a session's) or uses them."""
        events.register("before-parameter-build", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        signing = model.service_model.signing_name
        prefix = next((iam for iam, moto in MOTO_PREFIXES.items() if moto == signing), signing)
        resource = call_resource(prefix, model.name, params, self.region, self.account)
        action = S3_ACTIONS.get(model.name, model.name) if prefix == "s3" else model.name
        self.calls.append(Call(f"{prefix}:{action}", resource))
