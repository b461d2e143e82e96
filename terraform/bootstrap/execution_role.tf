# The role SageMaker assumes to run the training, tuning and transform jobs and to host the endpoint.
#
# SdkRoleCheck holds every action the SDK's role check simulates on "*" before a ModelTrainer starts
# (sagemaker-core iam_role_resolver: the statements of IAM_POLICY_CONFIG["training"] whose resource is "*");
# a role without one of them fails with RoleValidationError for any caller allowed iam:SimulatePrincipalPolicy.
# tests/aws/test_bootstrap_policies.py fails when one is missing. The rest is scoped to this stack.

data "aws_iam_policy_document" "execution_trust" {
  statement {
    sid     = "SageMaker"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }

    # Only SageMaker acting for this account (the confused-deputy guard the SDK's own roles carry).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

data "aws_iam_policy_document" "execution" {
  #checkov:skip=CKV_AWS_111: the SDK simulates its role check on "*" (SdkRoleCheck: ec2 network interfaces for VPC jobs, PutMetricData); every other write is scoped to the stack
  #checkov:skip=CKV_AWS_356: SdkRoleCheck is granted on "*" because the SDK's check simulates it on "*" (and ecr:GetAuthorizationToken, PutMetricData take no resource)
  #checkov:skip=CKV_AWS_109: the ec2 network-interface permission actions of SdkRoleCheck are what the SDK's role check requires on "*" for VPC jobs
  statement {
    sid = "SdkRoleCheck"
    actions = [
      "cloudwatch:PutMetricData",
      "ec2:CreateNetworkInterface",
      "ec2:CreateNetworkInterfacePermission",
      "ec2:DeleteNetworkInterface",
      "ec2:DeleteNetworkInterfacePermission",
      "ec2:DescribeDhcpOptions",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcs",
      "ecr:GetAuthorizationToken",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "ProjectBucket"
    actions   = ["s3:GetBucketLocation", "s3:ListBucket"]
    resources = [local.bucket_arn]
  }

  # data/ (channels), output/ (job artifacts), transform/ (Batch Transform in and out), models/ (hosting).
  statement {
    sid       = "ProjectObjects"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.objects_arn]
  }

  statement {
    sid       = "PullBlazingText"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = ["arn:aws:ecr:${local.region}:*:repository/blazingtext"]
  }

  statement {
    sid     = "JobAndEndpointLogs"
    actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = [
      "${local.logs}:/aws/sagemaker/TrainingJobs",
      "${local.logs}:/aws/sagemaker/TrainingJobs:*",
      "${local.logs}:/aws/sagemaker/TransformJobs",
      "${local.logs}:/aws/sagemaker/TransformJobs:*",
      "${local.logs}:/aws/sagemaker/Endpoints/${var.name}",
      "${local.logs}:/aws/sagemaker/Endpoints/${var.name}:*",
    ]
  }

  # A guarded UpdateEndpoint: SageMaker reads the alarms of its AutoRollbackConfiguration as this role.
  statement {
    sid       = "DeploymentGuardrails"
    actions   = ["cloudwatch:DescribeAlarms"]
    resources = [local.alarms_arn]
  }
}

resource "aws_iam_role" "execution" {
  name                 = local.role_name
  description          = "SageMaker runs ${var.name}'s training, tuning and transform jobs and hosts its endpoint as this role."
  assume_role_policy   = data.aws_iam_policy_document.execution_trust.json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "execution" {
  name   = "sagemaker-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}
