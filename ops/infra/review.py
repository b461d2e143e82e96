"""What a security reviewer must decide on, read from a plan (ops/infra/plan_json.py).

Everything here is generic over resource types and attributes: IAM statements come from any policy-bearing
attribute (known JSON, or the ``aws_iam_policy_document`` it references when the JSON is known only after
apply); what is public, and the limits, from the resource types that expose or bound the stack. A value
known only after apply is shown as what it is computed from (``<aws_cloudwatch_log_group.lambda.arn>``).
The policy rules (ops/infra/policy.py) judge the same plan and statements.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ml.tables import markdown_table
from ops.infra.plan_json import Plan, ResourceChange, Unknown, references

# GitHub refuses comment bodies longer than 65,536 characters; the report keeps a margin below it.
COMMENT_LIMIT = 65_000

# Resource type -> (attribute holding a policy document, kind of policy).
POLICY_ATTRIBUTES = {
    "aws_iam_role_policy": ("policy", "identity"),
    "aws_iam_policy": ("policy", "identity"),
    "aws_iam_user_policy": ("policy", "identity"),
    "aws_iam_group_policy": ("policy", "identity"),
    "aws_iam_role": ("assume_role_policy", "trust"),
    "aws_s3_bucket_policy": ("policy", "resource"),
    "aws_sns_topic_policy": ("policy", "resource"),
    "aws_sqs_queue_policy": ("policy", "resource"),
}


@dataclass(frozen=True)
class Statement:
    """One IAM statement, its fields as text (an unknown one as what it is computed from)."""

    source: str  # the address of the resource that sets it
    kind: str  # identity | trust | resource
    effect: str
    principals: tuple[str, ...]
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[str, ...]
    negated: tuple[str, ...] = ()  # NotAction / NotResource / NotPrincipal used

    @property
    def public(self) -> bool:
        """True for an Allow that anyone may use: principal ``*`` and no condition narrowing it."""
        return self.effect == "Allow" and bool({"*", "AWS:*"} & set(self.principals)) and not self.conditions


def statements(plan: Plan) -> list[Statement]:
    """Every policy statement the plan sets: identity, trust and resource policies, Lambda permissions."""
    found: list[Statement] = []
    for resource in plan.resources:
        if resource.type in POLICY_ATTRIBUTES:
            attribute, kind = POLICY_ATTRIBUTES[resource.type]
            found += _policy_statements(plan, resource, attribute, kind)
        elif resource.type == "aws_lambda_permission":
            found.append(_permission_statement(resource))
    return found


def _policy_statements(plan: Plan, resource: ResourceChange, attribute: str, kind: str) -> list[Statement]:
    value = resource.value(attribute)
    if isinstance(value, str) and value:
        document = json.loads(value)
        items = document.get("Statement", [])
        return [_json_statement(resource, kind, s) for s in (items if isinstance(items, list) else [items])]
    for source in references(resource.expressions.get(attribute)):
        data = plan.data_source(source.rsplit(".", 1)[0]) if source.endswith(".json") else None
        if data is not None:
            return _document_statements(resource, kind, data)
    return [Statement(resource.address, kind, "?", (str(value),), (str(value),), (str(value),), ())]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _json_statement(resource: ResourceChange, kind: str, item: dict[str, Any]) -> Statement:
    principal = item.get("Principal")
    principals = (
        ["*"]
        if principal == "*"
        else [f"{k}:{v}" for k, vs in (principal or {}).items() for v in _as_list(vs)]
    )
    conditions = [
        f"{test} {key} = {', '.join(map(str, _as_list(values)))}"
        for test, pairs in (item.get("Condition") or {}).items()
        for key, values in pairs.items()
    ]
    negated = [key for key in ("NotAction", "NotResource", "NotPrincipal") if key in item]
    return Statement(
        resource.address,
        kind,
        item.get("Effect", "Allow"),
        tuple(principals),
        tuple(map(str, _as_list(item.get("Action")) + [f"NOT {a}" for a in _as_list(item.get("NotAction"))])),
        tuple(
            map(str, _as_list(item.get("Resource")) + [f"NOT {r}" for r in _as_list(item.get("NotResource"))])
        ),
        tuple(conditions),
        tuple(negated),
    )


def _known(values: Any, unknown: Any, expression: Any) -> list[str]:
    """A list attribute of a policy document block, unknown elements as their references."""
    flags = unknown if isinstance(unknown, list) else []
    if unknown is True:
        return [str(Unknown(tuple(references(expression))))]
    found = [
        str(Unknown(tuple(references(expression)))) if i < len(flags) and flags[i] is True else str(v)
        for i, v in enumerate(_as_list(values))
    ]
    counts = Counter(found)
    return [f"{v} ({counts[v]} values)" if counts[v] > 1 else v for v in dict.fromkeys(found)]


def _document_statements(resource: ResourceChange, kind: str, document: ResourceChange) -> list[Statement]:
    """The statements of an ``aws_iam_policy_document`` data source read at apply."""
    blocks = document.after.get("statement") or []
    unknown_blocks = document.after_unknown.get("statement") or []
    expression_blocks = document.expressions.get("statement") or []
    statements = []
    for i, block in enumerate(blocks):
        unknown = unknown_blocks[i] if i < len(unknown_blocks) and isinstance(unknown_blocks[i], dict) else {}
        expressions = expression_blocks[i] if i < len(expression_blocks) else {}
        principals = [
            f"{p['type']}:{identifier}" if p["type"] != "*" else "*"
            for p in block.get("principals") or []
            for identifier in _as_list(p.get("identifiers"))
        ]
        conditions = [
            f"{c['test']} {c['variable']} = "
            + ", ".join(
                _known(
                    c.get("values"),
                    _nth(unknown.get("condition"), j, "values"),
                    _nth(expressions.get("condition"), j, "values"),
                )
            )
            for j, c in enumerate(block.get("condition") or [])
        ]
        actions = _known(block.get("actions"), unknown.get("actions"), expressions.get("actions"))
        actions += [f"NOT {a}" for a in _as_list(block.get("not_actions"))]
        targets = _known(block.get("resources"), unknown.get("resources"), expressions.get("resources"))
        targets += [f"NOT {r}" for r in _as_list(block.get("not_resources"))]
        negated = [k for k in ("not_actions", "not_resources", "not_principals") if block.get(k)]
        statements.append(
            Statement(
                resource.address,
                kind,
                block.get("effect") or "Allow",
                tuple(principals),
                tuple(actions),
                tuple(targets),
                tuple(conditions),
                tuple(negated),
            )
        )
    return statements


def _nth(blocks: Any, index: int, key: str) -> Any:
    if isinstance(blocks, list) and index < len(blocks) and isinstance(blocks[index], dict):
        return blocks[index].get(key)
    return None


def _permission_statement(resource: ResourceChange) -> Statement:
    """An ``aws_lambda_permission`` as the resource-policy statement it adds to the function."""
    conditions = [
        f"{name} = {resource.value(attribute)}"
        for attribute, name in (("source_arn", "AWS:SourceArn"), ("source_account", "AWS:SourceAccount"))
        if resource.value(attribute) is not None
    ]
    principal = str(resource.value("principal"))
    return Statement(
        resource.address,
        "resource",
        "Allow",
        ("*" if principal == "*" else f"Service:{principal}",),
        (str(resource.value("action")),),
        (f"function {resource.value('function_name')}",),
        tuple(conditions),
    )


# --- the report --------------------------------------------------------------------------------


def _cell(values: Sequence[str]) -> str:
    return "<br>".join(f"`{v}`" for v in values) if values else "—"


def _blocks(resource: ResourceChange, name: str) -> list[dict[str, Any]]:
    value = resource.after.get(name)
    return [block for block in value if isinstance(block, dict)] if isinstance(value, list) else []


def iam_section(plan: Plan) -> str:
    """Every IAM statement as a table: where it is set, effect, principals, actions, resources, conditions."""
    rows = [
        (
            f"`{s.source}` ({s.kind})",
            s.effect,
            _cell(s.principals),
            _cell(s.actions),
            _cell(s.resources),
            _cell(s.conditions),
        )
        for s in statements(plan)
    ]
    table = markdown_table(("Set by", "Effect", "Principals", "Actions", "Resources", "Conditions"), rows)
    return "#### IAM statements\n\n" + (table if rows else "None.") + "\n"


def public_lines(plan: Plan) -> list[str]:
    """What the plan makes reachable from the internet, one line each."""
    lines = []
    for dist in plan.of_type("aws_cloudfront_distribution"):
        origins = [str(o.get("domain_name") or o.get("origin_id")) for o in _blocks(dist, "origin")]
        aliases = _as_list(dist.value("aliases"))
        waf = dist.value("web_acl_id")
        names = ", ".join(map(str, aliases)) or "its cloudfront.net name"
        lines.append(
            f"CloudFront distribution `{dist.address}` ({names}), origins "
            f"{', '.join(f'`{o}`' for o in origins) or '—'}, WAF web ACL: {'yes' if waf else '**none**'}"
        )
    for site in plan.of_type("aws_s3_bucket_website_configuration"):
        lines.append(f"S3 website endpoint `{site.address}` (HTTP, no WAF)")
    for block in plan.of_type("aws_s3_bucket_public_access_block"):
        open_settings = [
            name
            for name in (
                "block_public_acls",
                "block_public_policy",
                "ignore_public_acls",
                "restrict_public_buckets",
            )
            if block.after.get(name) is False
        ]
        if open_settings:
            lines.append(f"S3 public access block `{block.address}` leaves off: {', '.join(open_settings)}")
    for api in plan.of_type("aws_apigatewayv2_api"):
        default_endpoint = "disabled" if api.after.get("disable_execute_api_endpoint") else "enabled"
        kind = api.after.get("protocol_type")
        lines.append(f"{kind} API `{api.address}`, default execute-api endpoint {default_endpoint}")
        for cors in _blocks(api, "cors_configuration"):
            expression = _nth(api.expressions.get("cors_configuration"), 0, "allow_origins")
            origins = _known(
                cors.get("allow_origins"),
                _nth(api.after_unknown.get("cors_configuration"), 0, "allow_origins"),
                expression,
            )
            lines.append(f"  CORS origins of `{api.address}`: {', '.join(f'`{o}`' for o in origins)}")
    for route in plan.of_type("aws_apigatewayv2_route"):
        auth = route.after.get("authorization_type") or "NONE"
        key = " + API key" if route.after.get("api_key_required") else ""
        lines.append(f"route `{route.after.get('route_key')}` (`{route.address}`): authorization {auth}{key}")
    for url in plan.of_type("aws_lambda_function_url"):
        lines.append(
            f"Lambda function URL `{url.address}`: authorization {url.after.get('authorization_type')}"
        )
    for s in statements(plan):
        if s.kind == "resource":
            who = "**anyone**" if s.public else ", ".join(f"`{p}`" for p in s.principals)
            narrowed = f" when {'; '.join(s.conditions)}" if s.conditions else ""
            lines.append(
                f"`{s.source}` lets {who} {', '.join(s.actions)} on {', '.join(s.resources)}{narrowed}"
            )
    return lines


def limit_lines(plan: Plan) -> list[str]:
    """Throttling, WAF rate rules, Lambda concurrency and timeouts, scaling bounds, one line each."""
    lines = []
    for stage in plan.of_type("aws_apigatewayv2_stage"):
        settings = _blocks(stage, "default_route_settings")
        if not settings:
            lines.append(f"stage `{stage.address}`: **no throttling**")
        for s in settings:
            lines.append(
                f"stage `{stage.address}`: burst {s.get('throttling_burst_limit')}, "
                f"rate {s.get('throttling_rate_limit')} requests/s"
            )
        for s in _blocks(stage, "route_settings"):
            lines.append(
                f"  route `{s.get('route_key')}`: burst {s.get('throttling_burst_limit')}, "
                f"rate {s.get('throttling_rate_limit')} requests/s"
            )
    for acl in plan.of_type("aws_wafv2_web_acl"):
        for rule, rate in waf_rate_rules(acl):
            window = rate.get("evaluation_window_sec") or 300
            lines.append(
                f"WAF `{acl.address}` rule `{rule.get('name')}`: {rate.get('limit')} requests per {window} s "
                f"per {rate.get('aggregate_key_type') or 'IP'}"
            )
    for fn in plan.of_type("aws_lambda_function"):
        reserved = fn.after.get("reserved_concurrent_executions")
        concurrency = "unreserved (the account's pool)" if reserved in (None, -1) else f"reserved {reserved}"
        lines.append(
            f"Lambda `{fn.address}`: timeout {fn.after.get('timeout')} s, {fn.after.get('memory_size')} MB, "
            f"concurrency {concurrency}"
        )
    for integration in plan.of_type("aws_apigatewayv2_integration"):
        lines.append(
            f"integration `{integration.address}`: timeout {integration.after.get('timeout_milliseconds')} ms"
        )
    for target in plan.of_type("aws_appautoscaling_target"):
        lines.append(
            f"autoscaling `{target.address}`: {target.after.get('min_capacity')} to "
            f"{target.after.get('max_capacity')} (`{target.after.get('scalable_dimension')}`)"
        )
    return lines


def waf_rate_rules(acl: ResourceChange) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(rule, rate_based_statement)`` of each rate-based rule of a WAFv2 web ACL."""
    found = []
    for rule in _blocks(acl, "rule"):
        for statement in rule.get("statement") or []:
            for rate in statement.get("rate_based_statement") or []:
                found.append((rule, rate))
    return found


