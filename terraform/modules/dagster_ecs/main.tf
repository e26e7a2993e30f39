# Dagster on ECS Fargate: the webserver and the daemon as services, the task definition of the
# run tasks the daemon's EcsRunLauncher starts (deploy/dagster.yaml), PostgreSQL for the instance,
# an S3 bucket for step logs, and the warehouse files on EFS. VPC and subnets are inputs.
#
#   users (webserver_allowed_cidrs / _security_group_ids) ──:3000──▶ webserver service ─┐
#                                                                  (Cloud Map DNS name)  │
#   daemon service ──ecs:RunTask──▶ run task ("run" container) ──┬──▶ EFS warehouse_dir  ├─▶ RDS PostgreSQL
#     (sensors, schedules, run queue, run monitoring)            └──▶ S3 compute logs     │   (password: Secrets
#   daemon ──────────────────────────────────────────────────────────▶ EFS, S3, landing ─┘    Manager → ECS secret)
#
# Files: main.tf (names, environment, KMS key), network.tf, database.tf, storage.tf (EFS, backup,
# compute-log bucket), iam.tf, ecs.tf, outputs.tf.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.region

  # The run task definition's family: the daemon's EcsRunLauncher reads it from
  # DAGSTER_RUN_TASK_DEFINITION and runs its latest revision (ecs.tf redeploys the daemon whenever
  # a new revision is registered).
  run_family = "${var.name}-run"
  # The container the launcher overrides the command of (its `container_name`, deploy/dagster.yaml).
  run_container_name = "run"

  cluster_name = var.name

  # What the Dagster instance (deploy/dagster.yaml) and the code location (settings.ENV_VARS) read.
  # The same environment in the webserver, the daemon and every run task.
  dagster_environment = {
    DAGSTER_HOME                = var.dagster_home
    DAGSTER_PG_HOST             = aws_db_instance.dagster.address
    DAGSTER_PG_PORT             = tostring(aws_db_instance.dagster.port)
    DAGSTER_PG_DB               = aws_db_instance.dagster.db_name
    DAGSTER_PG_USERNAME         = aws_db_instance.dagster.username
    DAGSTER_COMPUTE_LOG_BUCKET  = aws_s3_bucket.compute_logs.id
    DAGSTER_COMPUTE_LOG_PREFIX  = var.compute_log_prefix
    DAGSTER_RUN_TASK_DEFINITION = local.run_family
    WAREHOUSE_DIR               = var.warehouse_dir
    WAREHOUSE_BACKEND           = var.warehouse_backend
  }
  environment = [
    for name, value in merge(var.code_location_env, local.dagster_environment) : { name = name, value = value }
  ]
  # Never a plain environment value: ECS reads the RDS-managed secret when a task starts.
  secrets = [
    {
      name      = "DAGSTER_PG_PASSWORD"
      valueFrom = "${aws_db_instance.dagster.master_user_secret[0].secret_arn}:password::"
    },
  ]

  # KMS key policy. A key policy's "*" resource is the key itself. The account statement delegates
  # to IAM (roles get narrower grants in iam.tf); CloudWatch Logs may use the key for this
  # module's log groups only.
  key_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersAndDelegatesToIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account}:root" }
        Action = [
          "kms:CancelKeyDeletion",
          "kms:CreateAlias",
          "kms:CreateGrant",
          "kms:Decrypt",
          "kms:DeleteAlias",
          "kms:DescribeKey",
          "kms:DisableKey",
          "kms:DisableKeyRotation",
          "kms:EnableKey",
          "kms:EnableKeyRotation",
          "kms:Encrypt",
          "kms:GenerateDataKey",
          "kms:GenerateDataKeyWithoutPlaintext",
          "kms:GetKeyPolicy",
          "kms:GetKeyRotationStatus",
          "kms:ListGrants",
          "kms:ListKeyPolicies",
          "kms:ListKeyRotations",
          "kms:ListResourceTags",
          "kms:PutKeyPolicy",
          "kms:ReEncryptFrom",
          "kms:ReEncryptTo",
          "kms:RetireGrant",
          "kms:RevokeGrant",
          "kms:RotateKeyOnDemand",
          "kms:ScheduleKeyDeletion",
          "kms:TagResource",
          "kms:UntagResource",
          "kms:UpdateAlias",
          "kms:UpdateKeyDescription",
        ]
        Resource = "*"
      },
      {
        Sid       = "CloudWatchLogsEncryptsThisModulesLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.${local.region}.amazonaws.com" }
        Action = [
          "kms:Encrypt",
          "kms:Decrypt",
          "kms:ReEncryptFrom",
          "kms:ReEncryptTo",
          "kms:GenerateDataKey",
          "kms:GenerateDataKeyWithoutPlaintext",
          "kms:DescribeKey",
        ]
        Resource = "*"
        Condition = {
          ArnLike = {
            "kms:EncryptionContext:aws:logs:arn" = [
              "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/ecs/${var.name}/*",
              "arn:${local.partition}:logs:${local.region}:${local.account}:log-group:/aws/rds/instance/${var.name}/*",
            ]
          }
        }
      },
    ]
  }
}

# One customer-managed key for everything this module stores: the database, its password secret
# and Performance Insights, the warehouse file system and its backups, the compute-log bucket, the
# log groups.
resource "aws_kms_key" "dagster" {
  description             = "Dagster deployment ${var.name}: database, secrets, EFS, backups, compute logs, log groups."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = jsonencode(local.key_policy)
}

resource "aws_kms_alias" "dagster" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.dagster.key_id
}
