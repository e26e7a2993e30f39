provider "aws" {
  region = var.region
  default_tags {
    tags = {
      Project     = var.project
      Environment = "prod"
      ManagedBy   = "terraform"
      Repository  = "medallion-dagster"
    }
  }
}

module "medallion" {
  source = "../../modules/medallion_platform"

  project           = var.project
  environment       = "prod"
  landing_prefix    = var.landing_prefix
  force_destroy     = false # the landing zone is the system of record: never delete it with the stack
  access_log_bucket = var.access_log_bucket
  kms_key_arn       = var.kms_key_arn

  lifecycle_days = {
    to_standard_ia   = 30
    to_glacier_ir    = 180
    retention        = null # keep landing files forever: bronze can always be rebuilt
    noncurrent_after = 90
  }

  queue = {
    retention_seconds    = 604800 # 7 days (then 7 more in the dead-letter queue)
    max_receive_count    = 5
    oldest_alarm_seconds = 1800
  }

  collector = {
    schedule_expression  = var.collector_schedule
    schedule_enabled     = true
    batch_size           = var.batch_size
    dirty_rate           = 0
    landing_format       = "jsonl"
    memory_mb            = 512
    timeout_seconds      = 120
    reserved_concurrency = 2
    log_retention_days   = 90
    tracing_mode         = "Active"
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

  name                                 = "${var.project}-prod-dagster"
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
    backup_retention_days = 14
  }
  compute_log_retention_days      = 90
  force_destroy                   = false
  access_log_bucket               = var.access_log_bucket
  log_retention_days              = 90
  warehouse_backup_retention_days = 35
  alarm_actions                   = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
}
