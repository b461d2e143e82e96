# Two roles that GitHub Actions assumes through OIDC (no stored keys): `plan` for pull requests (reads the
# stack, takes the state lock, changes nothing) and `deploy` for main (applies and destroys). Each grant names
# its actions one by one (no wildcard action) on resources named after the stack wherever the service allows.
# Neither role may change either role: the deploy role's IAM grant names the Lambda's role only, and an
# explicit Deny on the two CI roles holds even if a later grant matches them (tests/iam/ proves both).

data "aws_caller_identity" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
  region  = var.aws_region
  oidc    = "token.actions.githubusercontent.com"
  # Where `invoke train --target aws` stores a model's deploy inputs (ml/aws/store.py), read by plan and infra.
  model_bucket = var.bucket != "" ? var.bucket : "sagemaker-${local.region}-${local.account}"

  # sid => what the plan role may read, what the deploy role may also change, and on which resources.
  grants = {
    LambdaRole = {
      read      = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole", "iam:ListRoleTags"]
      write     = ["iam:CreateRole", "iam:DeleteRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:TagRole", "iam:UntagRole"]
      resources = [local.lambda_role_arn]
    }
    Lambda = {
      read      = ["lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:GetFunctionCodeSigningConfig", "lambda:GetFunctionConcurrency", "lambda:GetPolicy", "lambda:ListVersionsByFunction", "lambda:ListTags"]
      write     = ["lambda:CreateFunction", "lambda:DeleteFunction", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:AddPermission", "lambda:RemovePermission", "lambda:PutFunctionConcurrency", "lambda:DeleteFunctionConcurrency", "lambda:TagResource", "lambda:UntagResource"]
      resources = ["arn:aws:lambda:${local.region}:${local.account}:function:${var.name}"]
    }
    HttpApi = {
      read      = ["apigateway:GET"]
      write     = ["apigateway:POST", "apigateway:PATCH", "apigateway:PUT", "apigateway:DELETE"]
      resources = ["arn:aws:apigateway:${local.region}::/apis", "arn:aws:apigateway:${local.region}::/apis/*", "arn:aws:apigateway:${local.region}::/tags/*"]
    }
    # The stage's access logs: API Gateway delivers them through CloudWatch Logs' log delivery, with the
    # caller's rights (API Gateway's "http-api-logging" page); these actions take no resource but "*".
    HttpApiAccessLogs = {
      read      = ["logs:GetLogDelivery", "logs:ListLogDeliveries", "logs:DescribeResourcePolicies"]
      write     = ["logs:CreateLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:PutResourcePolicy"]
      resources = ["*"]
    }
    LogGroups = {
      read      = ["logs:DescribeLogGroups", "logs:ListTagsForResource", "logs:ListTagsLogGroup"]
      write     = ["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:TagResource", "logs:UntagResource", "logs:TagLogGroup"]
      resources = ["arn:aws:logs:${local.region}:${local.account}:log-group:*"]
    }
    AlarmsAndDashboard = {
      read      = ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource", "cloudwatch:GetDashboard"]
      write     = ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:TagResource", "cloudwatch:UntagResource", "cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards"]
      resources = ["arn:aws:cloudwatch:${local.region}:${local.account}:alarm:${var.name}-*", "arn:aws:cloudwatch::${local.account}:dashboard/${var.name}"]
    }
    AlarmTopic = {
      read      = ["sns:GetTopicAttributes", "sns:ListTagsForResource", "sns:ListSubscriptionsByTopic", "sns:GetSubscriptionAttributes"]
      write     = ["sns:CreateTopic", "sns:DeleteTopic", "sns:SetTopicAttributes", "sns:Subscribe", "sns:Unsubscribe", "sns:TagResource", "sns:UntagResource"]
      resources = ["arn:aws:sns:${local.region}:${local.account}:${var.name}-*"]
    }
    ModelInputs = {
      read      = ["s3:GetObject"]
      write     = []
      resources = ["arn:aws:s3:::${local.model_bucket}/${var.s3_prefix}/models/*"]
    }
    SiteBucket = {
      read      = ["s3:ListBucket", "s3:GetBucketPolicy", "s3:GetBucketAcl", "s3:GetBucketCORS", "s3:GetBucketWebsite", "s3:GetBucketVersioning", "s3:GetAccelerateConfiguration", "s3:GetBucketRequestPayment", "s3:GetBucketLogging", "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration", "s3:GetEncryptionConfiguration", "s3:GetBucketObjectLockConfiguration", "s3:GetBucketTagging", "s3:GetBucketOwnershipControls", "s3:GetBucketPublicAccessBlock", "s3:GetObject", "s3:GetObjectTagging"]
      write     = ["s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:PutBucketPublicAccessBlock", "s3:PutBucketOwnershipControls", "s3:PutEncryptionConfiguration", "s3:PutBucketTagging", "s3:PutObject", "s3:DeleteObject", "s3:PutObjectTagging"]
      resources = ["arn:aws:s3:::${var.name}-site-*", "arn:aws:s3:::${var.name}-site-*/*"]
    }
    # Visitors' feedback (feedback.tf): the bucket and its settings, never its objects' content: neither CI
    # role reads what visitors sent (`invoke feedback --target aws` runs as a person). s3:ListBucket is
    # HeadBucket's right, which the provider polls after creating a bucket.
    FeedbackBucket = {
      read      = ["s3:ListBucket", "s3:GetBucketPolicy", "s3:GetBucketAcl", "s3:GetBucketCORS", "s3:GetBucketWebsite", "s3:GetBucketVersioning", "s3:GetAccelerateConfiguration", "s3:GetBucketRequestPayment", "s3:GetBucketLogging", "s3:GetLifecycleConfiguration", "s3:GetReplicationConfiguration", "s3:GetEncryptionConfiguration", "s3:GetBucketObjectLockConfiguration", "s3:GetBucketTagging", "s3:GetBucketOwnershipControls", "s3:GetBucketPublicAccessBlock"]
      write     = ["s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketPublicAccessBlock", "s3:PutBucketOwnershipControls", "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration", "s3:PutBucketTagging"]
      resources = ["arn:aws:s3:::${var.name}-feedback-*"]
    }
    EndpointScaling = {
      read      = ["application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies", "application-autoscaling:ListTagsForResource"]
      write     = ["application-autoscaling:RegisterScalableTarget", "application-autoscaling:DeregisterScalableTarget", "application-autoscaling:PutScalingPolicy", "application-autoscaling:DeleteScalingPolicy", "application-autoscaling:TagResource", "application-autoscaling:UntagResource"]
      resources = ["arn:aws:application-autoscaling:${local.region}:${local.account}:scalable-target/*"]
    }
    # Target tracking creates and removes its own alarms with the caller's rights (SageMaker's
    # "endpoint-auto-scaling-prerequisites" page): TargetTracking-endpoint/<name>/variant/<variant>-AlarmHigh-<id>.
    EndpointScalingAlarms = {
      read      = ["cloudwatch:DescribeAlarms"]
      write     = ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"]
      resources = ["arn:aws:cloudwatch:${local.region}:${local.account}:alarm:TargetTracking-endpoint/${var.name}/*"]
    }
    # The endpoint `invoke train` deploys: scaled through Application Auto Scaling (which needs the caller
    # to be allowed UpdateEndpointWeightsAndCapacities) and removed by destroy.yml with `endpoint: true`
    # (ml/aws/resources.py: describe the endpoint and its config, delete endpoint, config, models).
    # SageMaker ARNs name resources in lower case.
    Endpoint = {
      read      = ["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig"]
      write     = ["sagemaker:UpdateEndpointWeightsAndCapacities", "sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig", "sagemaker:DeleteModel"]
      resources = ["arn:aws:sagemaker:${local.region}:${local.account}:endpoint/${lower(var.name)}", "arn:aws:sagemaker:${local.region}:${local.account}:endpoint-config/${lower(var.name)}-*", "arn:aws:sagemaker:${local.region}:${local.account}:model/${lower(var.name)}-*"]
    }
    Edge = {
      read      = ["cloudfront:GetDistribution", "cloudfront:GetDistributionConfig", "cloudfront:ListTagsForResource", "cloudfront:GetOriginAccessControl", "cloudfront:GetResponseHeadersPolicy"]
      write     = ["cloudfront:CreateDistribution", "cloudfront:CreateDistributionWithTags", "cloudfront:UpdateDistribution", "cloudfront:DeleteDistribution", "cloudfront:TagResource", "cloudfront:UntagResource", "cloudfront:CreateOriginAccessControl", "cloudfront:UpdateOriginAccessControl", "cloudfront:DeleteOriginAccessControl", "cloudfront:CreateResponseHeadersPolicy", "cloudfront:UpdateResponseHeadersPolicy", "cloudfront:DeleteResponseHeadersPolicy"]
      resources = ["arn:aws:cloudfront::${local.account}:distribution/*", "arn:aws:cloudfront::${local.account}:origin-access-control/*", "arn:aws:cloudfront::${local.account}:response-headers-policy/*"]
    }
    EdgeWaf = {
      read      = ["wafv2:GetWebACL", "wafv2:ListTagsForResource"]
      write     = ["wafv2:CreateWebACL", "wafv2:UpdateWebACL", "wafv2:DeleteWebACL", "wafv2:TagResource", "wafv2:UntagResource"]
      resources = ["arn:aws:wafv2:us-east-1:${local.account}:global/webacl/${var.name}-edge/*", "arn:aws:wafv2:us-east-1:${local.account}:global/managedruleset/*"]
    }
    EdgeDomain = {
      read      = ["acm:DescribeCertificate", "acm:ListTagsForCertificate", "route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:GetChange"]
      write     = ["acm:RequestCertificate", "acm:DeleteCertificate", "acm:AddTagsToCertificate", "route53:ChangeResourceRecordSets"]
      resources = ["arn:aws:acm:us-east-1:${local.account}:certificate/*", "arn:aws:route53:::hostedzone/*", "arn:aws:route53:::change/*"]
    }
  }

  lambda_role_arn = "arn:aws:iam::${local.account}:role/${var.name}-lambda"
  # The CI roles themselves: no grant may let either change them (aws_iam_role.plan/deploy's names).
  ci_role_arns = [for purpose in ["plan", "deploy"] : "arn:aws:iam::${local.account}:role/${var.name}-ci-${purpose}"]
  # Every IAM action that changes a role or what it may do.
  role_changes = ["iam:AttachRolePolicy", "iam:DeleteRole", "iam:DeleteRolePermissionsBoundary", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:UpdateRoleDescription"]

  state_bucket_arn = "arn:aws:s3:::${var.state_bucket}"
  state_object_arn = "arn:aws:s3:::${var.state_bucket}/${var.state_key}"
}

# --- GitHub's OIDC provider (one per account) ---------------------------------------------------

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url            = "https://${local.oidc}"
  client_id_list = ["sts.amazonaws.com"]
}

