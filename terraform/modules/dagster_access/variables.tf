variable "name" {
  description = "Role name (the environment prefixes it with project and environment)."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.name))
    error_message = "name must be a valid IAM role name (1-64 characters)."
  }
}

variable "trusted_principal_arns" {
  description = "IAM principals allowed to assume the role (your user or SSO role, a CI role, an ECS task role). Empty: any principal of this account that IAM allows to assume it."
  type        = list(string)
  default     = []
  nullable    = false
  validation {
    condition     = alltrue([for arn in var.trusted_principal_arns : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:", arn))])
    error_message = "trusted_principal_arns must be IAM principal ARNs."
  }
}

variable "bucket_arn" {
  description = "ARN of the landing bucket."
  type        = string
}

variable "landing_prefix" {
  description = "Key prefix of the landing zone: the only part of the bucket Dagster may list and read."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.landing_prefix))
    error_message = "landing_prefix must be non-empty, without leading or trailing '/'."
  }
}

variable "queue_arn" {
  description = "ARN of the landing notification queue the sensor drains."
  type        = string
}

variable "bucket_kms_key_arn" {
  description = "Customer-managed KMS key of the bucket, if any: Dagster may then decrypt with it."
  type        = string
  default     = null
}

variable "max_session_seconds" {
  description = "Longest session of the role, seconds."
  type        = number
  default     = 3600
  validation {
    condition     = var.max_session_seconds >= 3600 && var.max_session_seconds <= 43200
    error_message = "max_session_seconds must be between 3600 and 43200."
  }
}
