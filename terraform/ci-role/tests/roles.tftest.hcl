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
