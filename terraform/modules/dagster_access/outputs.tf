output "role_arn" {
  description = "ARN of the role Dagster assumes (role_arn of its AWS profile)."
  value       = aws_iam_role.dagster.arn
}

output "role_name" {
  description = "Name of the role Dagster assumes."
  value       = aws_iam_role.dagster.name
}

output "policy_json" {
  description = "The role's permissions as a policy document (landing prefix, notification queue, key): the ECS task roles of modules/dagster_ecs get the same."
  value       = data.aws_iam_policy_document.dagster.json
}
