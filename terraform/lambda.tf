# The Lambda function behind POST /classify, its log group and API Gateway's permission to call it.

resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_158: AWS-managed encryption at rest suffices; these logs hold request metadata, no secrets
  #checkov:skip=CKV_AWS_338: retention is var.log_retention_days; a demo's request logs need not be kept a year
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "classifier" {
  #checkov:skip=CKV_AWS_50: X-Ray needs xray:PutTraceSegments, outside the role's endpoint-plus-logs policy
  #checkov:skip=CKV_AWS_115: new accounts' concurrency quota (10) rejects reservations; stage throttling caps load
  #checkov:skip=CKV_AWS_116: API Gateway invokes synchronously and gets the error; a DLQ serves async calls only
  #checkov:skip=CKV_AWS_117: it calls only the SageMaker runtime's public endpoint; a VPC would need NAT or endpoints
  #checkov:skip=CKV_AWS_173: its one shared value, ORIGIN_VERIFY_SECRET, only proves a call came through CloudFront (docs/edge.md); AWS-managed encryption at rest
  #checkov:skip=CKV_AWS_272: the zip is built and deployed by the same reviewed pipeline; no signing profile
  function_name    = var.name
  description      = "Classifies a text into a DBPedia class through the SageMaker endpoint ${var.endpoint_name}."
  role             = aws_iam_role.lambda.arn
  runtime          = "python3.12"
  handler          = "handler.lambda_handler"
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  memory_size      = var.lambda_memory_mb
  timeout          = var.lambda_timeout_seconds

  # Each of var.lambda_settings as its upper-cased name (TOP_K ...), then what the stack itself supplies.
  environment {
    variables = merge(
      { for name, value in var.lambda_settings : upper(name) => tostring(value) },
      {
        ALLOWED_ORIGINS                    = join(",", local.allowed_origins)
        AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME = var.sagemaker_runtime_url
        ENDPOINT_NAME                      = var.endpoint_name
        FEEDBACK_BUCKET                    = aws_s3_bucket.feedback.id
        LABELS                             = jsonencode([for item in jsondecode(var.site_page).labels : item.label]) # what feedback may name
        LOG_LEVEL                          = var.log_level
        MODEL_SHA256                       = var.model_sha256
        ORIGIN_VERIFY_SECRET               = terraform_data.origin_verify.output
        VOCABULARY_FILE                    = "vocabulary.txt.gz" # the zip's root: ops/infra/lambda_zip.py
      },
    )
  }

  # Logs go to /aws/lambda/<function_name>: that group must exist with its retention, and the role must
  # be allowed to write to it, before the first invocation.
  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda]
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowInvokeFromHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.classifier.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.classifier.execution_arn}/*/POST/classify"
}
