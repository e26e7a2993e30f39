variable "project" {
  description = "Project name: the first part of every resource name."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.project))
    error_message = "project must be 2-20 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "environment" {
  description = "Environment name (dev, prod, ...): the second part of every resource name."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lowercase letters or digits, starting with a letter."
  }
}

variable "landing_prefix" {
  description = "Key prefix of the landing zone in the bucket (LANDING_PREFIX)."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the landing bucket; null: SSE-KMS with the AWS-managed key."
  type        = string
  default     = null
}

variable "access_log_bucket" {
  description = "Existing bucket for S3 server access logs of the landing bucket; null: no access logs."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the landing bucket with its files."
  type        = bool
}

variable "lifecycle_days" {
  description = "Landing file lifecycle: days to STANDARD_IA, to GLACIER_IR, current-file retention (null: forever), noncurrent-version expiry."
  type = object({
    to_standard_ia   = number
    to_glacier_ir    = number
    retention        = optional(number)
    noncurrent_after = number
  })
}

variable "queue" {
  description = "Notification queue: message retention, receives before the dead-letter queue, oldest-message alarm threshold (seconds)."
  type = object({
    retention_seconds    = number
    max_receive_count    = number
    oldest_alarm_seconds = number
  })
}

variable "collector" {
  description = "Collector Lambda settings."
  type = object({
    schedule_expression  = string
    schedule_enabled     = bool
    batch_size           = number
    dirty_rate           = number
    landing_format       = string
    memory_mb            = number
    timeout_seconds      = number
    reserved_concurrency = number
    log_retention_days   = number
    tracing_mode         = string
  })
}

variable "dagster_trusted_principal_arns" {
  description = "Principals allowed to assume the Dagster role; empty: this account's principals that IAM allows."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "alarm_actions" {
  description = "ARNs (e.g. an SNS topic) notified by the alarms."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "build_python" {
  description = "Python interpreter that runs scripts/build_lambda_package.py during plan (needs pip and network access to PyPI)."
  type        = string
  default     = "python3"
}
