# Outputs, alphabetical.

output "execution_role_arn" {
  description = "The SageMaker execution role: `invoke train --target aws` uses arn:aws:iam::<account>:role/<name>-sagemaker-execution by default (DBP_ROLE_ARN overrides)."
  value       = aws_iam_role.execution.arn
}

output "ml_engineer_policy_arn" {
  description = "Attach to the people (or their SSO permission set) who run invoke train / tune / approve / rollback / classify / preflight --target aws."
  value       = aws_iam_policy.ml_engineer.arn
}
