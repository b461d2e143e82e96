"""What moto_server lacks for ``invoke preflight``, answered in front of it: IAM's policy simulator and
SageMaker's Service Quotas.

moto 5.2 answers ``iam:SimulatePrincipalPolicy`` with a 500, and its Service Quotas know only the ``vpc``
service (``ListServiceQuotas`` is missing, ``ListAWSDefaultServiceQuotas`` refuses ``sagemaker``). Point
``AWS_ENDPOINT_URL_IAM`` and ``AWS_ENDPOINT_URL_SERVICE_QUOTAS`` at :class:`PreflightGapProxy` (``env``) and
it answers exactly those: a simulation evaluates the role's own policies, read from moto, with moto's own
evaluator (``moto.iam.access_control``), statement by statement; SageMaker's quotas come from the tables the
caller sets (:attr:`applied`, :attr:`defaults`). Every other request goes to moto unchanged, with the Host
the client signed, so it also works with moto's IAM enforcement on (give it an admin's ``credentials`` then).
"""

from __future__ import annotations

import json
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import boto3
from moto.iam.access_control import IAMPolicyStatement, PermissionResult

from ops.infra.moto_gaps import _SKIP_HEADERS, Reply, _LoopbackProxy, _send

_QUOTAS = "ServiceQuotasV20190624."  # X-Amz-Target of Service Quotas (JSON 1.1)
_IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"


class PreflightGapProxy(_LoopbackProxy):
    """A loopback proxy to ``upstream`` (a moto_server URL) for IAM and Service Quotas; see the module."""

    def __init__(
        self,
        upstream: str,
        region: str = "us-east-1",
        host: str = "127.0.0.1",
        credentials: tuple[str, str] = ("testing", "testing"),
    ) -> None:
        self.region = region
        self.credentials = (
            credentials  # whose keys read the role's policies (an admin's under IAM enforcement)
        )
        self.applied: dict[str, float] = {}  # quota name -> the account's value (ListServiceQuotas)
        self.defaults: dict[str, float] = {}  # quota name -> AWS's default (ListAWSDefaultServiceQuotas)
        super().__init__(upstream, host, "preflight-gap-proxy")

    @property
    def env(self) -> dict[str, str]:
        """The variables that send boto3's IAM and Service Quotas clients here."""
        return {"AWS_ENDPOINT_URL_IAM": self.url, "AWS_ENDPOINT_URL_SERVICE_QUOTAS": self.url}

    # --- iam:SimulatePrincipalPolicy ---------------------------------------------------------------

    def _documents(self, role_name: str) -> list[dict[str, Any]] | None:
        """The role's inline and attached policy documents, read from moto; None when there is no role."""
        iam = boto3.client(
            "iam",
            region_name=self.region,
            endpoint_url=self.upstream,
            aws_access_key_id=self.credentials[0],
            aws_secret_access_key=self.credentials[1],
        )
        try:
            iam.get_role(RoleName=role_name)
        except iam.exceptions.NoSuchEntityException:
            return None
        documents = [
            iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
            for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        ]
        for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
            version = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=version)
            documents.append(document["PolicyVersion"]["Document"])
        return [json.loads(d) if isinstance(d, str) else d for d in documents]

    @staticmethod
    def decide(documents: list[dict[str, Any]], action: str, resource: str, context: dict[str, str]) -> str:
        """IAM's decision: a matching Deny wins, else a matching Allow (its conditions met), else implicit."""
        allowed = False
        for document in documents:
            statements = document.get("Statement", [])
            for statement in statements if isinstance(statements, list) else [statements]:
                result = IAMPolicyStatement(statement).is_action_permitted(
                    action, resource, incoming_condition_values=context
                )
                if statement.get("Effect") == "Deny" and result == PermissionResult.DENIED:
                    return "explicitDeny"
                allowed = allowed or (
                    statement.get("Effect") == "Allow" and result == PermissionResult.PERMITTED
                )
        return "allowed" if allowed else "implicitDeny"

    def simulate(self, form: dict[str, list[str]]) -> Reply:
        """Answer SimulatePrincipalPolicy for a role: one result per action and resource."""
        source = form.get("PolicySourceArn", [""])[0]
        members = [k for k in form if k.startswith("ActionNames.member.")]
        actions = [form[k][0] for k in sorted(members, key=lambda k: int(k.rsplit(".", 1)[1]))]
        resources = [form[k][0] for k in form if k.startswith("ResourceArns.member.")] or ["*"]
        entry = "ContextEntries.member.{}.{}"
        context = {
            form[entry.format(n, "ContextKeyName")][0]: form[entry.format(n, "ContextKeyValues.member.1")][0]
            for n in range(1, 50)
            if entry.format(n, "ContextKeyName") in form
        }
        documents = self._documents(source.rsplit("/", 1)[-1]) if ":role/" in source else None
        if documents is None:
            return _iam_error(404, "NoSuchEntity", f"The role with name {source} cannot be found.")
        results = "".join(
            f"<member><EvalActionName>{escape(action)}</EvalActionName>"
            f"<EvalResourceName>{escape(resource)}</EvalResourceName>"
            f"<EvalDecision>{self.decide(documents, action, resource, context)}</EvalDecision>"
            "<MatchedStatements/><MissingContextValues/></member>"
            for action in actions
            for resource in resources
        )
        xml = (
            f'<SimulatePrincipalPolicyResponse xmlns="{_IAM_NS}"><SimulatePrincipalPolicyResult>'
            f"<IsTruncated>false</IsTruncated><EvaluationResults>{results}</EvaluationResults>"
            f"</SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId>"
            "</ResponseMetadata></SimulatePrincipalPolicyResponse>"
        )
        return 200, {"Content-Type": "text/xml"}, xml.encode()

    # --- Service Quotas ---------------------------------------------------------------------------

    def quotas(self, operation: str, request: dict[str, Any]) -> Reply | None:
        """SageMaker's applied or default quotas from the tables; None for anything else (moto's)."""
        table = {"ListServiceQuotas": self.applied, "ListAWSDefaultServiceQuotas": self.defaults}.get(
            operation
        )
        if table is None or request.get("ServiceCode") != "sagemaker":
            return None
        with self._lock:
            quotas = [
                {
                    "ServiceCode": "sagemaker",
                    "ServiceName": "Amazon SageMaker",
                    "QuotaCode": f"L-{index:08X}",
                    "QuotaName": name,
                    "Value": value,
                    "Unit": "None",
                    "Adjustable": True,
                    "GlobalQuota": False,
                }
                for index, (name, value) in enumerate(sorted(table.items()))
            ]
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps({"Quotas": quotas}).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                reply: Reply | None = None
                if target.startswith(_QUOTAS):
                    reply = proxy.quotas(target.removeprefix(_QUOTAS), json.loads(body or b"{}"))
                elif b"Action=SimulatePrincipalPolicy" in body:
                    reply = proxy.simulate(parse_qs(body.decode()))
                if (
                    reply is None
                ):  # the Host the client signed is kept: moto checks SigV4 under IAM enforcement
                    skip = _SKIP_HEADERS - {"host"}
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                    reply = proxy._forward(self.command, self.path, headers, body)
                _send(self, reply)

            do_GET = do_POST = _any

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: moto keeps its own log of the requests."""

        return Handler


def _iam_error(status: int, code: str, message: str) -> Reply:
    """IAM's query-protocol error document."""
    xml = (
        f'<ErrorResponse xmlns="{_IAM_NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error><RequestId>local</RequestId></ErrorResponse>"
    )
    return status, {"Content-Type": "text/xml"}, xml.encode()
