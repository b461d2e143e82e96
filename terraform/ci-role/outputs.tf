# Outputs, alphabetical: the repository variables the workflows read.

output "deploy_role_arn" {
  description = "Set as the repository variable AWS_DEPLOY_ROLE_ARN (apply.yml, destroy.yml)."
  value       = aws_iam_role.deploy.arn
}

output "plan_role_arn" {
  description = "Set as the repository variable AWS_PLAN_ROLE_ARN (plan.yml)."
  value       = aws_iam_role.plan.arn
}
