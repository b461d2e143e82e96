"""The rules a plan must pass before it is applied: one file, plain Python, run by ``invoke plan``.

A rule is a function of the plan (ops/infra/plan_json.py; its IAM statements: ops/infra/review.py) that
yields one readable reason per violation; ``@rule`` registers it under an id. To add one, write a function
here with ``@rule("my-id")`` and a test in tests/infra/test_policy.py that plans a configuration breaking it
(docs/plan-review.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ml.errors import ProjectError
from ml.lambda_src import contract
from ops.infra.plan_json import Plan, ResourceChange, references
from ops.infra.review import Statement, statements, waf_rate_rules

Rule = Callable[[Plan], Iterator[str]]
RULES: dict[str, Rule] = {}

# What the Lambda's role may do: invoke the one endpoint, write its own log streams.
LAMBDA_ENDPOINT_ACTIONS = {"sagemaker:InvokeEndpoint"}
LAMBDA_LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}
LAMBDA_FEEDBACK_ACTIONS = {"s3:PutObject"}  # visitors' feedback, under its prefix of a bucket of the plan
# Before apply the bucket's ARN is unknown and the plan shows the whole value as the reference (the
# "/feedback/*" after it is not in the plan); after, the ARN itself (docs/plan-review.md).
FEEDBACK_OBJECTS = re.compile(
    rf"<aws_s3_bucket\.[\w-]+\.arn>|arn:aws[a-z-]*:s3:::[a-z0-9.-]+/{re.escape(contract.FEEDBACK_PREFIX)}\*"
)


class PolicyError(ProjectError):
    """The plan breaks policy rules; the message holds one line per violation."""


@dataclass(frozen=True)
class Violation:
    """One rule broken, with the reason."""

    rule: str
    reason: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.reason}"


def rule(rule_id: str) -> Callable[[Rule], Rule]:
    """Register a rule under ``rule_id`` (its docstring says what it holds)."""

    def register(check: Rule) -> Rule:
        RULES[rule_id] = check
        return check

    return register


def check(plan: Plan) -> list[Violation]:
    """Every violation of every rule, in rule order."""
    return [Violation(rule_id, reason) for rule_id, check in RULES.items() for reason in check(plan)]


def error(violations: Sequence[Violation], report: str) -> PolicyError:
    """The error a task ends with: a count, where the report is, and one line per violation."""
    lines = "\n".join(f"  {v}" for v in violations)
    return PolicyError(f"the plan has {len(violations)} policy violation(s) ({report} lists them):\n{lines}")


def render(violations: Sequence[Violation]) -> str:
    """The report's policy section: every violation, or that every rule passed."""
    if not violations:
        return f"#### Policy\n\nAll {len(RULES)} rules pass: {', '.join(f'`{r}`' for r in RULES)}.\n"
    lines = [f"- `{v.rule}`: {v.reason}" for v in violations]
    return f"#### Policy\n\n**{len(violations)} violation(s): do not apply.**\n\n" + "\n".join(lines) + "\n"


# --- the rules we hold ourselves to ------------------------------------------------------------


def _wildcard(action: str) -> bool:
    return "*" in action


@rule("no-wildcard-actions")
def no_wildcard_actions(plan: Plan) -> Iterator[str]:
    """No Allow statement grants an action with a wildcard, or everything but some (NotAction)."""
    for s in statements(plan):
        if s.effect != "Allow":
            continue
        wild = [a for a in s.actions if _wildcard(a)]
        if wild:
            yield f"{s.source} allows wildcard action(s) {', '.join(wild)}"
        if "NotAction" in s.negated or "not_actions" in s.negated:
            yield f"{s.source} allows every action but some (NotAction)"


def _role_address(resource: ResourceChange, attribute: str) -> str | None:
    """The ``aws_iam_role`` whose attribute sets ``attribute`` of ``resource``."""
    for source in resource.expressions.get(attribute, {}).get("references", []):
        if source.startswith("aws_iam_role.") and source.count(".") == 1:
            return source
    return None


@rule("lambda-role-least-privilege")
def lambda_role_least_privilege(plan: Plan) -> Iterator[str]:
    """A Lambda's role may only invoke the ``endpoint_arn`` endpoint, write to the function's log group, and
    put feedback objects under ``feedback/`` of a bucket of this plan."""
    endpoint = plan.variables.get("endpoint_arn")
    for fn in plan.of_type("aws_lambda_function"):
        role = _role_address(fn, "role")
        if role is None:
            yield f"{fn.address}: its role is not a role of this plan, so it cannot be checked"
            continue
        name = fn.after.get("function_name")
        log_groups = {
            g.address
            for g in plan.of_type("aws_cloudwatch_log_group")
            if g.after.get("name") == f"/aws/lambda/{name}"
        }
        for attachment in plan.of_type("aws_iam_role_policy_attachment"):
            if attachment.refers_to("role", role) or attachment.after.get("role") == role.split(".")[1]:
                yield f"{attachment.address} attaches {attachment.after.get('policy_arn')} to {role}"
        for policy in plan.of_type("aws_iam_role_policy"):
            if policy.refers_to("role", role):
                for s in statements(plan):
                    if s.source == policy.address:
                        yield from _lambda_statement(s, role, endpoint, name, log_groups)


