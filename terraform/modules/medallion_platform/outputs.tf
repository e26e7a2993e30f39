output "landing_bucket" {
  description = "Landing bucket (LANDING_BUCKET)."
  value       = module.landing_zone.bucket
}

output "landing_prefix" {
  description = "Landing key prefix (LANDING_PREFIX)."
  value       = module.landing_zone.landing_prefix
}

output "region" {
  description = "AWS region of the stack (AWS_REGION)."
  value       = data.aws_region.current.region
}

output "landing_queue_url" {
  description = "Notification queue the landing sensor drains (LANDING_QUEUE_URL)."
  value       = module.landing_zone.queue_url
}

output "dagster_role_arn" {
  description = "Role Dagster runs as."
  value       = module.dagster_access.role_arn
}

output "collector_function_name" {
  description = "Collector Lambda."
  value       = module.collector.function_name
}

output "collector_failures_queue_url" {
  description = "Queue of collector invocations that failed all retries."
  value       = module.collector.failures_queue_url
}

output "dagster_env" {
  description = "Environment variables that point Dagster at this stack."
  value = {
    LANDING_BUCKET    = module.landing_zone.bucket
    LANDING_PREFIX    = module.landing_zone.landing_prefix
    LANDING_QUEUE_URL = module.landing_zone.queue_url
    AWS_REGION        = data.aws_region.current.region
  }
}

output "dagster_policy_json" {
  description = "What Dagster may do on this stack (the Dagster role's policy): attached to the daemon and run task roles of modules/dagster_ecs."
  value       = module.dagster_access.policy_json
}
