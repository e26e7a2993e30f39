variable "region" {
  description = "Region of the state bucket."
  type        = string
  default     = "eu-west-1"
  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "project" {
  description = "Project name, first part of the state bucket name."
  type        = string
  default     = "medallion"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.project))
    error_message = "project must be 2-20 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "access_log_bucket" {
  description = "Existing bucket receiving the state bucket's S3 server access logs; null: none."
  type        = string
  default     = null
  validation {
    condition     = var.access_log_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be the name of an existing S3 bucket, or null."
  }
}