locals {
  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : "arn:aws:iam::${local.account}:oidc-provider/${local.oidc}"
}

# --- Who may assume which role --------------------------------------------------------------------

data "aws_iam_policy_document" "trust" {
  for_each = {
    plan   = "repo:${var.github_repository}:pull_request"
    deploy = "repo:${var.github_repository}:ref:refs/heads/main"
  }

  statement {
    sid = "GitHubActions"
    # configure-aws-credentials tags the session by default: sts:TagSession must be allowed with the assume.
    actions = ["sts:AssumeRoleWithWebIdentity", "sts:TagSession"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc}:sub"
      values   = [each.value]
    }
  }
}

# --- What each role may do -----------------------------------------------------------------------

data "aws_iam_policy_document" "plan" {
  dynamic "statement" {
    for_each = local.grants

    content {
      sid       = "Read${statement.key}"
      actions   = statement.value.read
      resources = statement.value.resources
    }
  }

  statement {
    sid       = "StateList"
    actions   = ["s3:ListBucket"]
    resources = [local.state_bucket_arn]
  }

  statement {
    sid       = "StateReadAndLock"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.state_object_arn}.tflock"]
  }

  statement {
    sid       = "StateRead"
    actions   = ["s3:GetObject"]
    resources = [local.state_object_arn]
  }
}

