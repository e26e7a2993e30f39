output "cluster_name" {
  description = "ECS cluster of the webserver, the daemon and the run tasks."
  value       = aws_ecs_cluster.dagster.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.dagster.arn
}

output "webserver_service_name" {
  description = "ECS service of the webserver."
  value       = aws_ecs_service.webserver.name
}

output "daemon_service_name" {
  description = "ECS service of the daemon."
  value       = aws_ecs_service.daemon.name
}

output "webserver_url" {
  description = "The UI inside the VPC (Cloud Map name); from outside, through a network in webserver_allowed_cidrs or an SSM port forward from a host in webserver_allowed_security_group_ids."
  value       = "http://${aws_service_discovery_service.webserver.name}.${aws_service_discovery_private_dns_namespace.dagster.name}:3000"
}

output "run_task_definition_family" {
  description = "Family of the run task definition (DAGSTER_RUN_TASK_DEFINITION: EcsRunLauncher's task_definition)."
  value       = aws_ecs_task_definition.run.family
}

output "run_task_definition_arn" {
  description = "ARN (with revision) of the current run task definition."
  value       = aws_ecs_task_definition.run.arn
}

output "run_container_name" {
  description = "Container of the run task definition whose command the EcsRunLauncher sets (its container_name)."
  value       = local.run_container_name
}

output "task_security_group_id" {
  description = "Security group of the daemon and of every run task."
  value       = aws_security_group.tasks.id
}

output "webserver_security_group_id" {
  description = "Security group of the webserver."
  value       = aws_security_group.webserver.id
}

output "db_address" {
  description = "Host name of the PostgreSQL instance (DAGSTER_PG_HOST)."
  value       = aws_db_instance.dagster.address
}

output "db_secret_arn" {
  description = "Secrets Manager secret RDS keeps the database password in (DAGSTER_PG_PASSWORD comes from its `password` key)."
  value       = aws_db_instance.dagster.master_user_secret[0].secret_arn
}

output "compute_log_bucket" {
  description = "Bucket of the step logs (DAGSTER_COMPUTE_LOG_BUCKET)."
  value       = aws_s3_bucket.compute_logs.id
}

output "warehouse_file_system_id" {
  description = "EFS file system holding the warehouse."
  value       = aws_efs_file_system.warehouse.id
}

output "warehouse_access_point_id" {
  description = "EFS access point the tasks mount the warehouse through."
  value       = aws_efs_access_point.warehouse.id
}

output "log_groups" {
  description = "Log groups of the webserver, the daemon and the run tasks."
  value = {
    webserver = aws_cloudwatch_log_group.webserver.name
    daemon    = aws_cloudwatch_log_group.daemon.name
    run       = aws_cloudwatch_log_group.run.name
  }
}

output "task_role_arns" {
  description = "Task roles of the webserver, the daemon and the run tasks, and the shared execution role."
  value = {
    webserver = aws_iam_role.webserver.arn
    daemon    = aws_iam_role.daemon.arn
    run       = aws_iam_role.run.arn
    execution = aws_iam_role.execution.arn
  }
}

output "kms_key_arn" {
  description = "Customer-managed key of the deployment's data and logs."
  value       = aws_kms_key.dagster.arn
}

output "container_environment" {
  description = "The environment every container gets (besides the DAGSTER_PG_PASSWORD secret)."
  value       = merge(var.code_location_env, local.dagster_environment)
}
