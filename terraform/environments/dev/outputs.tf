output "landing_bucket" {
  description = "Landing bucket (LANDING_BUCKET)."
  value       = module.medallion.landing_bucket
}

output "landing_prefix" {
  description = "Landing key prefix (LANDING_PREFIX)."
  value       = module.medallion.landing_prefix
}

output "region" {
  description = "AWS region (AWS_REGION)."
  value       = module.medallion.region
}

output "landing_queue_url" {
  description = "Notification queue for the landing sensor (LANDING_QUEUE_URL)."
  value       = module.medallion.landing_queue_url
}

output "dagster_role_arn" {
  description = "Role Dagster runs as: use it as role_arn of an AWS profile."
  value       = module.medallion.dagster_role_arn
}

output "collector_function_name" {
  description = "Collector Lambda (aws lambda invoke --function-name ...)."
  value       = module.medallion.collector_function_name
}

output "collector_failures_queue_url" {
  description = "Collector invocations that failed all retries."
  value       = module.medallion.collector_failures_queue_url
}

output "dagster_env" {
  description = "Environment variables that point Dagster at this stack."
  value       = module.medallion.dagster_env
}

output "dagster_dotenv" {
  description = "The same as a .env file: terraform output -raw dagster_dotenv > .env (dagster dev reads it)."
  value       = join("", [for k, v in module.medallion.dagster_env : "${k}=${v}\n"])
}

output "dagster_ecs" {
  description = "The Dagster deployment (modules/dagster_ecs outputs: cluster, services, webserver_url, run task definition and container, database, buckets, roles); null when var.dagster_ecs is null."
  value       = one(module.dagster)
}

output "dagster_webserver_url" {
  description = "The Dagster UI inside the VPC; null without var.dagster_ecs."
  value       = one(module.dagster[*].webserver_url)
}
