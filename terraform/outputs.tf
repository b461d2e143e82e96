# Outputs, alphabetical: what the next command or a person needs after `invoke infra`.

output "alarm_topic_arn" {
  description = "ARN of the SNS topic every alarm notifies; subscribe to it (or set alarm_email) to hear of them."
  value       = aws_sns_topic.alarms.arn
}

output "api_url" {
  description = "Base URL of the HTTP API itself, without trailing slash; it answers only requests that came through CloudFront (403 otherwise)."
  value       = local.api_url
}

output "dashboard_url" {
  description = "The CloudWatch dashboard of the API, the Lambda and the endpoint, in the AWS console."
  value       = "https://${var.aws_region}.console.aws.amazon.com/cloudwatch/home?region=${var.aws_region}#dashboards/dashboard/${aws_cloudwatch_dashboard.classifier.dashboard_name}"
}

output "distribution_id" {
  description = "ID of the CloudFront distribution in front of the site and POST /classify."
  value       = aws_cloudfront_distribution.edge.id
}

output "feedback_bucket_name" {
  description = "Name of the private S3 bucket visitors' feedback goes to (under feedback/); `invoke feedback --target aws` reads it."
  value       = aws_s3_bucket.feedback.id
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
  description = "Name of the private S3 bucket CloudFront reads the site from."
  value       = aws_s3_bucket.site.id
}

output "site_url" {
  description = "The public URL: the distribution's HTTPS origin (domain_name, else its cloudfront.net name); the page POSTs to <site_url>/classify."
  value       = local.site_origin
}

output "web_acl_arn" {
  description = "ARN of the WAF web ACL on the distribution (per-client rate limit)."
  value       = aws_wafv2_web_acl.edge.arn
}
