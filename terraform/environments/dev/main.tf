provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = var.project
      Environment = "dev"
      ManagedBy   = "terraform"
      Repository  = "medallion-dagster"
    }
  }
}

module "medallion" {
  source = "../../modules/medallion_platform"

  project        = var.project
  environment    = "dev"
  landing_prefix = var.landing_prefix
  force_destroy  = true # dev data is synthetic: `terraform destroy` may empty the bucket

  lifecycle_days = {
    to_standard_ia   = 30
    to_glacier_ir    = 90
    retention        = 365 # dev keeps a year; prod keeps landing files forever
    noncurrent_after = 7
  }

  queue = {
    retention_seconds    = 345600 # 4 days
    max_receive_count    = 5
    oldest_alarm_seconds = 3600
  }

  collector = {
    schedule_expression  = var.collector_schedule
    schedule_enabled     = true
    batch_size           = var.batch_size
    dirty_rate           = 0.02
    landing_format       = "jsonl"
    memory_mb            = 256
    timeout_seconds      = 60
    reserved_concurrency = 1
    log_retention_days   = 14
    tracing_mode         = "PassThrough"
  }

  dagster_trusted_principal_arns = var.dagster_trusted_principal_arns
  build_python                   = var.build_python
  alarm_actions                  = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
}

# Dagster itself on ECS Fargate, when var.dagster_ecs describes a VPC and an image (README.md,
# "Dagster on ECS"). The tasks get the landing variables and the Dagster role's permissions from
# the module above.
module "dagster" {
  source = "../../modules/dagster_ecs"
  count  = var.dagster_ecs == null ? 0 : 1

  name                                 = "${var.project}-dev-dagster"
  vpc_id                               = var.dagster_ecs.vpc_id
  private_subnet_ids                   = var.dagster_ecs.private_subnet_ids
  image                                = var.dagster_ecs.image
  cpu_architecture                     = var.dagster_ecs.cpu_architecture
  warehouse_backend                    = var.dagster_ecs.warehouse_backend
  webserver_allowed_cidrs              = var.dagster_ecs.webserver_allowed_cidrs
  webserver_allowed_security_group_ids = var.dagster_ecs.webserver_allowed_security_group_ids
  task_sizes                           = var.dagster_ecs.task_sizes
  deletion_protection                  = var.dagster_ecs.deletion_protection

  code_location_env   = module.medallion.dagster_env
  landing_policy_json = module.medallion.dagster_policy_json

  db = {
    instance_class        = var.dagster_ecs.db_instance_class
    backup_retention_days = 7
  }
  compute_log_retention_days      = 30
  force_destroy                   = true # dev step logs are disposable
  access_log_bucket               = null
  log_retention_days              = 14
  warehouse_backup_retention_days = 7
  alarm_actions                   = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
}
