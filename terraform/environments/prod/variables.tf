variable "region" {
  description = "AWS region of the prod stack."
  type        = string
  default     = "eu-west-1"
  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "project" {
  description = "Project name, first part of every resource name."
  type        = string
  default     = "medallion"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.project))
    error_message = "project must be 2-20 lowercase letters, digits or '-', starting with a letter."
  }
}

variable "landing_prefix" {
  description = "Key prefix of the landing zone (LANDING_PREFIX); the Dagster sensor reads the same."
  type        = string
  default     = "landing"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.landing_prefix))
    error_message = "landing_prefix must be non-empty, without leading or trailing '/'."
  }
}

variable "collector_schedule" {
  description = "How often the collector lands a batch (EventBridge Scheduler expression, UTC)."
  type        = string
  default     = "rate(1 hour)"
  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.collector_schedule))
    error_message = "collector_schedule must be rate(...) or cron(...)."
  }
}

variable "batch_size" {
  description = "Transaction records per collector invocation."
  type        = number
  default     = 5000
  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 1000000
    error_message = "batch_size must be between 1 and 1,000,000."
  }
}

variable "dagster_trusted_principal_arns" {
  description = "Principals that may assume the Dagster role (the role your Dagster deployment or operators use). Required in prod."
  type        = list(string)
  nullable    = false
  validation {
    condition     = length(var.dagster_trusted_principal_arns) > 0 && alltrue([for arn in var.dagster_trusted_principal_arns : can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:", arn))])
    error_message = "prod needs at least one trusted principal: IAM principal ARNs, e.g. [\"arn:aws:iam::123456789012:role/dagster\"]."
  }
}

variable "alarm_topic_arn" {
  description = "SNS topic notified by the alarms; null: the alarms show in the console only."
  type        = string
  default     = null
  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN or null."
  }
}

variable "access_log_bucket" {
  description = "Existing bucket receiving the landing bucket's S3 server access logs (required in prod)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be the name of an existing S3 bucket."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the landing bucket; null: the AWS-managed key aws/s3."
  type        = string
  default     = null
  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>; IAM ignores alias ARNs) or null."
  }
}

variable "build_python" {
  description = "Python interpreter (>= 3.11, with pip and PyPI access) that builds the Lambda package during plan."
  type        = string
  default     = "python3"
  validation {
    condition     = length(trimspace(var.build_python)) > 0
    error_message = "build_python must name a Python interpreter, e.g. python3."
  }
}

variable "dagster_ecs" {
  description = "Dagster on ECS Fargate (modules/dagster_ecs) in an existing VPC: webserver, daemon, run tasks, PostgreSQL, EFS warehouse, S3 step logs. null (the default) deploys only the landing side."
  type = object({
    vpc_id                               = string
    private_subnet_ids                   = list(string)
    image                                = string
    cpu_architecture                     = optional(string, "X86_64")
    warehouse_backend                    = optional(string, "sqlite")
    webserver_allowed_cidrs              = optional(list(string), [])
    webserver_allowed_security_group_ids = optional(list(string), [])
    db_instance_class                    = optional(string, "db.t4g.small")
    deletion_protection                  = optional(bool, true)
    task_sizes = optional(
      object({
        webserver = object({ cpu = number, memory = number })
        daemon    = object({ cpu = number, memory = number })
        run       = object({ cpu = number, memory = number })
      }),
      {
        webserver = { cpu = 1024, memory = 2048 }
        daemon    = { cpu = 1024, memory = 2048 }
        run       = { cpu = 2048, memory = 8192 }
      }
    )
  })
  default = null
  validation {
    condition = var.dagster_ecs == null || try(
      can(regex("^vpc-[0-9a-f]{8,17}$", var.dagster_ecs.vpc_id)) &&
      length(var.dagster_ecs.private_subnet_ids) >= 2 &&
      alltrue([for id in var.dagster_ecs.private_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))]) &&
      can(regex("^[^\\s]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$", var.dagster_ecs.image)) &&
      contains(["X86_64", "ARM64"], var.dagster_ecs.cpu_architecture) &&
      contains(["sqlite", "duckdb"], var.dagster_ecs.warehouse_backend) &&
      length(var.dagster_ecs.webserver_allowed_cidrs) + length(var.dagster_ecs.webserver_allowed_security_group_ids) > 0 &&
      alltrue([for cidr in var.dagster_ecs.webserver_allowed_cidrs : can(cidrhost(cidr, 0)) && !endswith(cidr, "/0")]) &&
      alltrue([for id in var.dagster_ecs.webserver_allowed_security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))]) &&
      can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.dagster_ecs.db_instance_class)),
      false
    )
    error_message = "dagster_ecs: vpc_id (vpc-...), at least two private_subnet_ids (subnet-...), image with an explicit :tag or @sha256 digest, cpu_architecture X86_64 or ARM64, warehouse_backend sqlite or duckdb, at least one way to the webserver (webserver_allowed_cidrs: IPv4 CIDRs narrower than /0, or webserver_allowed_security_group_ids: sg-...), db_instance_class like db.t4g.small. Or null: no Dagster deployment."
  }
}
