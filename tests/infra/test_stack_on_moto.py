"""The real Terraform stack, applied to moto_server and read back with boto3.

One `terraform apply` (the session fixture ``applied``) serves every read-back test here and in
test_stack_on_moto_monitoring.py; then test_stack_on_moto_then_destroyed.py plans against it and finally
destroys it (the two modules share one
worker, in file order: tests/conftest.py ONE_WORKER).
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from ml.config import ROOT
from ml.vocabulary import VOCABULARY

from .conftest import (
    AUTOSCALING,
    CLOUDFRONT_PROXIES,
    ENDPOINT,
    EXTRA_ORIGIN,
    LAMBDA_SETTINGS,
    SITE_FILES,
    SITE_PAGE,
    Applied,
    zip_sha256_b64,
)

pytestmark = pytest.mark.slow

OUTPUTS = {
    "alarm_topic_arn",
    "api_url",
    "dashboard_url",
    "distribution_id",
    "feedback_bucket_name",
    "lambda_function_name",
    "lambda_role_arn",
    "site_bucket_name",
    "site_url",
    "web_acl_arn",
}
CONTENT_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "logo.svg": "image/svg+xml",
    "classes.json": "application/json",
    "img/icon.png": "image/png",
    "favicon.ico": "image/x-icon",
    "config.js": "text/javascript; charset=utf-8",
    "model-card.html": "text/html; charset=utf-8",  # the deployed version's, not a file of site/
}


def test_apply_creates_the_stack_and_reports_its_outputs(applied: Applied) -> None:
    # GIVEN an empty moto account  WHEN the stack is applied (fixture)
    outputs = applied.result.outputs
    # THEN resources were added, nothing changed or destroyed, and every documented output is there
    assert applied.result.added > 0 and (applied.result.changed, applied.result.destroyed) == (0, 0)
    assert set(outputs) == OUTPUTS
    assert re.fullmatch(r"https://[a-z0-9]+\.execute-api\.us-east-1\.amazonaws\.com", outputs["api_url"])
    assert re.fullmatch(r"https://[a-z0-9]+\.cloudfront\.net", outputs["site_url"])
    assert outputs["lambda_role_arn"] == "arn:aws:iam::000000000000:role/dbpedia-classifier-lambda"


def test_role_policy_allows_exactly_invoke_endpoint_on_the_endpoint_arn(applied: Applied) -> None:
    # GIVEN the applied role
    iam = applied.client("iam")
    role = applied.result.outputs["lambda_role_arn"].rsplit("/", 1)[1]
    # WHEN its policies are read back
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    document = iam.get_role_policy(RoleName=role, PolicyName=role)["PolicyDocument"]
    statements = document["Statement"]
    grants = [
        (action, resource)
        for statement in statements
        for action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    ]
    # THEN two inline policies (this one, and feedback's: test_feedback_on_moto.py), no managed ones, only
    # Allow statements, and the only SageMaker grant is InvokeEndpoint on the endpoint's ARN; the rest is
    # writing to the function's own log group
    assert sorted(names) == [role, f"{role}-feedback"] and attached == []
    assert {statement["Effect"] for statement in statements} == {"Allow"}
    assert [g for g in grants if g[0].startswith("sagemaker:")] == [
        ("sagemaker:InvokeEndpoint", ENDPOINT.endpoint_arn)
    ]
    own_logs = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/dbpedia-classifier:*"
    assert {g for g in grants if not g[0].startswith("sagemaker:")} == {
        ("logs:CreateLogStream", own_logs),
        ("logs:PutLogEvents", own_logs),
    }


def test_lambda_runs_the_zip_and_handler_with_the_endpoint_environment(applied: Applied) -> None:
    # GIVEN the applied function  WHEN its configuration is read back
    config = applied.client("lambda").get_function_configuration(
        FunctionName=applied.result.outputs["lambda_function_name"]
    )
    # THEN it runs handler.lambda_handler from our zip on Python 3.12+ with the contract's environment
    assert config["Handler"] == "handler.lambda_handler"
    assert tuple(map(int, config["Runtime"].removeprefix("python").split("."))) >= (3, 12)
    assert config["CodeSha256"] == zip_sha256_b64(applied.zip_path)
    assert (config["Timeout"], config["MemorySize"]) == (25, 256)
    assert config["Role"] == applied.result.outputs["lambda_role_arn"]
    assert config["Environment"]["Variables"] == {
        "ENDPOINT_NAME": ENDPOINT.endpoint_name,
        "ALLOWED_ORIGINS": EXTRA_ORIGIN,  # the page calls its own origin: CORS only for declared others
        "ORIGIN_VERIFY_SECRET": config["Environment"]["Variables"]["ORIGIN_VERIFY_SECRET"],  # test_edge_...
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": ENDPOINT.sagemaker_runtime_url,
        "LOG_LEVEL": "INFO",
        # visitors' feedback: its bucket, and the labels it may name (the page's: var.site_page)
        "FEEDBACK_BUCKET": applied.result.outputs["feedback_bucket_name"],
        "LABELS": json.dumps([item["label"] for item in SITE_PAGE["labels"]], separators=(",", ":")),
        # the vocabulary at the zip's root, and the model it must have been derived from (the tfvars')
        "MODEL_SHA256": ENDPOINT.model_sha256,
        "VOCABULARY_FILE": VOCABULARY,
        # what the Lambda reads, from the one declaration in the settings (as the local stack sets it)
        **{name.upper(): str(value) for name, value in LAMBDA_SETTINGS.items()},
    }


def test_only_the_api_may_invoke_the_lambda_and_only_on_its_two_routes(applied: Applied) -> None:
    # GIVEN the applied function and API
    api_id = applied.api()["ApiId"]
    # WHEN the function's resource policy is read back
    policy = json.loads(applied.client("lambda").get_policy(FunctionName="dbpedia-classifier")["Policy"])
    # THEN its two statements let API Gateway invoke it from this API's POST /classify and POST /feedback
    for statement in policy["Statement"]:
        assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
        assert statement["Action"] == "lambda:InvokeFunction"
    assert sorted(s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"]) == [
        f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/*/POST/{route}"
        for route in ("classify", "feedback")
    ]


def test_api_proxies_post_classify_to_the_lambda_with_payload_2(applied: Applied) -> None:
    # GIVEN the applied HTTP API  WHEN its routes and integrations are read back
    apigw = applied.client("apigatewayv2")
    api_id = applied.api()["ApiId"]
    routes = apigw.get_routes(ApiId=api_id)["Items"]
    [integration] = apigw.get_integrations(ApiId=api_id)["Items"]
    # THEN POST /classify and POST /feedback are its only routes, proxied to the function with the 2.0 payload
    assert sorted(route["RouteKey"] for route in routes) == ["POST /classify", "POST /feedback"]
    assert {route["Target"] for route in routes} == {f"integrations/{integration['IntegrationId']}"}
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["PayloadFormatVersion"] == "2.0"
    assert ":function:dbpedia-classifier/invocations" in integration["IntegrationUri"]


def test_api_cors_allows_the_configured_extra_origin_only(applied: Applied) -> None:
    # GIVEN the stack applied with one extra origin  WHEN the API's CORS is read back
    cors = applied.api()["CorsConfiguration"]
    # THEN only that origin may POST cross-origin (the page calls its own origin); no wildcard
    assert cors["AllowOrigins"] == [EXTRA_ORIGIN]
    assert cors["AllowMethods"] == ["POST"]
    assert cors["AllowHeaders"] == ["content-type"]


def test_default_stage_auto_deploys_throttles_and_writes_json_access_logs(applied: Applied) -> None:
    # GIVEN the applied API  WHEN its stage and the log groups are read back
    [stage] = applied.client("apigatewayv2").get_stages(ApiId=applied.api()["ApiId"])["Items"]
    groups = {
        group["logGroupName"]: group
        for group in applied.client("logs").describe_log_groups(logGroupNamePrefix="/aws/")["logGroups"]
    }
    # THEN $default auto-deploys with non-zero throttling, and logs JSON lines carrying route, status and
    # integration errors to a log group that, like the function's, has a retention
    assert (stage["StageName"], stage["AutoDeploy"]) == ("$default", True)
    settings = stage["DefaultRouteSettings"]
    assert (settings["ThrottlingBurstLimit"], settings["ThrottlingRateLimit"]) == (20, 10.0)
    access = stage["AccessLogSettings"]
    assert access["DestinationArn"] == groups["/aws/apigateway/dbpedia-classifier"]["arn"].removesuffix(":*")
    assert {"routeKey", "status", "integrationErrorMessage"} <= set(json.loads(access["Format"]))
    assert groups["/aws/apigateway/dbpedia-classifier"]["retentionInDays"] == 14
    assert groups["/aws/lambda/dbpedia-classifier"]["retentionInDays"] == 14


def test_site_bucket_is_private_and_only_the_distribution_may_read_the_site_files(applied: Applied) -> None:
    # GIVEN the applied site bucket
    s3 = applied.client("s3")
    bucket = applied.result.outputs["site_bucket_name"]
    distribution = applied.client("cloudfront").get_distribution(Id=applied.result.outputs["distribution_id"])
    # WHEN its website, public-access block and policy are read back
    with pytest.raises(s3.exceptions.ClientError, match="NoSuchWebsiteConfiguration"):
        s3.get_bucket_website(Bucket=bucket)
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    [statement] = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    # THEN no website; all four public-access blocks are on; the one grant lets CloudFront GET the uploaded
    # keys only on behalf of this distribution
    assert block == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == (
        "Allow",
        {"Service": "cloudfront.amazonaws.com"},
        "s3:GetObject",
    )
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceArn": distribution["Distribution"]["ARN"]}}
    assert sorted(statement["Resource"]) == sorted(f"arn:aws:s3:::{bucket}/{key}" for key in CONTENT_TYPES)


def test_site_files_are_uploaded_with_their_content_types_and_templates_are_not(applied: Applied) -> None:
    # GIVEN the applied site bucket  WHEN its objects are listed and their headers read
    s3 = applied.client("s3")
    bucket = applied.result.outputs["site_bucket_name"]
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket)["Contents"])
    types = {key: s3.head_object(Bucket=bucket, Key=key)["ContentType"] for key in keys}
    # THEN every site file is there with the type browsers need; the template itself is not uploaded
    assert types == CONTENT_TYPES
    body = s3.get_object(Bucket=bucket, Key="index.html")["Body"].read().decode()
    assert body == SITE_FILES["index.html"]


def test_config_js_is_rendered_with_a_relative_api_url(applied: Applied) -> None:
    # GIVEN the applied stack, whose site folder also holds a stale config.js
    s3 = applied.client("s3")
    bucket = applied.result.outputs["site_bucket_name"]
    # WHEN config.js is downloaded
    config = s3.get_object(Bucket=bucket, Key="config.js")
    body = config["Body"].read().decode()
    # THEN it is the template rendered with an empty API URL (the page POSTs to /classify on its own
    # origin), never cached, not the stale file
    assert 'apiUrl: ""' in body and applied.result.outputs["api_url"] not in body
    assert f"maxTextChars: {LAMBDA_SETTINGS['max_text_chars']}, page: " in body
    shown = body.split(f"maxTextChars: {LAMBDA_SETTINGS['max_text_chars']}, page: ", 1)[1]
    assert json.loads(shown.rsplit(",\n", 1)[0]) == SITE_PAGE  # the deployed model's labels (var.site_page)
    # AND the page offers feedback on the deployed model (the settings' switch, the tfvars' sha256)
    assert f'feedback: true, modelSha256: "{ENDPOINT.model_sha256}" }};' in body
    assert "${" not in body and "stale" not in body
    assert config["CacheControl"] == "no-cache"


def test_edge_puts_one_https_distribution_with_waf_in_front_of_the_bucket_and_the_api(
    applied: Applied,
) -> None:
    """The distribution, OAC and web ACL are moto's; the distribution's config is read through the gap proxy
    (moto drops an origin's OriginAccessControlId and reshapes its behaviours: ops/infra/moto_gaps.py)."""
    # GIVEN the applied stack  WHEN its distribution, origin access control and web ACL are read back
    outputs = applied.result.outputs
    cloudfront = applied.client("cloudfront")
    [summary] = cloudfront.list_distributions()["DistributionList"]["Items"]
    behind_proxy = _cloudfront_behind_the_gap_proxy(applied)
    config = behind_proxy.get_distribution_config(Id=outputs["distribution_id"])["DistributionConfig"]
    [oac] = cloudfront.list_origin_access_controls()["OriginAccessControlList"]["Items"]
    [acl_summary] = applied.client("wafv2").list_web_acls(Scope="CLOUDFRONT")["WebACLs"]
    acl = applied.client("wafv2").get_web_acl(
        Name=acl_summary["Name"], Scope="CLOUDFRONT", Id=acl_summary["Id"]
    )
    lambda_env = applied.client("lambda").get_function_configuration(FunctionName="dbpedia-classifier")
    # THEN it is the one distribution, serving site_url, behind the web ACL
    assert outputs["site_url"] == f"https://{summary['DomainName']}"
    assert config["WebACLId"] == outputs["web_acl_arn"] == acl["WebACL"]["ARN"]
    assert (config["Enabled"], config["DefaultRootObject"]) == (True, "index.html")
    # AND the site comes from the private bucket's REST endpoint, signed by the OAC (sigv4, always)
    origins = {origin["Id"]: origin for origin in config["Origins"]["Items"]}
    site, api = origins["site-bucket"], origins["http-api"]
    assert site["DomainName"] == f"{outputs['site_bucket_name']}.s3.us-east-1.amazonaws.com"
    assert site["OriginAccessControlId"] == oac["Id"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningProtocol"], oac["SigningBehavior"]) == (
        "s3",
        "sigv4",
        "always",
    )
    # AND the API is the second origin, over HTTPS, with the origin-verify header the Lambda checks
    assert f"https://{api['DomainName']}" == outputs["api_url"]
    assert api["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    [header] = api["CustomHeaders"]["Items"]
    assert header == {
        "HeaderName": "x-origin-verify",
        "HeaderValue": lambda_env["Environment"]["Variables"]["ORIGIN_VERIFY_SECRET"],
    }
    # AND every behaviour redirects to HTTPS, compresses and sends the security headers; static files are
    # cached (CachingOptimized), config.js and /classify not (CachingDisabled); /classify takes POST and
    # every viewer header but Host (AllViewerExceptHostHeader)
    default = config["DefaultCacheBehavior"]
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]["Items"]}
    assert set(behaviours) == {"/config.js", "/classify", "/feedback"}
    for behaviour in (default, *behaviours.values()):
        assert (behaviour["ViewerProtocolPolicy"], behaviour["Compress"]) == ("redirect-to-https", True)
        assert behaviour["ResponseHeadersPolicyId"] == default["ResponseHeadersPolicyId"] != ""
    assert (default["TargetOriginId"], default["CachePolicyId"]) == (
        "site-bucket",
        "658327ea-f89d-4fab-a63d-7e88639e58f6",
    )
    assert behaviours["/config.js"]["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    classify = behaviours["/classify"]
    assert (classify["TargetOriginId"], classify["CachePolicyId"], classify["OriginRequestPolicyId"]) == (
        "http-api",
        "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
        "b689b0a8-53d0-40ab-baf2-68738e2966ac",
    )
    assert "POST" in classify["AllowedMethods"]["Items"]
    feedback = behaviours["/feedback"]  # the same way to the same API
    assert {k: v for k, v in feedback.items() if k != "PathPattern"} == {
        k: v for k, v in classify.items() if k != "PathPattern"
    }
    # AND by default there is no custom domain: the cloudfront.net name and its certificate
    assert config["Aliases"]["Quantity"] == 0
    assert config["ViewerCertificate"]["CloudFrontDefaultCertificate"] is True
    # AND the web ACL allows by default and blocks a client IP over the rate limit on /classify + /feedback
    [rule] = acl["WebACL"]["Rules"]
    assert acl["WebACL"]["DefaultAction"] == {"Allow": {}}
    assert rule["Action"] == {"Block": {}}
    rate = rule["Statement"]["RateBasedStatement"]
    assert (rate["Limit"], rate["AggregateKeyType"]) == (300, "IP")
    matches = [s["ByteMatchStatement"] for s in rate["ScopeDownStatement"]["OrStatement"]["Statements"]]
    assert {m["FieldToMatch"] == {"UriPath": {}} for m in matches} == {True}
    assert sorted(m["SearchString"] for m in matches) in (  # the rate covers both routes (as bytes or text)
        ["/classify", "/feedback"],
        [b"/classify", b"/feedback"],
    )


def test_the_response_headers_policy_is_the_shared_definition(applied: Applied) -> None:
    """moto has no response-headers-policy API: this reads the policy back from the gap proxy
    (ops/infra/moto_gaps.py), which keeps what the provider sent."""
    headers = json.loads((ROOT / "terraform" / "security-headers.json").read_text())
    cloudfront = _cloudfront_behind_the_gap_proxy(applied)
    config = cloudfront.get_distribution_config(Id=applied.result.outputs["distribution_id"])
    policy_id = config["DistributionConfig"]["DefaultCacheBehavior"]["ResponseHeadersPolicyId"]
    policy = cloudfront.get_response_headers_policy(Id=policy_id)["ResponseHeadersPolicy"]
    security = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert (
        security["StrictTransportSecurity"]["AccessControlMaxAgeSec"]
        == (headers["strict_transport_security"]["max_age_seconds"])
    )
    assert security["ContentSecurityPolicy"]["ContentSecurityPolicy"] == headers["content_security_policy"]
    assert "frame-ancestors 'none'" in headers["content_security_policy"]
    assert security["ContentTypeOptions"]["Override"] is True
    assert security["FrameOptions"]["FrameOption"] == headers["frame_options"] == "DENY"
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == headers["referrer_policy"]


def test_the_endpoint_variant_scales_between_its_instance_count_and_the_maximum(applied: Applied) -> None:
    # GIVEN the stack applied for an instance-backed endpoint (1 instance) with autoscaling settings
    autoscaling = applied.client("application-autoscaling")
    # WHEN its scalable targets and policies are read back
    [target] = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    [policy] = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    # THEN the endpoint's one variant scales between the deployed count and max_instances
    resource_id = "endpoint/dbpedia-classifier/variant/AllTraffic"
    assert (target["ResourceId"], target["ScalableDimension"]) == (
        resource_id,
        "sagemaker:variant:DesiredInstanceCount",
    )
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, AUTOSCALING["max_instances"])
    # AND one target-tracking policy keeps invocations per instance at the target, with both cooldowns
    assert (policy["ResourceId"], policy["ScalableDimension"], policy["PolicyType"]) == (
        resource_id,
        "sagemaker:variant:DesiredInstanceCount",
        "TargetTrackingScaling",
    )
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert (tracking["TargetValue"], tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (
        AUTOSCALING["target_invocations_per_instance"],
        AUTOSCALING["scale_in_cooldown_seconds"],
        AUTOSCALING["scale_out_cooldown_seconds"],
    )


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _cloudfront_behind_the_gap_proxy(applied: Applied) -> Any:
    """A CloudFront client that talks to moto through the gap proxy, as the Terraform provider does."""
    return boto3.client(
        "cloudfront",
        endpoint_url=CLOUDFRONT_PROXIES[applied.moto.url],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