def _lambda_statement(
    s: Statement, role: str, endpoint: object, function: object, log_groups: set[str]
) -> Iterator[str]:
    if s.effect != "Allow":
        return
    actions = set(s.actions)
    if actions <= LAMBDA_ENDPOINT_ACTIONS:
        if set(s.resources) != {endpoint}:
            yield f"{s.source} lets {role} invoke {', '.join(s.resources)}, not only the endpoint {endpoint}"
    elif actions <= LAMBDA_LOG_ACTIONS:
        own = re.compile(
            rf"arn:aws[a-z-]*:logs:[^:]+:\d+:log-group:/aws/lambda/{re.escape(str(function))}:\*"
        )
        for target in s.resources:
            from_own_group = any(f"<{group}.arn>" in target for group in log_groups)
            if not (from_own_group or own.fullmatch(target)):
                yield f"{s.source} lets {role} write logs to {target}, not only to /aws/lambda/{function}"
    elif actions <= LAMBDA_FEEDBACK_ACTIONS:
        for target in s.resources:
            if not FEEDBACK_OBJECTS.fullmatch(target):
                where = f"not only under {contract.FEEDBACK_PREFIX} of a bucket of this plan"
                yield f"{s.source} lets {role} put objects in {target}, {where}"
    else:
        allowed = LAMBDA_ENDPOINT_ACTIONS | LAMBDA_LOG_ACTIONS | LAMBDA_FEEDBACK_ACTIONS
        extra = sorted(actions - allowed) or sorted(actions)
        yield (
            f"{s.source} grants {role} {', '.join(extra)}: only the endpoint, its own logs and feedback "
            "objects are allowed"
        )


def _fronted(api: ResourceChange, plan: Plan) -> bool:
    """True when a CloudFront distribution of this plan has a custom origin that is (or may be) this API.

    At the first plan both the API's host and the origin's domain are known only after apply; the origin
    then counts as the API's when it is an unknown custom origin (docs/plan-review.md).
    """
    endpoint = api.value("api_endpoint")
    host = endpoint.removeprefix("https://") if isinstance(endpoint, str) else None
    for dist in plan.of_type("aws_cloudfront_distribution"):
        origins = dist.after.get("origin") or []
        unknown = dist.after_unknown.get("origin") or []
        for i, origin in enumerate(origins):
            if not origin.get("custom_origin_config"):
                continue
            flags = unknown[i] if i < len(unknown) and isinstance(unknown[i], dict) else {}
            domain = None if flags.get("domain_name") is True else origin.get("domain_name")
            if domain is None or host is None or domain == host:
                return True
    return False


@rule("nothing-public-but-the-edge")
def nothing_public_but_the_edge(plan: Plan) -> Iterator[str]:
    """Only a CloudFront distribution with a WAF web ACL faces the public: no S3 website, no public bucket
    policy or open public-access block, no open Lambda URL or permission, no open route outside the edge."""
    for dist in plan.of_type("aws_cloudfront_distribution"):
        if not dist.value("web_acl_id"):
            yield f"{dist.address} has no WAF web ACL"
    for site in plan.of_type("aws_s3_bucket_website_configuration"):
        yield f"{site.address} serves a bucket as a public S3 website"
    for block in plan.of_type("aws_s3_bucket_public_access_block"):
        for name in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        ):
            if block.after.get(name) is False:
                yield f"{block.address} sets {name} = false"
    for s in statements(plan):
        if s.kind == "resource" and s.public:
            yield f"{s.source} grants {', '.join(s.actions)} to anyone (principal *)"
    for url in plan.of_type("aws_lambda_function_url"):
        if url.after.get("authorization_type") == "NONE":
            yield f"{url.address} is a Lambda URL without authorization"
    apis = {api.address: api for api in plan.of_type("aws_apigatewayv2_api")}
    for route in plan.of_type("aws_apigatewayv2_route"):
        api = next((apis[r] for r in references(route.expressions.get("api_id")) if r in apis), None)
        open_route = (route.after.get("authorization_type") or "NONE") == "NONE"
        if open_route and not route.after.get("api_key_required") and not (api and _fronted(api, plan)):
            yield (
                f"{route.address} ({route.after.get('route_key')}) is open to anyone and no CloudFront "
                "distribution of this plan fronts its API"
            )


@rule("limits-above-zero")
def limits_above_zero(plan: Plan) -> Iterator[str]:
    """Every API stage is throttled above zero, every WAF rate rule limits above zero, no Lambda is frozen
    at zero reserved concurrency."""
    for stage in plan.of_type("aws_apigatewayv2_stage"):
        settings = stage.after.get("default_route_settings") or []
        if not settings:
            yield f"{stage.address} has no throttling"
        for s in settings + (stage.after.get("route_settings") or []):
            for name in ("throttling_burst_limit", "throttling_rate_limit"):
                if not (s.get(name) or 0) > 0:
                    yield f"{stage.address} sets {name} = {s.get(name)}"
    for acl in plan.of_type("aws_wafv2_web_acl"):
        rates = waf_rate_rules(acl)
        if not rates:
            yield f"{acl.address} has no rate-based rule"
        for waf_rule, rate in rates:
            if not (rate.get("limit") or 0) > 0:
                yield f"{acl.address} rule {waf_rule.get('name')} has rate limit {rate.get('limit')}"
    for fn in plan.of_type("aws_lambda_function"):
        if fn.after.get("reserved_concurrent_executions") == 0:
            yield f"{fn.address} reserves 0 concurrent executions (it could never run)"