data "aws_iam_policy_document" "deploy" {
  dynamic "statement" {
    for_each = local.grants

    content {
      sid       = "Change${statement.key}"
      actions   = concat(statement.value.read, statement.value.write)
      resources = statement.value.resources
    }
  }

  statement {
    sid       = "NeverTheCIRoles"
    effect    = "Deny"
    actions   = local.role_changes
    resources = local.ci_role_arns
  }

  statement {
    sid       = "PassTheLambdaRole"
    actions   = ["iam:PassRole"]
    resources = [local.lambda_role_arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com"]
    }
  }

  statement {
    sid       = "EndpointScalingServiceRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:aws:iam::${local.account}:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["sagemaker.application-autoscaling.amazonaws.com"]
    }
  }

  statement {
    sid       = "StateList"
    actions   = ["s3:ListBucket"]
    resources = [local.state_bucket_arn]
  }

  statement {
    sid       = "StateReadWriteAndLock"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.state_object_arn, "${local.state_object_arn}.tflock"]
  }
}

resource "aws_iam_role" "plan" {
  name                 = "${var.name}-ci-plan"
  description          = "GitHub Actions plans ${var.github_repository}'s pull requests: read the stack, lock the state."
  assume_role_policy   = data.aws_iam_policy_document.trust["plan"].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "plan" {
  name   = "plan"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan.json
}

resource "aws_iam_role" "deploy" {
  name                 = "${var.name}-ci-deploy"
  description          = "GitHub Actions applies reviewed plans of ${var.github_repository} on main, and destroys by hand."
  assume_role_policy   = data.aws_iam_policy_document.trust["deploy"].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}
