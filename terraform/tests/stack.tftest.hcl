# Tests of the root module with a mocked AWS provider: no emulator, no credentials, seconds. `apply` here
# applies to the mock only, so values computed by AWS are known (generated) and can be asserted on.
# What they hold: the Lambda role's statements, throttling and timeouts, the outputs, the edge's privacy (private
# bucket read by CloudFront only, WAF with a rate rule, HTTPS). Plain `terraform test` runs them (no -var
# needed: the Lambda zip and the site folder are the fixtures in tests/fixtures/, paths relative to terraform/):
#   terraform -chdir=terraform init && terraform -chdir=terraform test
# tests/infra/test_terraform_tests.py runs exactly that (so `./dev test`).
# Mocked data sources return random values for computed attributes (an aws_iam_policy_document's json among
# them), so these tests assert the statements the configuration passes in, not the rendered JSON.

mock_provider "aws" {
  # ARNs the provider validates where other resources use them (generated values are not ARNs).
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/dbpedia-classifier-lambda" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    defaults = { arn = "arn:aws:logs:us-east-1:123456789012:log-group:mocked" }
  }
  mock_resource "aws_sns_topic" {
    defaults = { arn = "arn:aws:sns:us-east-1:123456789012:dbpedia-classifier-alarms" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::dbpedia-classifier-site-mocked" }
  }
  mock_resource "aws_lambda_function" {
    defaults = {
      arn        = "arn:aws:lambda:us-east-1:123456789012:function:dbpedia-classifier"
      invoke_arn = "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:dbpedia-classifier/invocations"
    }
  }
  mock_resource "aws_apigatewayv2_stage" {
    defaults = { invoke_url = "https://abc123.execute-api.us-east-1.amazonaws.com/" }
  }
  mock_resource "aws_cloudfront_distribution" {
    defaults = {
      arn         = "arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE"
      domain_name = "d111111abcdef8.cloudfront.net"
    }
  }
  mock_resource "aws_apigatewayv2_api" {
    defaults = {
      arn           = "arn:aws:apigateway:us-east-1::/apis/abc123"
      execution_arn = "arn:aws:execute-api:us-east-1:123456789012:abc123"
    }
  }

  override_data {
    target = data.aws_iam_policy_document.lambda_assume
    values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  override_data {
    target = data.aws_iam_policy_document.lambda
    values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  override_data {
    target = data.aws_iam_policy_document.lambda_feedback
    values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  override_data {
    target = data.aws_iam_policy_document.site_read_by_cloudfront
    values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

# The us-east-1 provider of versions.tf (CloudFront's WAF web ACL and certificate).
mock_provider "aws" {
  alias = "us_east_1"

  mock_resource "aws_wafv2_web_acl" {
    defaults = { arn = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/dbpedia-classifier-edge/a1b2c3" }
  }
}

variables {
  aws_region            = "us-east-1"
  endpoint_arn          = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/dbpedia-classifier"
  endpoint_name         = "dbpedia-classifier"
  sagemaker_runtime_url = "https://runtime.sagemaker.us-east-1.amazonaws.com"
  endpoint_capacity     = { mode = "instance", instance_type = "ml.t2.medium", instance_count = 1 }
  lambda_settings = {
    top_k                    = 3
    max_text_chars           = 5000
    endpoint_timeout_seconds = 10
    endpoint_max_attempts    = 2
    min_known_percent        = 10
    explain_max_words        = 50
    feedback                 = 1
    n_labels                 = 14
  }
  site_page    = "{\"labels\": [{\"label\": \"Company\", \"name\": \"Company\", \"description\": \"\"}], \"examples\": []}"
  model_sha256 = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
  # Fixtures (the mock never runs the zip): a stand-in handler, and a page with the real config.js template.
  lambda_zip_path = "tests/fixtures/lambda.zip"
  site_dir        = "tests/fixtures/site"
}

run "lambda_role_invokes_its_one_endpoint_and_writes_its_own_logs" {
  command = apply

  assert {
    condition     = length(data.aws_iam_policy_document.lambda.statement) == 2
    error_message = "the Lambda's policy must hold exactly two statements"
  }
  assert {
    condition = (
      data.aws_iam_policy_document.lambda.statement[0].actions == toset(["sagemaker:InvokeEndpoint"]) &&
      data.aws_iam_policy_document.lambda.statement[0].resources == toset([var.endpoint_arn])
    )
    error_message = "the first statement must allow sagemaker:InvokeEndpoint on endpoint_arn only"
  }
  assert {
    condition = (
      data.aws_iam_policy_document.lambda.statement[1].actions == toset(["logs:CreateLogStream", "logs:PutLogEvents"]) &&
      data.aws_iam_policy_document.lambda.statement[1].resources == toset(["${aws_cloudwatch_log_group.lambda.arn}:*"])
    )
    error_message = "the second statement must allow writing log streams of the Lambda's own group only"
  }
  assert {
    condition     = aws_cloudwatch_log_group.lambda.name == "/aws/lambda/${aws_lambda_function.classifier.function_name}"
    error_message = "the log group must be the one Lambda writes to"
  }
  assert {
    condition = (
      one(one(data.aws_iam_policy_document.lambda_assume.statement).principals).identifiers == toset(["lambda.amazonaws.com"]) &&
      one(data.aws_iam_policy_document.lambda_assume.statement).actions == toset(["sts:AssumeRole"])
    )
    error_message = "only the Lambda service may assume the role"
  }
  assert {
    condition     = aws_lambda_permission.api.principal == "apigateway.amazonaws.com" && endswith(aws_lambda_permission.api.source_arn, "/*/POST/classify")
    error_message = "only the HTTP API, on POST /classify, may invoke the Lambda"
  }
  assert {
    condition = (
      aws_lambda_function.classifier.environment[0].variables["TOP_K"] == "3" &&
      aws_lambda_function.classifier.environment[0].variables["MAX_TEXT_CHARS"] == "5000" &&
      aws_lambda_function.classifier.environment[0].variables["ENDPOINT_TIMEOUT_SECONDS"] == "10" &&
      aws_lambda_function.classifier.environment[0].variables["ENDPOINT_MAX_ATTEMPTS"] == "2" &&
      aws_lambda_function.classifier.environment[0].variables["MIN_KNOWN_PERCENT"] == "10" &&
      aws_lambda_function.classifier.environment[0].variables["ENDPOINT_NAME"] == var.endpoint_name
    )
    error_message = "the Lambda's environment must hold each of lambda_settings under its upper-cased name, and the endpoint"
  }
}

run "feedback_is_private_encrypted_expires_and_only_put_by_the_lambda" {
  command = apply

  variables {
    feedback_retention_days = 30
  }

  assert {
    condition = (
      one(aws_s3_bucket_lifecycle_configuration.feedback.rule).status == "Enabled" &&
      one(one(aws_s3_bucket_lifecycle_configuration.feedback.rule).expiration).days == 30 &&
      one(one(aws_s3_bucket_lifecycle_configuration.feedback.rule).filter).prefix == ""
    )
    error_message = "every feedback item must expire after feedback_retention_days"
  }
  assert {
    condition = (
      aws_s3_bucket_public_access_block.feedback.block_public_acls && aws_s3_bucket_public_access_block.feedback.ignore_public_acls &&
      aws_s3_bucket_public_access_block.feedback.block_public_policy && aws_s3_bucket_public_access_block.feedback.restrict_public_buckets &&
      one(one(aws_s3_bucket_server_side_encryption_configuration.feedback.rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    )
    error_message = "the feedback bucket must be private and encrypted"
  }
  assert {
    condition = (
      one(data.aws_iam_policy_document.lambda_feedback.statement).actions == toset(["s3:PutObject"]) &&
      one(data.aws_iam_policy_document.lambda_feedback.statement).resources == toset(["${aws_s3_bucket.feedback.arn}/feedback/*"])
    )
    error_message = "the Lambda may only put objects under feedback/ of its bucket"
  }
  assert {
    condition = (
      aws_apigatewayv2_route.feedback.route_key == "POST /feedback" &&
      endswith(aws_lambda_permission.feedback.source_arn, "/*/POST/feedback") &&
      aws_lambda_function.classifier.environment[0].variables["FEEDBACK"] == "1" &&
      aws_lambda_function.classifier.environment[0].variables["FEEDBACK_BUCKET"] == aws_s3_bucket.feedback.id &&
      aws_lambda_function.classifier.environment[0].variables["LABELS"] == "[\"Company\"]"
    )
    error_message = "POST /feedback must reach the Lambda, which must know the bucket, the switch and the model's labels"
  }
}

run "stage_throttles_above_zero" {
  command = apply

  variables {
    throttling = { burst_limit = 7, rate_limit = 3 }
  }

  assert {
    condition = (
      one(aws_apigatewayv2_stage.default.default_route_settings).throttling_burst_limit == 7 &&
      one(aws_apigatewayv2_stage.default.default_route_settings).throttling_rate_limit == 3
    )
    error_message = "the stage must throttle at the configured burst and rate"
  }
  assert {
    condition     = aws_lambda_function.classifier.timeout <= 30 && aws_apigatewayv2_integration.lambda.timeout_milliseconds <= 30000
    error_message = "the Lambda and the integration must time out within the HTTP API's 30 s"
  }
}

run "a_name_too_long_for_the_site_bucket_prefix_is_refused" {
  command = plan

  variables {
    name = "a-stack-name-of-thirty-two-chars"
  }

  expect_failures = [var.name]
}

run "zero_throttling_is_refused" {
  command = plan

  variables {
    throttling = { burst_limit = 0, rate_limit = 10 }
  }

  expect_failures = [var.throttling]
}

run "outputs_name_the_api_and_the_role" {
  command = apply

  assert {
    condition     = output.api_url == "https://abc123.execute-api.us-east-1.amazonaws.com"
    error_message = "api_url must be the stage's URL without its trailing slash"
  }
  assert {
    condition     = output.lambda_function_name == "dbpedia-classifier"
    error_message = "lambda_function_name must be the function's name"
  }
  assert {
    condition     = startswith(output.dashboard_url, "https://us-east-1.console.aws.amazon.com/cloudwatch/")
    error_message = "dashboard_url must open the dashboard in the stack's region"
  }
}

run "the_bucket_is_private_and_only_the_edge_faces_the_public" {
  command = apply

  assert {
    condition = (
      aws_s3_bucket_public_access_block.site.block_public_acls && aws_s3_bucket_public_access_block.site.block_public_policy &&
      aws_s3_bucket_public_access_block.site.ignore_public_acls && aws_s3_bucket_public_access_block.site.restrict_public_buckets
    )
    error_message = "all four public-access blocks of the site bucket must be on"
  }
  assert {
    condition = (
      one(one(data.aws_iam_policy_document.site_read_by_cloudfront.statement).principals).type == "Service" &&
      one(one(data.aws_iam_policy_document.site_read_by_cloudfront.statement).principals).identifiers == toset(["cloudfront.amazonaws.com"]) &&
      one(data.aws_iam_policy_document.site_read_by_cloudfront.statement).actions == toset(["s3:GetObject"])
    )
    error_message = "only CloudFront may read the site bucket, and only its objects"
  }
  assert {
    condition     = aws_cloudfront_distribution.edge.web_acl_id == aws_wafv2_web_acl.edge.arn
    error_message = "the distribution must be behind the stack's WAF web ACL"
  }
  assert {
    condition = alltrue([
      for b in concat(aws_cloudfront_distribution.edge.default_cache_behavior, aws_cloudfront_distribution.edge.ordered_cache_behavior) :
      b.viewer_protocol_policy == "redirect-to-https"
    ])
    error_message = "every behaviour of the distribution must redirect to HTTPS"
  }
  assert {
    condition = alltrue([
      for r in aws_wafv2_web_acl.edge.rule : r.statement[0].rate_based_statement[0].limit > 0
      if length(r.statement[0].rate_based_statement) > 0
    ]) && anytrue([for r in aws_wafv2_web_acl.edge.rule : length(r.statement[0].rate_based_statement) > 0])
    error_message = "the web ACL must hold a rate-based rule with a limit above zero"
  }
  assert {
    condition     = output.site_url == "https://d111111abcdef8.cloudfront.net"
    error_message = "site_url must be the distribution's HTTPS address"
  }
}
