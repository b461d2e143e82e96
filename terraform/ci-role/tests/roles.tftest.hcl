# The CI roles with a mocked provider (run by tests/infra/test_terraform_tests.py): who may assume them,
# and that no grant uses a wildcard action.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  override_data {
    target = data.aws_iam_policy_document.plan
    values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  override_data {
    target = data.aws_iam_policy_document.deploy
    values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  override_data {
    target = data.aws_iam_policy_document.trust
    values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

variables {
  github_repository = "example-org/dbpedia-classifier"
  state_bucket      = "example-terraform-state"
}

run "pull_requests_plan_and_main_deploys" {
  command = plan

  assert {
    condition = flatten([
      for c in data.aws_iam_policy_document.trust["plan"].statement[0].condition : tolist(c.values)
      if c.variable == "token.actions.githubusercontent.com:sub"
    ]) == ["repo:example-org/dbpedia-classifier:pull_request"]
    error_message = "only the repository's pull requests may assume the plan role"
  }
  assert {
    condition = flatten([
      for c in data.aws_iam_policy_document.trust["deploy"].statement[0].condition : tolist(c.values)
      if c.variable == "token.actions.githubusercontent.com:sub"
    ]) == ["repo:example-org/dbpedia-classifier:ref:refs/heads/main"]
    error_message = "only the repository's main branch may assume the deploy role"
  }
  assert {
    condition = alltrue([
      for role in ["plan", "deploy"] : flatten([
        for c in data.aws_iam_policy_document.trust[role].statement[0].condition : tolist(c.values)
        if c.variable == "token.actions.githubusercontent.com:aud"
      ]) == ["sts.amazonaws.com"]
    ])
    error_message = "both roles must require the sts.amazonaws.com audience"
  }
}

run "no_wildcard_action_and_the_plan_role_only_reads" {
  command = plan

  assert {
    condition = alltrue([
      for s in concat(data.aws_iam_policy_document.plan.statement, data.aws_iam_policy_document.deploy.statement) :
      alltrue([for a in s.actions : !strcontains(a, "*")])
    ])
    error_message = "no grant may use a wildcard action"
  }
  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.plan.statement :
      alltrue([for a in s.actions : can(regex("^[a-z0-9-]+:(Get|List|Describe|GET)", a))])
      if startswith(s.sid, "Read")
    ])
    error_message = "the plan role may only read the stack (Get, List, Describe)"
  }
  assert {
    condition     = !contains(flatten([for s in data.aws_iam_policy_document.plan.statement : tolist(s.actions)]), "iam:PassRole")
    error_message = "the plan role must not pass roles"
  }
}

run "the_deploy_role_cannot_change_the_ci_roles" {
  command = plan

  assert {
    condition = flatten([
      for s in data.aws_iam_policy_document.deploy.statement : tolist(s.resources)
      if anytrue([for a in s.actions : startswith(a, "iam:") && a != "iam:PassRole" && a != "iam:CreateServiceLinkedRole"]) && s.effect != "Deny"
    ]) == ["arn:aws:iam::123456789012:role/dbpedia-classifier-lambda"]
    error_message = "the deploy role may change the Lambda's role only (a pattern like role/NAME-* matches its own name)"
  }
  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.deploy.statement :
      s.effect == "Deny"
      && toset(s.resources) == toset(["arn:aws:iam::123456789012:role/dbpedia-classifier-ci-plan", "arn:aws:iam::123456789012:role/dbpedia-classifier-ci-deploy"])
      && length(setsubtract(["iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteRolePermissionsBoundary"], s.actions)) == 0
    ])
    error_message = "an explicit Deny must keep the deploy role from changing either CI role or its policies"
  }
}

run "the_deploy_role_has_what_the_stack_and_destroy_yml_call" {
  command = plan

  assert {
    condition = length(setsubtract(
      ["sagemaker:DeleteEndpoint", "sagemaker:DeleteEndpointConfig", "sagemaker:DeleteModel", "sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:UpdateEndpointWeightsAndCapacities"],
      flatten([for s in data.aws_iam_policy_document.deploy.statement : tolist(s.actions) if s.sid == "ChangeEndpoint"])
    )) == 0
    error_message = "destroy.yml's endpoint removal and endpoint autoscaling need these SageMaker actions"
  }
  assert {
    condition = length(setsubtract(
      ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies"],
      flatten([for s in data.aws_iam_policy_document.deploy.statement : tolist(s.actions)])
    )) == 0
    error_message = "the HTTP API's access logs need CloudWatch Logs' log-delivery actions"
  }
  assert {
    condition = length(setsubtract(
      ["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms"],
      flatten([for s in data.aws_iam_policy_document.deploy.statement : tolist(s.actions) if s.sid == "ChangeEndpointScalingAlarms"])
    )) == 0
    error_message = "target tracking creates its alarms with the caller's rights"
  }
}

run "both_roles_read_the_models_deploy_inputs_and_nothing_else_of_the_bucket" {
  command = plan

  assert {
    condition = flatten([
      for s in data.aws_iam_policy_document.plan.statement : tolist(s.resources) if s.sid == "ReadModelInputs"
    ]) == ["arn:aws:s3:::sagemaker-us-east-1-123456789012/dbpedia-classifier/models/*"]
    error_message = "the plan role reads the models/ prefix of the SDK's default bucket (invoke plan fetches a model's inputs)"
  }
  assert {
    condition = flatten([
      for s in data.aws_iam_policy_document.deploy.statement : tolist(s.actions) if s.sid == "ChangeModelInputs"
    ]) == ["s3:GetObject"]
    error_message = "the deploy role only reads a model's inputs"
  }
}

run "a_named_bucket_and_prefix_are_the_ones_read" {
  command = plan

  variables {
    bucket    = "ml-artifacts"
    s3_prefix = "teams/nlp"
  }

  assert {
    condition = flatten([
      for s in data.aws_iam_policy_document.plan.statement : tolist(s.resources) if s.sid == "ReadModelInputs"
    ]) == ["arn:aws:s3:::ml-artifacts/teams/nlp/models/*"]
    error_message = "the bucket and prefix variables name what the roles read"
  }
}
