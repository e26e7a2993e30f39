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
