# The managed policy of the people who train and deploy: what `invoke train / tune / approve / rollback /
# classify / feedback / preflight --target aws` call (ml/aws/*.py, ml/aws/preflight.py, and the SageMaker SDK's
# ModelTrainer, HyperparameterTuner and Session underneath). No wildcard action; each grant on the resources
# the tasks name after the stack, except the calls AWS authorizes only on "*" (the List calls,
# s3:ListAllMyBuckets, cloudwatch:DescribeAlarmsForMetric, the Service Quotas lists).

locals {
  # sid => actions and resources.
  ml_engineer = {
    # Session.default_bucket(): ListBuckets, then HeadBucket, CreateBucket when the bucket is missing.
    FindBuckets = {
      actions   = ["s3:ListAllMyBuckets"]
      resources = ["*"]
    }
    ProjectBucket = {
      actions   = ["s3:CreateBucket", "s3:GetBucketLocation", "s3:ListBucket"]
      resources = [local.bucket_arn]
    }
    # Channels (data/), artifacts (output/), Batch Transform (transform/), a version's deploy inputs (models/).
    ProjectObjects = {
      actions   = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
      resources = [local.objects_arn]
    }
    ListJobs = {
      actions   = ["sagemaker:ListTrainingJobs", "sagemaker:ListTransformJobs", "sagemaker:ListModelPackages"]
      resources = ["*"]
    }
    # Job names: ml/aws/train.py JOB_PREFIX, ml/aws/tune.py JOB_PREFIX, ml/aws/transform.py JOB_PREFIX.
    TrainAndTune = {
      actions = [
        "sagemaker:AddTags",
        "sagemaker:CreateHyperParameterTuningJob",
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeHyperParameterTuningJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopHyperParameterTuningJob",
        "sagemaker:StopTrainingJob",
      ]
      resources = [
        "${local.sagemaker}:training-job/blazingtext-*",
        "${local.sagemaker}:hyper-parameter-tuning-job/blazingtext-tune-*",
      ]
    }
    TrainingLogs = {
      actions   = ["logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents"]
      resources = ["${local.logs}:/aws/sagemaker/TrainingJobs", "${local.logs}:/aws/sagemaker/TrainingJobs:*"]
    }
    Versions = {
      actions = [
        "sagemaker:CreateModelPackage",
        "sagemaker:CreateModelPackageGroup",
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:UpdateModelPackage",
      ]
      resources = [
        "${local.sagemaker}:model-package-group/${local.stack}",
        "${local.sagemaker}:model-package/${local.stack}/*",
      ]
    }
    # Model <name>-<sha16>, endpoint config <name>-<hash>, endpoint <name> (ml/aws/deploy.py).
    Hosting = {
      actions = [
        "sagemaker:CreateEndpoint",
        "sagemaker:CreateEndpointConfig",
        "sagemaker:CreateModel",
        "sagemaker:DeleteEndpoint",
        "sagemaker:DeleteEndpointConfig",
        "sagemaker:DeleteModel",
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeEndpointConfig",
        "sagemaker:DescribeModel",
        "sagemaker:UpdateEndpoint",
      ]
      resources = [
        "${local.sagemaker}:endpoint/${local.stack}",
        "${local.sagemaker}:endpoint-config/${local.stack}-*",
        "${local.sagemaker}:model/${local.stack}-*",
      ]
    }
    BatchTransform = {
      actions   = ["sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob"]
      resources = ["${local.sagemaker}:transform-job/bulk-*", "${local.sagemaker}:model/${local.stack}-*"]
    }
    # The deploy finds the endpoint's alarms by metric, and a guarded update reads their state.
    FindAlarms = {
      actions   = ["cloudwatch:DescribeAlarmsForMetric"]
      resources = ["*"]
    }
    EndpointAlarms = {
      actions   = ["cloudwatch:DescribeAlarms"]
      resources = [local.alarms_arn]
    }
    # invoke preflight: the execution role exists, trusts SageMaker and passes the SDK's check.
    CheckExecutionRole = {
      actions   = ["iam:GetRole", "iam:SimulatePrincipalPolicy"]
      resources = [local.role_arn]
    }
    # invoke feedback --target aws: the bucket the stack's Lambda writes visitors' feedback to (its
    # configuration names it: terraform/feedback.tf, bucket_prefix <name>-feedback-), read only.
    FindFeedback = {
      actions   = ["lambda:GetFunctionConfiguration"]
      resources = [local.function_arn]
    }
    FeedbackBucket = {
      actions   = ["s3:ListBucket"]
      resources = [local.feedback_bucket_arn]
    }
    FeedbackItems = {
      actions   = ["s3:GetObject"]
      resources = ["${local.feedback_bucket_arn}/feedback/*"]
    }
    Quotas = {
      actions   = ["servicequotas:ListAWSDefaultServiceQuotas", "servicequotas:ListServiceQuotas"]
      resources = ["*"]
    }
  }
}

data "aws_iam_policy_document" "ml_engineer" {
  dynamic "statement" {
    for_each = local.ml_engineer

    content {
      sid       = statement.key
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }

  # The jobs, the models and the endpoint run as the execution role: the engineer may hand over that one
  # role, and only to SageMaker.
  statement {
    sid       = "PassExecutionRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.execution.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "ml_engineer" {
  name        = "${var.name}-ml-engineer"
  description = "Train, tune, approve, roll back, batch-classify and preflight ${var.name} on SageMaker (invoke ... --target aws)."
  policy      = data.aws_iam_policy_document.ml_engineer.json
}
