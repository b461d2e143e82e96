"""The real Terraform stack, applied to moto_server and read back with boto3.

One `terraform apply` (module fixture ``applied``) serves every read-back test; the tests at the end of the
file plan against it and finally destroy it, so keep them last and in this order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from ml.aws.resources import find_endpoint_resources
from ml.config import ROOT
from ml.vocabulary import VOCABULARY
from ops.infra.apply import check_no_drift
from ops.infra.destroy import destroy_stack
from ops.infra.errors import InfraError
from ops.infra.plan import plan_stack
from tests.helpers import table_rows

from .conftest import (
    ALARM_EMAIL,
    AUTOSCALING,
    CLOUDFRONT_PROXIES,
    DRIFT_BAND,
    ENDPOINT,
    EXTRA_ORIGIN,
    LAMBDA_SETTINGS,
    MODEL_CARD,
    SITE_FILES,
    SITE_PAGE,
    Applied,
    zip_sha256_b64,
)
from .secret_scan import KNOWN_SHARED, secrets_in

pytestmark = pytest.mark.slow

OUTPUTS = {
    "alarm_topic_arn",
    "api_url",
    "dashboard_url",
    "distribution_id",
    "lambda_function_name",
    "lambda_role_arn",
    "site_bucket_name",
    "site_url",
    "web_acl_arn",
}
ALARMS = {
    "dbpedia-classifier-api-5xx-rate",
    "dbpedia-classifier-lambda-errors",
    "dbpedia-classifier-lambda-throttles",
    "dbpedia-classifier-endpoint-model-latency-p99",
    "dbpedia-classifier-endpoint-5xx",
    "dbpedia-classifier-unknown-text-rate",  # drift.tf, and one a label of the band:
    "dbpedia-classifier-label-share-athlete",
    "dbpedia-classifier-label-share-film",
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
    "model-card.md": "text/markdown; charset=utf-8",  # the deployed version's, not a file of site/
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
    document = iam.get_role_policy(RoleName=role, PolicyName=names[0])["PolicyDocument"]
    statements = document["Statement"]
    grants = [
        (action, resource)
        for statement in statements
        for action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    ]
    # THEN one inline policy, no managed ones, only Allow statements, and the only SageMaker grant is
    # InvokeEndpoint on the endpoint's ARN; the rest is writing to the function's own log group
    assert names == [role] and attached == []
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
        # the vocabulary at the zip's root, and the model it must have been derived from (the tfvars')
        "MODEL_SHA256": ENDPOINT.model_sha256,
        "VOCABULARY_FILE": VOCABULARY,
        # what the Lambda reads, from the one declaration in the settings (as the local stack sets it)
        **{name.upper(): str(value) for name, value in LAMBDA_SETTINGS.items()},
    }


def test_only_the_api_may_invoke_the_lambda_and_only_on_post_classify(applied: Applied) -> None:
    # GIVEN the applied function and API
    api_id = _api(applied)["ApiId"]
    # WHEN the function's resource policy is read back
    policy = json.loads(applied.client("lambda").get_policy(FunctionName="dbpedia-classifier")["Policy"])
    # THEN its one statement lets API Gateway invoke it from this API's POST /classify only
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == (
        f"arn:aws:execute-api:us-east-1:000000000000:{api_id}/*/POST/classify"
    )


def test_api_proxies_post_classify_to_the_lambda_with_payload_2(applied: Applied) -> None:
    # GIVEN the applied HTTP API  WHEN its routes and integrations are read back
    apigw = applied.client("apigatewayv2")
    api_id = _api(applied)["ApiId"]
    [route] = apigw.get_routes(ApiId=api_id)["Items"]
    [integration] = apigw.get_integrations(ApiId=api_id)["Items"]
    # THEN POST /classify is its only route, proxied to the function with the 2.0 payload
    assert route["RouteKey"] == "POST /classify"
    assert route["Target"] == f"integrations/{integration['IntegrationId']}"
    assert integration["IntegrationType"] == "AWS_PROXY"
    assert integration["PayloadFormatVersion"] == "2.0"
    assert ":function:dbpedia-classifier/invocations" in integration["IntegrationUri"]


def test_api_cors_allows_the_configured_extra_origin_only(applied: Applied) -> None:
    # GIVEN the stack applied with one extra origin  WHEN the API's CORS is read back
    cors = _api(applied)["CorsConfiguration"]
    # THEN only that origin may POST cross-origin (the page calls its own origin); no wildcard
    assert cors["AllowOrigins"] == [EXTRA_ORIGIN]
    assert cors["AllowMethods"] == ["POST"]
    assert cors["AllowHeaders"] == ["content-type"]


def test_default_stage_auto_deploys_throttles_and_writes_json_access_logs(applied: Applied) -> None:
    # GIVEN the applied API  WHEN its stage and the log groups are read back
    [stage] = applied.client("apigatewayv2").get_stages(ApiId=_api(applied)["ApiId"])["Items"]
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
    assert json.loads(shown.rsplit(" };", 1)[0]) == SITE_PAGE  # the deployed model's labels (var.site_page)
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
    assert set(behaviours) == {"/config.js", "/classify"}
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
    # AND by default there is no custom domain: the cloudfront.net name and its certificate
    assert config["Aliases"]["Quantity"] == 0
    assert config["ViewerCertificate"]["CloudFrontDefaultCertificate"] is True
    # AND the web ACL allows by default and blocks a client IP over the rate limit on /classify
    [rule] = acl["WebACL"]["Rules"]
    assert acl["WebACL"]["DefaultAction"] == {"Allow": {}}
    assert rule["Action"] == {"Block": {}}
    rate = rule["Statement"]["RateBasedStatement"]
    assert (rate["Limit"], rate["AggregateKeyType"]) == (300, "IP")
    assert rate["ScopeDownStatement"]["ByteMatchStatement"]["FieldToMatch"] == {"UriPath": {}}


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


def test_alarms_watch_the_api_lambda_and_endpoint_and_notify_the_topic(applied: Applied) -> None:
    # GIVEN the applied stack  WHEN its alarms, topic and subscriptions are read back
    alarms = {
        alarm["AlarmName"]: alarm
        for alarm in applied.client("cloudwatch").describe_alarms(AlarmNamePrefix="dbpedia-classifier-")[
            "MetricAlarms"
        ]
    }
    topic = applied.result.outputs["alarm_topic_arn"]
    sns = applied.client("sns")
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    # THEN the alarms exist, each enabled and notifying the topic, which mails the configured address
    assert set(alarms) == ALARMS
    assert topic in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    for alarm in alarms.values():
        assert alarm["ActionsEnabled"] and alarm["AlarmActions"] == [topic] and alarm["OKActions"] == [topic]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", ALARM_EMAIL)
    # AND the endpoint alarms watch its AllTraffic variant: ModelLatency at p99 (microseconds) and 5xx errors
    endpoint_dimensions = [
        {"Name": "EndpointName", "Value": "dbpedia-classifier"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    latency = alarms["dbpedia-classifier-endpoint-model-latency-p99"]
    assert (latency["Namespace"], latency["MetricName"], latency["ExtendedStatistic"]) == (
        "AWS/SageMaker",
        "ModelLatency",
        "p99",
    )
    assert latency["Threshold"] == 500_000 and _sorted(latency["Dimensions"]) == endpoint_dimensions
    errors = alarms["dbpedia-classifier-endpoint-5xx"]
    assert (errors["MetricName"], errors["Statistic"]) == ("Invocation5XXErrors", "Sum")
    assert _sorted(errors["Dimensions"]) == endpoint_dimensions
    # AND the Lambda alarms count Errors and Throttles of the function
    for name, metric in (("lambda-errors", "Errors"), ("lambda-throttles", "Throttles")):
        alarm = alarms[f"dbpedia-classifier-{name}"]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", metric, "Sum")
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": "dbpedia-classifier"}]
    # AND the API alarm is a rate: 5xx over requests of this API, in percent, above 5
    rate = alarms["dbpedia-classifier-api-5xx-rate"]
    queries = {query["Id"]: query for query in rate["Metrics"]}
    assert queries["rate"]["Expression"] == "IF(requests > 0, 100 * errors / requests, 0)"
    assert queries["rate"]["ReturnData"] and rate["Threshold"] == 5
    api_id = _api(applied)["ApiId"]
    for query_id, metric in (("errors", "5xx"), ("requests", "Count")):
        stat = queries[query_id]["MetricStat"]
        assert (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Stat"]) == (
            "AWS/ApiGateway",
            metric,
            "Sum",
        )
        assert stat["Metric"]["Dimensions"] == [{"Name": "ApiId", "Value": api_id}]


def test_the_dashboard_graphs_the_alarmed_metrics(applied: Applied) -> None:
    # GIVEN the applied stack  WHEN its dashboard is read back
    body = json.loads(
        applied.client("cloudwatch").get_dashboard(DashboardName="dbpedia-classifier")["DashboardBody"]
    )
    widgets = body["widgets"]
    graphed = {
        line[1]
        for widget in widgets
        if widget["type"] == "metric"
        for line in widget["properties"]["metrics"]
        if isinstance(line[0], str)
    }
    # THEN it shows every alarm, and graphs each metric an alarm watches (and the autoscaling metric)
    [alarm_widget] = [w for w in widgets if w["type"] == "alarm"]
    assert len(alarm_widget["properties"]["alarms"]) == len(ALARMS)
    assert {"Count", "5xx", "Errors", "Throttles", "ModelLatency", "Invocation5XXErrors"} <= graphed
    assert "InvocationsPerInstance" in graphed
    # AND the live metrics of the Lambda's EMF lines (lambda/metrics.py): shares and latency by name, the
    # requests by outcome and the answers by label as searches of this function's dimensions
    assert {"UnknownText", "LowConfidence", "Latency"} <= graphed
    searches = [
        line[0]["expression"]
        for widget in widgets
        if widget["type"] == "metric"
        for line in widget["properties"]["metrics"]
        if isinstance(line[0], dict) and line[0]["expression"].startswith("SEARCH(")
    ]
    assert any("Function,Outcome}" in s and 'MetricName="Requests"' in s for s in searches)
    assert any("Function,Label}" in s and 'MetricName="Answers"' in s for s in searches)
    assert applied.result.outputs["dashboard_url"].endswith("#dashboards/dashboard/dbpedia-classifier")


def test_drift_alarms_judge_a_day_against_the_band_of_the_validation_split(applied: Applied) -> None:
    # GIVEN the stack applied with a version's band  WHEN its drift alarms are read back
    cloudwatch = applied.client("cloudwatch")
    alarms = {
        a["AlarmName"]: a
        for a in cloudwatch.describe_alarms(AlarmNamePrefix="dbpedia-classifier-")["MetricAlarms"]
    }
    unknown = alarms["dbpedia-classifier-unknown-text-rate"]
    queries = {q["Id"]: q for q in unknown["Metrics"]}
    # THEN the unknown-text alarm compares the day's average of UnknownText with the band, from 100 answers
    rate = queries["rate"]["MetricStat"]
    assert (rate["Metric"]["Namespace"], rate["Metric"]["MetricName"], rate["Stat"]) == (
        "DbpediaClassifier",
        "UnknownText",
        "Average",
    )
    assert rate["Period"] == 86400 and queries["answers"]["MetricStat"]["Stat"] == "SampleCount"
    assert rate["Metric"]["Dimensions"] == [{"Name": "Function", "Value": "dbpedia-classifier"}]
    band = DRIFT_BAND["unknown_text"]
    assert queries["outside"]["Expression"] == (
        f"IF(answers >= 100 AND (rate < {band['low']:g} OR rate > {band['high']:g}), 1, 0)"
    )
    assert (unknown["Threshold"], unknown["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    # AND each label of the band has its alarm on its share of the day's labelled answers
    film = {q["Id"]: q for q in alarms["dbpedia-classifier-label-share-film"]["Metrics"]}
    dimensions = film["label"]["MetricStat"]["Metric"]["Dimensions"]
    assert {d["Name"]: d["Value"] for d in dimensions} == {"Function": "dbpedia-classifier", "Label": "Film"}
    assert (
        "FILL(label, 0) / answers < 0.03 OR FILL(label, 0) / answers > 0.14" in film["outside"]["Expression"]
    )


def test_the_site_serves_the_deployed_version_s_model_card(applied: Applied) -> None:
    # GIVEN the stack applied with a version's card  WHEN the site bucket's card is read
    s3 = applied.client("s3")
    bucket = applied.result.outputs["site_bucket_name"]
    card = s3.get_object(Bucket=bucket, Key="model-card.md")
    # THEN it is the card, as Markdown text, never cached (the distribution may read it: CONTENT_TYPES)
    assert card["Body"].read().decode() == MODEL_CARD
    assert (card["ContentType"], card["CacheControl"]) == ("text/markdown; charset=utf-8", "no-cache")


def test_state_outputs_and_the_lambda_environment_hold_no_secret(applied: Applied) -> None:
    # GIVEN the stack applied to moto  WHEN its outputs, state outputs and Lambda environment are scanned
    state = json.loads((applied.stack.runner.working_dir / "terraform.tfstate").read_text(encoding="utf-8"))
    function = applied.client("lambda").get_function_configuration(
        FunctionName=applied.result.outputs["lambda_function_name"]
    )
    variables = function["Environment"]["Variables"]
    shared = variables["ORIGIN_VERIFY_SECRET"]
    # THEN none holds a secret: credentials come from the Lambda's role, never from configuration
    assert secrets_in(applied.result.outputs) == []
    assert secrets_in(state["outputs"]) == []
    assert secrets_in({k: v for k, v in variables.items() if k not in KNOWN_SHARED}) == []
    # AND the known shared value (KNOWN_SHARED) is a fresh random one that no output shows
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", shared)
    assert shared not in json.dumps(applied.result.outputs) and shared not in json.dumps(state["outputs"])


def test_a_second_plan_finds_no_drift(applied: Applied, tmp_path: Path) -> None:
    # GIVEN the applied stack  WHEN it is planned again with the same inputs (-detailed-exitcode)
    report = plan_stack(applied.stack, tmp_path, review=True)
    # THEN Terraform exits 0, "no changes": a second `invoke infra` would change nothing
    assert report.has_changes is False and report.summary.changes == ()
    markdown = report.markdown_path.read_text()
    assert "**No changes.**" in markdown
    # AND the policy, reading the applied values now (policy JSON, the API's host, the log group ARN), passes
    assert report.violations == ()
    assert ":log-group:/aws/lambda/dbpedia-classifier:*" in markdown


def test_an_edited_site_file_and_a_changed_variable_show_up_as_drift_in_the_summary(
    applied: Applied, tmp_path: Path
) -> None:
    # GIVEN an edit to app.js and a different LOG_LEVEL
    app_js = applied.site_dir / "app.js"
    original = app_js.read_text()
    applied.stack.runner.variables["log_level"] = "DEBUG"
    app_js.write_text(original + "\n// edited\n")
    try:
        # WHEN the no-drift check plans the stack
        with pytest.raises(InfraError, match="the stack drifts") as drift:
            check_no_drift(applied.stack, tmp_path)
    finally:
        app_js.write_text(original)
        del applied.stack.runner.variables["log_level"]
    # THEN the plan, its JSON and a markdown summary are written; they show exactly two in-place updates,
    # and the error carries the summary
    assert (tmp_path / "tfplan").stat().st_size > 0
    assert json.loads((tmp_path / "tfplan.json").read_text())["resource_changes"]
    markdown = (tmp_path / "tfplan.md").read_text()
    assert "**Plan: 0 to add, 2 to change, 0 to destroy.**" in markdown
    assert ["`aws_lambda_function`", "0", "1", "0"] in table_rows(markdown)
    assert ["`aws_s3_object`", "0", "1", "0"] in table_rows(markdown)
    assert '- `~` update `aws_s3_object.site_file["app.js"]`' in markdown
    assert markdown in str(drift.value)


def test_destroy_dry_run_lists_everything_and_removes_nothing(applied: Applied) -> None:
    # GIVEN the applied stack and a deployed SageMaker endpoint
    sagemaker = applied.client("sagemaker")
    _deploy_endpoint(sagemaker)
    lines: list[str] = []
    # WHEN destroy runs as a dry run
    report = destroy_stack(applied.stack, sagemaker=sagemaker, dry_run=True, echo=lines.append)
    # THEN it lists the Terraform resources and the endpoint's three resources, and removes none
    assert not report.removed
    assert "terraform aws_lambda_function.classifier" in report.listed
    assert report.listed[-3:] == (
        "SageMaker endpoint dbpedia-classifier",
        "SageMaker endpoint config dbpedia-classifier-config",
        "SageMaker model dbpedia-classifier-model",
    )
    assert any("aws_s3_bucket.site" in line for line in lines)
    # AND it says what of it bills: the endpoint with its instances and hourly cost first, then the rest
    assert report.billing[0] == (
        "SageMaker endpoint dbpedia-classifier (1 × ml.m5.large): every hour it is InService, "
        "about $0.115 an hour, $83.95 a month"
    )
    billed = {line.split(":")[0] for line in report.billing[1:]}
    assert {
        "aws_lambda_function.classifier",
        "aws_apigatewayv2_api.classifier",
        "aws_s3_bucket.site",
        "aws_cloudwatch_dashboard.classifier",
        "aws_cloudwatch_log_group.lambda",
        "aws_cloudwatch_log_group.api_access",
        "aws_sns_topic.alarms",
    } | {
        f"aws_cloudwatch_metric_alarm.{name}" for name in ("api_5xx_rate", "lambda_errors", "endpoint_5xx")
    } <= billed
    assert not any(line.startswith(("aws_iam_role", "aws_s3_object")) for line in report.billing)
    assert "aws_lambda_function.classifier" in applied.stack.runner.state_list()
    assert find_endpoint_resources(sagemaker, "dbpedia-classifier") is not None


def test_destroy_asks_and_a_no_removes_nothing(applied: Applied) -> None:
    # GIVEN the applied stack  WHEN destroy asks and the answer is no
    questions: list[str] = []

    def say_no(question: str) -> bool:
        questions.append(question)
        return False

    lines: list[str] = []
    with pytest.raises(InfraError, match="cancelled: nothing was removed"):
        destroy_stack(applied.stack, confirm=say_no, echo=lines.append)
    # THEN it asked once and the stack is intact
    assert len(questions) == 1 and "Remove these" in questions[0]
    # AND, not asked to remove the endpoint, it said that the endpoint keeps billing
    assert any("endpoint dbpedia-classifier, if deployed, keeps" in line for line in lines)
    assert "aws_lambda_function.classifier" in applied.stack.runner.state_list()


def test_destroy_with_yes_removes_the_stack_and_the_endpoint(applied: Applied) -> None:
    # GIVEN the applied stack and the endpoint (deployed by the dry-run test; again if run alone)
    sagemaker = applied.client("sagemaker")
    if find_endpoint_resources(sagemaker, "dbpedia-classifier") is None:
        _deploy_endpoint(sagemaker)
    # WHEN destroy runs with yes and the endpoint client
    report = destroy_stack(
        applied.stack, sagemaker=sagemaker, yes=True, confirm=_never_asked, echo=lambda _: None
    )
    # THEN the state is empty, nothing of the stack is left in moto, and nothing keeps billing
    assert report.removed
    assert applied.stack.runner.state_list() == []
    assert applied.client("lambda").list_functions()["Functions"] == []
    assert applied.client("apigatewayv2").get_apis()["Items"] == []
    cloudfront = applied.client("cloudfront")
    assert cloudfront.list_distributions()["DistributionList"].get("Items", []) == []
    assert cloudfront.list_origin_access_controls()["OriginAccessControlList"].get("Items", []) == []
    assert applied.client("wafv2").list_web_acls(Scope="CLOUDFRONT")["WebACLs"] == []
    assert not any(
        b["Name"].startswith("dbpedia-classifier-site-")
        for b in applied.client("s3").list_buckets()["Buckets"]
    )
    assert find_endpoint_resources(sagemaker, "dbpedia-classifier") is None
    configs = [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]]
    assert "dbpedia-classifier-config" not in configs
    assert "dbpedia-classifier-model" not in [m["ModelName"] for m in sagemaker.list_models()["Models"]]


def _never_asked(question: str) -> bool:
    raise AssertionError(f"asked despite yes=True: {question}")


def _api(applied: Applied) -> dict:
    [api] = [
        a for a in applied.client("apigatewayv2").get_apis()["Items"] if a["Name"] == "dbpedia-classifier"
    ]
    return api


def _sorted(dimensions: list[dict]) -> list[dict]:
    return sorted(dimensions, key=lambda dimension: dimension["Name"])


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _deploy_endpoint(sagemaker) -> None:
    """What `invoke train --target aws` leaves behind: a model, an endpoint config and the endpoint."""
    sagemaker.create_model(
        ModelName="dbpedia-classifier-model",
        ExecutionRoleArn="arn:aws:iam::000000000000:role/sagemaker",
        PrimaryContainer={"Image": "811284229777.dkr.ecr.us-east-1.amazonaws.com/blazingtext:1"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="dbpedia-classifier-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "dbpedia-classifier-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(
        EndpointName="dbpedia-classifier", EndpointConfigName="dbpedia-classifier-config"
    )


def _cloudfront_behind_the_gap_proxy(applied: Applied) -> Any:
    """A CloudFront client that talks to moto through the gap proxy, as the Terraform provider does."""
    return boto3.client(
        "cloudfront",
        endpoint_url=CLOUDFRONT_PROXIES[applied.moto.url],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
