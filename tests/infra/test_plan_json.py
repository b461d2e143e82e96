"""ops/infra/plan_json.py: `terraform show -json` of a plan, read once for the summary, review, policy and
cost (on real plans of terraform/: test_plan_review.py, test_policy.py, test_task_functions.py)."""

from __future__ import annotations

from typing import Any

from ops.infra.plan_json import Plan, Unknown


def _change(address: str, actions: list[str], mode: str = "managed", **change: Any) -> dict[str, Any]:
    kind = address.removeprefix("data.").split(".")[0]
    return {"address": address, "mode": mode, "type": kind, "change": {"actions": actions, **change}}


SITE_BUCKET_ID = "aws_s3_bucket.site.id"
PLAN = {
    "variables": {"endpoint_arn": {"value": "arn:aws:sagemaker:us-east-1:1:endpoint/e"}},
    "resource_changes": [
        _change(
            'aws_s3_object.site_file["app.js"]',
            ["create"],
            after={"key": "app.js"},
            after_unknown={"bucket": True},
        ),
        _change("aws_lambda_function.classifier", ["delete", "create"], after={"timeout": 25}),
        _change("aws_iam_role.old", ["delete"], after=None),
        _change("aws_cloudwatch_log_group.old", ["forget"], after=None),
        _change("module.edge.aws_sns_topic.t", ["no-op"], after={"name": "t"}),
        _change("data.aws_iam_policy_document.lambda", ["read"], mode="data", after={"statement": []}),
    ],
    "configuration": {
        "root_module": {
            "resources": [
                {
                    "address": "aws_s3_object.site_file",
                    "expressions": {"bucket": {"references": [SITE_BUCKET_ID, "aws_s3_bucket.site"]}},
                }
            ],
            "module_calls": {
                "edge": {
                    "module": {
                        "resources": [
                            {"address": "aws_sns_topic.t", "expressions": {"name": {"constant_value": "t"}}}
                        ]
                    }
                }
            },
        }
    },
}


def test_each_change_carries_its_actions_values_and_configuration() -> None:
    # GIVEN a plan's JSON  WHEN it is read
    plan = Plan.read(PLAN)
    site_file, function, role, group, topic, document = plan.changes
    # THEN every change keeps its address, type and Terraform's actions, in plan order, with one word for them
    assert (site_file.address, site_file.type, site_file.actions) == (
        'aws_s3_object.site_file["app.js"]',
        "aws_s3_object",
        ("create",),
    )
    assert [c.action for c in plan.changes] == ["create", "replace", "delete", "forget", "no-op", "read"]
    # AND a value known only after apply names what it is computed from; its configuration is found for an
    # indexed resource and one in a module
    assert site_file.value("key") == "app.js"
    assert site_file.value("bucket") == Unknown(("aws_s3_bucket.site.id", "aws_s3_bucket.site"))
    assert str(site_file.value("bucket")) == "<aws_s3_bucket.site.id>"
    assert site_file.refers_to("bucket", "aws_s3_bucket.site") and not function.refers_to("role", "x")
    assert topic.expressions == {"name": {"constant_value": "t"}}
    # AND a deleted or forgotten resource has no values after the change
    assert role.after == group.after == {} and document.mode == "data"


def test_the_resources_are_the_managed_ones_that_exist_after_apply() -> None:
    # GIVEN the plan  WHEN its resources, data sources and variables are asked for
    plan = Plan.read(PLAN)
    # THEN deleted and forgotten resources and data sources are not among the resources
    assert [r.address for r in plan.resources] == [
        'aws_s3_object.site_file["app.js"]',
        "aws_lambda_function.classifier",
        "module.edge.aws_sns_topic.t",
    ]
    assert [r.address for r in plan.of_type("aws_lambda_function", "aws_iam_role")] == [
        "aws_lambda_function.classifier"
    ]
    # AND a data source read at apply is found by its address; the variables are their values
    document = plan.data_source("data.aws_iam_policy_document.lambda")
    assert document is not None and document.after == {"statement": []}
    assert plan.data_source("data.aws_iam_policy_document.other") is None
    assert plan.variables == {"endpoint_arn": "arn:aws:sagemaker:us-east-1:1:endpoint/e"}
