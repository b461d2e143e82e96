# The bootstrap module with a mocked provider (run by tests/infra/test_terraform_tests.py): names, trust, no
# wildcard action, S3 only on the project's bucket and prefix, the role handed to SageMaker only. Which
# actions the SDK's role check needs is tested against the installed SDK: tests/aws/test_bootstrap_policies.py.

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/dbpedia-classifier-sagemaker-execution" }
  }
  mock_resource "aws_iam_policy" {
    defaults = { arn = "arn:aws:iam::123456789012:policy/dbpedia-classifier-ml-engineer" }
  }
  override_data {
    target = data.aws_iam_policy_document.execution
    values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  override_data {
    target = data.aws_iam_policy_document.execution_trust
    values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  override_data {
    target = data.aws_iam_policy_document.ml_engineer
    values = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
}

run "names_follow_the_stack" {
  command = apply

  assert {
    condition     = aws_iam_role.execution.name == "dbpedia-classifier-sagemaker-execution"
    error_message = "the execution role is <name>-sagemaker-execution (the tasks' default role ARN)"
  }
  assert {
    condition     = aws_iam_policy.ml_engineer.name == "dbpedia-classifier-ml-engineer"
    error_message = "the engineer's policy is <name>-ml-engineer"
  }
  assert {
    condition     = output.execution_role_arn == aws_iam_role.execution.arn && output.ml_engineer_policy_arn == aws_iam_policy.ml_engineer.arn
    error_message = "the outputs are the role's and the policy's ARNs"
  }
}

run "only_sagemaker_of_this_account_assumes_the_role" {
  command = plan

  assert {
    condition = (
      jsonencode(tolist(data.aws_iam_policy_document.execution_trust.statement[0].principals)[0].identifiers) == jsonencode(["sagemaker.amazonaws.com"])
      && jsonencode(tolist(data.aws_iam_policy_document.execution_trust.statement[0].condition)[0].values) == jsonencode(["123456789012"])
    )
    error_message = "only sagemaker.amazonaws.com, for this account (aws:SourceAccount), may assume the execution role"
  }
}

run "no_wildcard_action_and_s3_only_on_the_prefix" {
  command = plan

  variables {
    bucket    = "team-ml"
    s3_prefix = "classifier/v1"
  }

  assert {
    condition = alltrue([
      for s in concat(data.aws_iam_policy_document.execution.statement, data.aws_iam_policy_document.ml_engineer.statement) :
      alltrue([for a in s.actions : !strcontains(a, "*")])
    ])
    error_message = "no grant may use a wildcard action"
  }
  assert {
    condition = alltrue(flatten([
      for s in concat(data.aws_iam_policy_document.execution.statement, data.aws_iam_policy_document.ml_engineer.statement) : [
        for r in s.resources : contains(["arn:aws:s3:::team-ml", "arn:aws:s3:::team-ml/classifier/v1/*"], r)
      ] if anytrue([for a in s.actions : startswith(a, "s3:") && a != "s3:ListAllMyBuckets"]) && !startswith(s.sid, "Feedback")
    ]))
    error_message = "S3 is granted on the project's bucket and its prefix only (besides reading the feedback items)"
  }
  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.ml_engineer.statement :
      alltrue([for a in s.actions : contains(["s3:ListBucket", "s3:GetObject"], a)])
      && alltrue([for r in s.resources : startswith(r, "arn:aws:s3:::dbpedia-classifier-feedback-")])
      if startswith(s.sid, "Feedback")
    ])
    error_message = "the stack's feedback bucket is only listed and read, and only it"
  }
}

run "the_role_is_handed_to_sagemaker_only" {
  command = plan

  assert {
    condition = jsonencode([
      for s in data.aws_iam_policy_document.ml_engineer.statement : tolist(s.condition)[0].values
      if contains(s.actions, "iam:PassRole")
    ]) == jsonencode([["sagemaker.amazonaws.com"]])
    error_message = "iam:PassRole only with iam:PassedToService = sagemaker.amazonaws.com"
  }
}

run "a_stack_name_over_31_characters_is_refused" {
  command = plan

  variables {
    name = "a-stack-name-of-thirty-two-chars"
  }

  expect_failures = [var.name]
}
