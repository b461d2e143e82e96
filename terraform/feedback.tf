# Visitors' feedback (docs/feedback.md): POST /feedback on the same HTTP API and Lambda, stored only with
# consent in a private, encrypted bucket whose objects expire after feedback_retention_days. The Lambda's
# role may put objects under feedback/ there and do nothing else with the bucket.

locals {
  feedback_prefix = "feedback/" # lambda/contract.py FEEDBACK_PREFIX
}

# --- Bucket ------------------------------------------------------------------------------------

resource "aws_s3_bucket" "feedback" {
  #checkov:skip=CKV_AWS_18: access logs of visitors' feedback would keep what the Lambda refuses to keep (IPs)
  #checkov:skip=CKV_AWS_21: items are written once and expire; versions would outlive feedback_retention_days
  #checkov:skip=CKV_AWS_144: feedback is kept feedback_retention_days only; a replica would keep it elsewhere
  #checkov:skip=CKV_AWS_145: SSE-S3 suffices for texts visitors chose to share; SSE-KMS adds a key to manage
  #checkov:skip=CKV2_AWS_62: `invoke feedback` reads the items when a person asks; nothing consumes events
  bucket_prefix = "${var.name}-feedback-"
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "feedback" {
  bucket = aws_s3_bucket.feedback.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "feedback" {
  bucket = aws_s3_bucket.feedback.id

  block_public_acls       = true
  ignore_public_acls      = true
  block_public_policy     = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "feedback" {
  bucket = aws_s3_bucket.feedback.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "feedback" {
  bucket = aws_s3_bucket.feedback.id

  rule {
    id     = "expire-feedback"
    status = "Enabled"

    filter {
      prefix = ""
    }

    expiration {
      days = var.feedback_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# --- The Lambda may put items, nothing else ----------------------------------------------------

data "aws_iam_policy_document" "lambda_feedback" {
  statement {
    sid       = "PutFeedbackItems"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.feedback.arn}/${local.feedback_prefix}*"]
  }
}

resource "aws_iam_role_policy" "lambda_feedback" {
  name   = "${aws_iam_role.lambda.name}-feedback"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda_feedback.json
}

# --- The route ---------------------------------------------------------------------------------

resource "aws_apigatewayv2_route" "feedback" {
  #checkov:skip=CKV_AWS_309: a public page's feedback; WAF limits each client at CloudFront, the Lambda refuses calls that skip it
  api_id    = aws_apigatewayv2_api.classifier.id
  route_key = "POST /feedback"
  target    = "integrations/${aws_apigatewayv2_integration.lambda.id}"
}

resource "aws_lambda_permission" "feedback" {
  statement_id  = "AllowFeedbackFromHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.classifier.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.classifier.execution_arn}/*/POST/feedback"
}
