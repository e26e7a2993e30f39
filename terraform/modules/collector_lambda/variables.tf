variable "name" {
  description = "Function name (the environment prefixes it with project and environment)."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,54}$", var.name))
    error_message = "name must be 1-54 letters, digits, '-' or '_' (role names append '-scheduler', IAM allows 64)."
  }
}

variable "package_dir" {
  description = "Folder holding the built package (lambda_src + third-party dependencies), made by scripts/build_lambda_package.py."
  type        = string
}

variable "handler" {
  description = "Handler of the function."
  type        = string
  default     = "lambda_src.handler.handler"
}

variable "runtime" {
  description = "Lambda runtime; must match the Python version the package was built for."
  type        = string
  validation {
    condition     = can(regex("^python3\\.[0-9]+$", var.runtime))
    error_message = "runtime must be a Python runtime such as python3.11."
  }
}

variable "bucket_arn" {
  description = "ARN of the landing bucket."
  type        = string
}

variable "bucket_name" {
  description = "Name of the landing bucket (LANDING_BUCKET)."
  type        = string
}

variable "landing_prefix" {
  description = "Key prefix the function writes under (LANDING_PREFIX); it may write nowhere else."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.landing_prefix))
    error_message = "landing_prefix must be non-empty, without leading or trailing '/'."
  }
}

variable "bucket_kms_key_arn" {
  description = "Customer-managed KMS key of the bucket, if any: the function may then generate data keys with it."
  type        = string
  default     = null
}

variable "batch_size" {
  description = "Transaction records per invocation (BATCH_SIZE)."
  type        = number
  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 1000000
    error_message = "batch_size must be between 1 and 1,000,000."
  }
}

variable "dirty_rate" {
  description = "Share of deliberately invalid records in demo batches (DIRTY_RATE)."
  type        = number
  validation {
    condition     = var.dirty_rate >= 0 && var.dirty_rate <= 1
    error_message = "dirty_rate must be between 0 and 1."
  }
}

variable "landing_format" {
  description = "File format the function writes (LANDING_FORMAT)."
  type        = string
  validation {
    condition     = contains(["jsonl", "csv"], var.landing_format)
    error_message = "landing_format must be jsonl or csv."
  }
}

variable "memory_mb" {
  description = "Memory of the function, MB."
  type        = number
  validation {
    condition     = var.memory_mb >= 128 && var.memory_mb <= 10240
    error_message = "memory_mb must be between 128 and 10240."
  }
}

variable "timeout_seconds" {
  description = "Timeout of one invocation, seconds."
  type        = number
  validation {
    condition     = var.timeout_seconds >= 10 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 10 and 900."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions (caps how many batches land at once)."
  type        = number
  validation {
    condition     = var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be at least 1."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group, days."
  type        = number
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ..., 365, ...)."
  }
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression that invokes the collector, e.g. rate(1 hour) or cron(0 * * * ? *)."
  type        = string
  validation {
    condition     = can(regex("^(rate|cron|at)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be rate(...), cron(...) or at(...)."
  }
}

variable "schedule_enabled" {
  description = "Whether the schedule invokes the collector."
  type        = bool
  default     = true
}

variable "alarm_actions" {
  description = "ARNs notified when the errors alarm fires. Empty: the alarm shows in the console only."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "tracing_mode" {
  description = "X-Ray tracing: PassThrough (no sampling by the function) or Active (traces every invocation; grants X-Ray writes)."
  type        = string
  default     = "PassThrough"
  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}
