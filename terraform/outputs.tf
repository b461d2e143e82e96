# Outputs, alphabetical: what the next command or a person needs after `invoke infra`.

output "api_url" {
  description = "Base URL of the HTTP API, without trailing slash; the site POSTs to <api_url>/classify."
  value       = local.api_url
}

output "lambda_function_name" {
  description = "Name of the Lambda function behind POST /classify."
  value       = aws_lambda_function.classifier.function_name
}

output "lambda_role_arn" {
  description = "ARN of the Lambda's IAM role."
  value       = aws_iam_role.lambda.arn
}

output "site_bucket_name" {
  description = "Name of the S3 bucket that serves the site."
  value       = aws_s3_bucket.site.id
}

output "site_url" {
  description = "URL of the static site (S3 website endpoint, HTTP)."
  value       = local.site_origin
}
