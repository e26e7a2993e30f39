output "role_arn" {
  description = "ARN of the role Dagster assumes (role_arn of its AWS profile)."
  value       = aws_iam_role.dagster.arn
}

output "role_name" {
  description = "Name of the role Dagster assumes."
  value       = aws_iam_role.dagster.name
}