def review_sections(plan: Plan) -> str:
    """The reviewer's sections: replaced or destroyed, IAM, public, limits."""
    gone = [
        f"- **{c.action}** `{c.address}`"
        for c in plan.changes
        if c.mode == "managed" and "delete" in c.actions
    ]
    parts = [
        "#### Replaced or destroyed\n\n" + ("\n".join(gone) if gone else "Nothing.") + "\n",
        iam_section(plan),
        "#### Reachable from the internet\n\n" + _bullets(public_lines(plan)),
        "#### Limits\n\n" + _bullets(limit_lines(plan)),
    ]
    return "\n".join(parts)


def _bullets(lines: list[str]) -> str:
    return (
        "\n".join(f"- {line}" if not line.startswith("  ") else f"  - {line[2:]}" for line in lines)
        or "None."
    ) + "\n"


def show_details(show: str, room: int) -> str:
    """``terraform show`` in a collapsed block, cut to ``room`` characters with a note when it is longer."""
    head = "<details><summary>terraform show</summary>\n\n```\n"
    tail = "\n```\n\n</details>\n"
    note = "\n... cut here to fit a GitHub comment; the whole plan is in the workflow's tfplan artifact"
    text = show.rstrip("\n")
    budget = room - len(head) - len(tail)
    if len(text) > budget:
        text = text[: max(budget - len(note), 0)] + note
    return head + text + tail
