variable "bucket_name" {
  description = "Name of the landing bucket (globally unique; the environment prefixes it with project and environment)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens."
  }
}

variable "landing_prefix" {
  description = "Key prefix of the landing zone inside the bucket (LANDING_PREFIX): files are <prefix>/<entity>/dt=YYYY-MM-DD/<file>."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.landing_prefix))
    error_message = "landing_prefix must be non-empty, without leading or trailing '/', e.g. \"landing\"."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for default encryption. null uses SSE-KMS with the AWS-managed key aws/s3."
  type        = string
  default     = null
  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>; IAM ignores alias ARNs) or null."
  }
}

variable "access_log_bucket" {
  description = "Existing bucket that receives S3 server access logs. null disables access logging."
  type        = string
  default     = null
  validation {
    condition     = var.access_log_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be the name of an existing S3 bucket, or null."
  }
}

variable "transition_to_ia_days" {
  description = "Days after which landing files move to STANDARD_IA (instant retrieval, cheaper storage)."
  type        = number
  validation {
    condition     = var.transition_to_ia_days >= 30
    error_message = "S3 requires at least 30 days in STANDARD before a transition to STANDARD_IA."
  }
}

variable "transition_to_glacier_ir_days" {
  description = "Days after which landing files move to GLACIER_IR (still instant retrieval: bronze rebuilds read them directly)."
  type        = number
  validation {
    condition     = var.transition_to_glacier_ir_days >= max(90, var.transition_to_ia_days + 30)
    error_message = "transition_to_glacier_ir_days must be at least 90 and 30 days after the STANDARD_IA transition (S3 rejects less)."
  }
}

variable "retention_days" {
  description = "Days a current landing file is kept. null keeps them forever: the landing zone is the system of record for bronze rebuilds."
  type        = number
  default     = null
  validation {
    condition     = var.retention_days == null || try(var.retention_days >= max(365, var.transition_to_glacier_ir_days + 90), false)
    error_message = "retention_days must be null (keep forever), at least 365, and at least 90 days after the GLACIER_IR transition (its minimum storage duration)."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which replaced or deleted versions of landing files are removed."
  type        = number
  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete a bucket that still holds files (dev only)."
  type        = bool
  default     = false
}

variable "queue_name" {
  description = "Name of the notification queue (the environment prefixes it with project and environment)."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,76}$", var.queue_name))
    error_message = "queue_name must be 1-76 letters, digits, '-' or '_' (the dead-letter queue appends '-dlq')."
  }
}

variable "message_retention_seconds" {
  description = "How long an unread notification stays in the queue."
  type        = number
  validation {
    condition     = var.message_retention_seconds >= 3600 && var.message_retention_seconds <= 604800
    error_message = "message_retention_seconds must be between 1 hour and 7 days: a message keeps its enqueue time in the 14-day dead-letter queue, which needs time left to inspect it."
  }
}

variable "max_receive_count" {
  description = "Receives after which a message moves to the dead-letter queue (the sensor reads a message once per tick it is visible)."
  type        = number
  validation {
    condition     = var.max_receive_count >= 2 && var.max_receive_count <= 100
    error_message = "max_receive_count must be between 2 and 100."
  }
}

variable "oldest_message_alarm_seconds" {
  description = "Alarm when the oldest unread notification is older than this (the sensor is off or failing)."
  type        = number
  validation {
    condition     = var.oldest_message_alarm_seconds >= 300
    error_message = "oldest_message_alarm_seconds must be at least 300."
  }
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires (e.g. an SNS topic). Empty: the alarms show in the console only."
  type        = list(string)
  default     = []
  nullable    = false
}
