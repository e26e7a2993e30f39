variable "name" {
  description = "Name prefix of every resource (the environment passes <project>-<environment>-dagster): cluster, services, task definition families, roles, database, buckets."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.name)) && length(var.name) <= 40
    error_message = "name must be at most 40 lowercase letters, digits and single hyphens, starting with a letter (it is also the RDS identifier and part of an S3 bucket name)."
  }
}

variable "vpc_id" {
  description = "Existing VPC the tasks, the database and the file system live in (not created here)."
  type        = string
  validation {
    condition     = can(regex("^vpc-[0-9a-f]{8,17}$", var.vpc_id))
    error_message = "vpc_id must be a VPC id such as vpc-0123456789abcdef0."
  }
}

variable "private_subnet_ids" {
  description = "Private subnets of the VPC, in at least two Availability Zones (RDS requires two). They need a route to the AWS APIs (NAT gateway or VPC endpoints for ECR, S3, CloudWatch Logs, Secrets Manager, SQS, ECS)."
  type        = list(string)
  validation {
    condition     = length(var.private_subnet_ids) >= 2 && length(distinct(var.private_subnet_ids)) == length(var.private_subnet_ids) && alltrue([for id in var.private_subnet_ids : can(regex("^subnet-[0-9a-f]{8,17}$", id))])
    error_message = "private_subnet_ids must be at least two distinct subnet ids (subnet-...)."
  }
}

variable "image" {
  description = "The one container image of the webserver, the daemon and the run tasks (deploy/Dockerfile), with an explicit tag or digest, e.g. <account>.dkr.ecr.<region>.amazonaws.com/medallion-dagster:<git sha>."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$", var.image))
    error_message = "image must be a container image reference with an explicit tag or digest (repository:tag or repository@sha256:...)."
  }
}

variable "cpu_architecture" {
  description = "CPU architecture the image is built for (X86_64 for `docker build --platform linux/amd64`, ARM64 for linux/arm64)."
  type        = string
  default     = "X86_64"
  validation {
    condition     = contains(["X86_64", "ARM64"], var.cpu_architecture)
    error_message = "cpu_architecture must be X86_64 or ARM64."
  }
}

variable "code_location_env" {
  description = "Environment of the code location that points it at the landing zone (medallion_platform's dagster_env output: LANDING_BUCKET, LANDING_PREFIX, LANDING_QUEUE_URL, AWS_REGION). This module adds the warehouse and Dagster instance variables."
  type        = map(string)
  validation {
    condition     = length(setintersection(keys(var.code_location_env), ["WAREHOUSE_DIR", "WAREHOUSE_BACKEND", "DAGSTER_HOME", "DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD", "DAGSTER_COMPUTE_LOG_BUCKET", "DAGSTER_COMPUTE_LOG_PREFIX", "DAGSTER_RUN_TASK_DEFINITION"])) == 0
    error_message = "code_location_env must not set the variables this module sets itself (WAREHOUSE_*, DAGSTER_*)."
  }
}

variable "landing_policy_json" {
  description = "IAM policy (JSON) that lets Dagster list and read the landing prefix and drain the notification queue: the dagster_access module's policy_json. Attached to the daemon (sensors) and run (assets) task roles."
  type        = string
  validation {
    condition     = can(jsondecode(var.landing_policy_json).Statement)
    error_message = "landing_policy_json must be an IAM policy document in JSON."
  }
}

variable "warehouse_backend" {
  description = "Database of the warehouse files (WAREHOUSE_BACKEND): sqlite or duckdb."
  type        = string
  default     = "sqlite"
  validation {
    condition     = contains(["sqlite", "duckdb"], var.warehouse_backend)
    error_message = "warehouse_backend must be sqlite or duckdb."
  }
}

variable "warehouse_dir" {
  description = "WAREHOUSE_DIR of the daemon and run containers: the warehouse's folder on the EFS file system, which is mounted at its parent (recovery stages a rebuild beside it)."
  type        = string
  default     = "/mnt/warehouse"
  validation {
    condition     = can(regex("^/mnt(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)+$", var.warehouse_dir))
    error_message = "warehouse_dir must be a folder under /mnt without a trailing '/', e.g. /mnt/warehouse (the file system is mounted at its parent, /mnt)."
  }
}

variable "warehouse_posix_user" {
  description = "POSIX uid and gid every file operation on the warehouse file system runs as (the EFS access point enforces it whatever user the container runs as); deploy/Dockerfile's user is uid 10001."
  type = object({
    uid = number
    gid = number
  })
  default = {
    uid = 10001
    gid = 10001
  }
  validation {
    condition     = var.warehouse_posix_user.uid >= 1 && var.warehouse_posix_user.gid >= 1 && var.warehouse_posix_user.uid <= 4294967294 && var.warehouse_posix_user.gid <= 4294967294
    error_message = "warehouse_posix_user uid and gid must be non-root ids (1 to 4294967294)."
  }
}

variable "dagster_home" {
  description = "DAGSTER_HOME inside the image (deploy/Dockerfile copies deploy/dagster.yaml there)."
  type        = string
  default     = "/opt/dagster/dagster_home"
  validation {
    condition     = can(regex("^(/[A-Za-z0-9_.-]+)+$", var.dagster_home))
    error_message = "dagster_home must be an absolute path without a trailing '/'."
  }
}

variable "workspace_file" {
  description = "workspace.yaml inside the image that the webserver and the daemon load (deploy/workspace.yaml is copied there)."
  type        = string
  default     = "/opt/dagster/app/workspace.yaml"
  validation {
    condition     = can(regex("^(/[A-Za-z0-9_.-]+)+\\.yaml$", var.workspace_file))
    error_message = "workspace_file must be an absolute path to a .yaml file."
  }
}

