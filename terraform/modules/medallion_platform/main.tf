# The whole AWS side of one environment: landing bucket, its notification queue, the collector
# Lambda with its schedule, and the role Dagster runs as. Names: <project>-<environment>-<part>.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  name = "${var.project}-${var.environment}"
}

# Terraform runs the build script on every plan; it rebuilds only when lambda_src or the pinned
# dependencies changed, and reports the folder, the runtime it built for and a content hash.
data "external" "collector_package" {
  program = [var.build_python, "${path.module}/../../../scripts/build_lambda_package.py", "--terraform"]
}

module "landing_zone" {
  source = "../landing_zone"

  bucket_name                        = "${local.name}-landing-${data.aws_caller_identity.current.account_id}"
  landing_prefix                     = var.landing_prefix
  kms_key_arn                        = var.kms_key_arn
  access_log_bucket                  = var.access_log_bucket
  force_destroy                      = var.force_destroy
  transition_to_ia_days              = var.lifecycle_days.to_standard_ia
  transition_to_glacier_ir_days      = var.lifecycle_days.to_glacier_ir
  retention_days                     = var.lifecycle_days.retention
  noncurrent_version_expiration_days = var.lifecycle_days.noncurrent_after
  queue_name                         = "${local.name}-landing-events"
  message_retention_seconds          = var.queue.retention_seconds
  max_receive_count                  = var.queue.max_receive_count
  oldest_message_alarm_seconds       = var.queue.oldest_alarm_seconds
  alarm_actions                      = var.alarm_actions
}

module "collector" {
  source = "../collector_lambda"

  name                 = "${local.name}-collector"
  package_dir          = data.external.collector_package.result.package_dir
  runtime              = data.external.collector_package.result.runtime
  bucket_name          = module.landing_zone.bucket
  bucket_arn           = module.landing_zone.bucket_arn
  landing_prefix       = var.landing_prefix
  bucket_kms_key_arn   = var.kms_key_arn
  batch_size           = var.collector.batch_size
  dirty_rate           = var.collector.dirty_rate
  landing_format       = var.collector.landing_format
  memory_mb            = var.collector.memory_mb
  timeout_seconds      = var.collector.timeout_seconds
  reserved_concurrency = var.collector.reserved_concurrency
  log_retention_days   = var.collector.log_retention_days
  tracing_mode         = var.collector.tracing_mode
  schedule_expression  = var.collector.schedule_expression
  schedule_enabled     = var.collector.schedule_enabled
  alarm_actions        = var.alarm_actions
}

module "dagster_access" {
  source = "../dagster_access"

  name                   = "${local.name}-dagster"
  trusted_principal_arns = var.dagster_trusted_principal_arns
  bucket_arn             = module.landing_zone.bucket_arn
  landing_prefix         = var.landing_prefix
  queue_arn              = module.landing_zone.queue_arn
  bucket_kms_key_arn     = var.kms_key_arn
}
