# Outputs, alphabetical: what the next command or a person needs after `invoke infra`.

output "alarm_topic_arn" {
  description = "ARN of the SNS topic every alarm notifies; subscribe to it (or set alarm_email) to hear of them."
  value       = aws_sns_topic.alarms.arn
}

output "api_url" {
  description = "Base URL of the HTTP API, without trailing slash; the site POSTs to <api_url>/classify."
  value       = local.api_url
}

output "dashboard_url" {
  description = "The CloudWatch dashboard of the API, the Lambda and the endpoint, in the AWS console."
  value       = "https://${var.aws_region}.console.aws.amazon.com/cloudwatch/home?region=${var.aws_region}#dashboards/dashboard/${aws_cloudwatch_dashboard.classifier.dashboard_name}"
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