variable "task_sizes" {
  description = "Fargate CPU units and memory (MiB) of the webserver, the daemon and each run task: the scaling knobs (how many runs execute at once is deploy/dagster.yaml's run queue, not Terraform)."
  type = object({
    webserver = object({ cpu = number, memory = number })
    daemon    = object({ cpu = number, memory = number })
    run       = object({ cpu = number, memory = number })
  })
  validation {
    condition = alltrue([
      for size in values(var.task_sizes) : (
        (size.cpu == 256 && contains([512, 1024, 2048], size.memory)) ||
        (size.cpu == 512 && size.memory >= 1024 && size.memory <= 4096 && size.memory % 1024 == 0) ||
        (size.cpu == 1024 && size.memory >= 2048 && size.memory <= 8192 && size.memory % 1024 == 0) ||
        (size.cpu == 2048 && size.memory >= 4096 && size.memory <= 16384 && size.memory % 1024 == 0) ||
        (size.cpu == 4096 && size.memory >= 8192 && size.memory <= 30720 && size.memory % 1024 == 0) ||
        (size.cpu == 8192 && size.memory >= 16384 && size.memory <= 61440 && size.memory % 4096 == 0) ||
        (size.cpu == 16384 && size.memory >= 32768 && size.memory <= 122880 && size.memory % 8192 == 0)
      )
    ])
    error_message = "Each task size must be a CPU/memory pair Fargate accepts, e.g. 256/512-2048, 512/1024-4096, 1024/2048-8192, 2048/4096-16384 (memory in 1024 MiB steps)."
  }
}

variable "webserver_allowed_cidrs" {
  description = "IPv4 networks that may open the webserver on port 3000 (a VPN or office range routed into the VPC). Dagster's webserver has no login: never the whole internet."
  type        = list(string)
  default     = []
  nullable    = false
  validation {
    condition     = alltrue([for cidr in var.webserver_allowed_cidrs : can(cidrhost(cidr, 0)) && !endswith(cidr, "/0") && !strcontains(cidr, ":")])
    error_message = "webserver_allowed_cidrs must be IPv4 CIDR blocks narrower than /0."
  }
}

variable "webserver_allowed_security_group_ids" {
  description = "Security groups whose members may open the webserver on port 3000, e.g. an SSM-managed bastion used for port forwarding."
  type        = list(string)
  default     = []
  nullable    = false
  validation {
    condition     = alltrue([for id in var.webserver_allowed_security_group_ids : can(regex("^sg-[0-9a-f]{8,17}$", id))])
    error_message = "webserver_allowed_security_group_ids must be security group ids (sg-...)."
  }
}

variable "db" {
  description = "PostgreSQL of the Dagster instance (runs, event logs, schedules): instance class, major version, storage (GiB) and its autoscaling ceiling, backup retention (days), when RDS rotates the master password (UTC)."
  type = object({
    instance_class             = string
    engine_version             = optional(string, "17")
    allocated_storage          = optional(number, 20)
    max_allocated_storage      = optional(number, 100)
    backup_retention_days      = optional(number, 7)
    password_rotation_schedule = optional(string, "cron(0 4 ? * SUN *)")
  })
  validation {
    condition = (
      can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db.instance_class)) &&
      can(regex("^1[4-9](\\.[0-9]+)?$", var.db.engine_version)) &&
      var.db.allocated_storage >= 20 && var.db.max_allocated_storage >= var.db.allocated_storage &&
      var.db.backup_retention_days >= 1 && var.db.backup_retention_days <= 35 &&
      can(regex("^(rate|cron)\\(.+\\)$", var.db.password_rotation_schedule))
    )
    error_message = "db: instance_class like db.t4g.small; engine_version a PostgreSQL major 14-19 (optionally .minor); allocated_storage >= 20 and <= max_allocated_storage; backup_retention_days 1-35; password_rotation_schedule rate(...) or cron(...)."
  }
}

variable "deletion_protection" {
  description = "Protect the database from deletion (turn off, apply, then destroy)."
  type        = bool
  default     = true
}

variable "compute_log_prefix" {
  description = "Key prefix of step stdout/stderr in the compute-log bucket (DAGSTER_COMPUTE_LOG_PREFIX)."
  type        = string
  default     = "dagster"
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.compute_log_prefix))
    error_message = "compute_log_prefix must be non-empty, without leading or trailing '/'."
  }
}

variable "compute_log_retention_days" {
  description = "Days the step logs are kept (the run records themselves stay in PostgreSQL)."
  type        = number
  validation {
    condition     = var.compute_log_retention_days >= 1
    error_message = "compute_log_retention_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the compute-log bucket with its logs."
  type        = bool
  default     = false
}

variable "access_log_bucket" {
  description = "Existing bucket receiving the compute-log bucket's S3 server access logs; null: none."
  type        = string
  default     = null
  validation {
    condition     = var.access_log_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.access_log_bucket))
    error_message = "access_log_bucket must be the name of an existing S3 bucket, or null."
  }
}

variable "log_retention_days" {
  description = "Retention of the container and database log groups, days."
  type        = number
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ..., 365, ...)."
  }
}

variable "warehouse_backup_retention_days" {
  description = "Days AWS Backup keeps the daily backups of the warehouse file system."
  type        = number
  validation {
    condition     = var.warehouse_backup_retention_days >= 1 && var.warehouse_backup_retention_days <= 36500
    error_message = "warehouse_backup_retention_days must be between 1 and 36500."
  }
}

variable "alarm_actions" {
  description = "ARNs notified when the daemon stops running (e.g. an SNS topic). Empty: the alarm shows in the console only."
  type        = list(string)
  default     = []
  nullable    = false
}
