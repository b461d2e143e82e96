# The HTTP API: one route, POST /classify, proxied to the Lambda (payload 2.0) on an auto-deployed
# $default stage with throttling and JSON access logs. The page calls it through CloudFront on its own origin
# (edge.tf), so it needs no CORS; cors.extra_origins allows other sites, and without any there is no CORS.

locals {
  allowed_origins = distinct(var.cors.extra_origins)

  access_log_format = jsonencode({
    requestId               = "$context.requestId"
    sourceIp                = "$context.identity.sourceIp"
    requestTime             = "$context.requestTime"
    httpMethod              = "$context.httpMethod"
    routeKey                = "$context.routeKey"
    status                  = "$context.status"
    protocol                = "$context.protocol"
    responseLength          = "$context.responseLength"
    integrationStatus       = "$context.integrationStatus"
    integrationLatency      = "$context.integrationLatency"
    integrationErrorMessage = "$context.integrationErrorMessage"
  })
}

# --- API ---------------------------------------------------------------------------------------

resource "aws_apigatewayv2_api" "classifier" {
  name          = var.name
  description   = "Text classification into DBPedia classes."
  protocol_type = "HTTP"

  dynamic "cors_configuration" {
    for_each = length(local.allowed_origins) > 0 ? [1] : []

    content {
      allow_origins = local.allowed_origins
      allow_methods = ["POST"]
      allow_headers = var.cors.allow_headers
      max_age       = var.cors.max_age_seconds
    }
  }
}

# --- Integration and route ---------------------------------------------------------------------

resource "aws_apigatewayv2_integration" "lambda" {
  api_id                 = aws_apigatewayv2_api.classifier.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.classifier.invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = 30000
}

resource "aws_apigatewayv2_route" "classify" {
  #checkov:skip=CKV_AWS_309: a public page's API; WAF limits each client at CloudFront, the Lambda refuses calls that skip it
  api_id    = aws_apigatewayv2_api.classifier.id
  route_key = "POST /classify"
  target    = "integrations/${aws_apigatewayv2_integration.lambda.id}"
}

# --- Stage and access logs ---------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "api_access" {
  #checkov:skip=CKV_AWS_158: AWS-managed encryption at rest suffices; these logs hold request metadata, no secrets
  #checkov:skip=CKV_AWS_338: retention is var.log_retention_days; a demo's request logs need not be kept a year
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.classifier.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttling.burst_limit
    throttling_rate_limit  = var.throttling.rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api_access.arn
    format          = local.access_log_format
  }
}
