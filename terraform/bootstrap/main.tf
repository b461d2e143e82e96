# The names and ARNs both policies grant on: the project's bucket and prefix (s3://<bucket>/<s3_prefix>/),
# and the SageMaker resources the tasks name after the stack (SageMaker writes its ARNs in lower case).

data "aws_caller_identity" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  region    = var.aws_region
  stack     = lower(var.name)
  bucket    = var.bucket != "" ? var.bucket : "sagemaker-${local.region}-${local.account}"
  role_name = "${var.name}-sagemaker-execution"
  role_arn  = "arn:aws:iam::${local.account}:role/${local.role_name}"

  bucket_arn  = "arn:aws:s3:::${local.bucket}"
  objects_arn = "arn:aws:s3:::${local.bucket}/${var.s3_prefix}/*"
  sagemaker   = "arn:aws:sagemaker:${local.region}:${local.account}"
  logs        = "arn:aws:logs:${local.region}:${local.account}:log-group"
  # The endpoint's alarms (terraform/monitoring.tf): <name>-endpoint-5xx, <name>-endpoint-model-latency-p99.
  alarms_arn = "arn:aws:cloudwatch:${local.region}:${local.account}:alarm:${var.name}-*"
  # The stack's Lambda (terraform/lambda.tf: function_name = name) and its feedback bucket (feedback.tf).
  function_arn        = "arn:aws:lambda:${local.region}:${local.account}:function:${var.name}"
  feedback_bucket_arn = "arn:aws:s3:::${var.name}-feedback-*"
}
