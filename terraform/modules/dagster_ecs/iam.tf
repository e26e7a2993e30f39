# Roles. Every ECS task definition has its own task role and shares the execution role (ECS uses
# it to pull the image, write the container logs and read the database password):
#
#   execution  logs of the three log groups, the database secret (and the key, via Secrets
#              Manager only), the image's ECR repository
#   webserver  describe and stop run tasks (terminating a run from the UI), read the step logs
#   daemon     the EcsRunLauncher: run, tag, describe and stop run tasks of this cluster, pass
#              exactly the run task's two roles; sensors: the landing zone; step logs; warehouse
#   run        the landing zone, write step logs, the warehouse
#
# What the launcher calls (dagster_aws/ecs/launcher.py, tasks.py, utils.py in dagster-aws 0.29):
# DescribeTaskDefinition (at start-up: the task definition of DAGSTER_RUN_TASK_DEFINITION),
# DescribeTasks (its own task, for cluster and network; each run's task for run monitoring),
# ec2 DescribeNetworkInterfaces (subnets and security groups of its own task), RunTask (+ tags),
# StopTask (terminate), logs GetLogEvents (the failed run task's last lines). With a task
# definition of its own (deploy/dagster.yaml) it registers none: no ecs:RegisterTaskDefinition.
# With `secrets_tag: null` it lists no secrets: no secretsmanager:ListSecrets.

locals {
  ecs_tasks_arn = "arn:${local.partition}:ecs:${local.region}:${local.account}:task/${local.cluster_name}/*"
  # ECR repository of the image, when it is in ECR (account, region, repository).
  ecr = try(regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/([^:@]+)", var.image), null)
  ecr_repository_arns = local.ecr == null ? [] : [
    "arn:${local.partition}:ecr:${local.ecr[1]}:${local.ecr[0]}:repository/${local.ecr[2]}",
  ]
}

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    # Only ECS tasks of this account (confused-deputy protection).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account}:*"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-execution"
  description        = "ECS task execution role of the Dagster deployment ${var.name}: image, logs, database secret."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role" "webserver" {
  name               = "${var.name}-webserver"
  description        = "Dagster webserver: terminate runs, read step logs."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role" "daemon" {
  name               = "${var.name}-daemon"
  description        = "Dagster daemon: launch and watch run tasks, run sensors on the landing zone."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role" "run" {
  name               = "${var.name}-run"
  description        = "Dagster run tasks: read the landing zone, write the warehouse and step logs."
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

# --- execution role -------------------------------------------------------------------------------

data "aws_iam_policy_document" "execution" {
  statement {
    sid     = "WriteContainerLogs"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [
      "${aws_cloudwatch_log_group.webserver.arn}:*",
      "${aws_cloudwatch_log_group.daemon.arn}:*",
      "${aws_cloudwatch_log_group.run.arn}:*",
    ]
  }
  statement {
    sid       = "ReadDatabasePassword"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_db_instance.dagster.master_user_secret[0].secret_arn]
  }
  statement {
    sid       = "DecryptDatabasePassword"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.dagster.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com"]
    }
  }
  dynamic "statement" {
    for_each = length(local.ecr_repository_arns) > 0 ? [1] : []
    content {
      sid     = "AuthenticateToEcr"
      actions = ["ecr:GetAuthorizationToken"]
      # Unavoidable wildcard: ECR's GetAuthorizationToken has no resource-level permissions.
      resources = ["*"]
    }
  }
  dynamic "statement" {
    for_each = length(local.ecr_repository_arns) > 0 ? [1] : []
    content {
      sid       = "PullImage"
      actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = local.ecr_repository_arns
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "${var.name}-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# --- webserver ------------------------------------------------------------------------------------

data "aws_iam_policy_document" "webserver" {
  statement {
    sid       = "DescribeAndStopRunTasks"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = [local.ecs_tasks_arn]
  }
  statement {
    sid     = "ReadRunTaskDefinition"
    actions = ["ecs:DescribeTaskDefinition"]
    # Unavoidable wildcard: ECS's DescribeTaskDefinition has no resource-level permissions.
    resources = ["*"]
  }
  statement {
    sid       = "ListStepLogs"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.compute_logs.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.compute_log_prefix}/*"]
    }
  }
  statement {
    sid       = "ReadStepLogs"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.compute_logs.arn}/${var.compute_log_prefix}/*"]
  }
  statement {
    sid       = "DecryptStepLogs"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.dagster.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "webserver" {
  name   = "${var.name}-webserver"
  role   = aws_iam_role.webserver.id
  policy = data.aws_iam_policy_document.webserver.json
}

# --- daemon: the EcsRunLauncher -------------------------------------------------------------------

data "aws_iam_policy_document" "launcher" {
  statement {
    sid       = "RunRunTasks"
    actions   = ["ecs:RunTask"]
    resources = ["arn:${local.partition}:ecs:${local.region}:${local.account}:task-definition/${local.run_family}:*"]
    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [aws_ecs_cluster.dagster.arn]
    }
  }
  statement {
    sid       = "TagRunTasksAtLaunch"
    actions   = ["ecs:TagResource"]
    resources = [local.ecs_tasks_arn]
    condition {
      test     = "StringEquals"
      variable = "ecs:CreateAction"
      values   = ["RunTask"]
    }
  }
  statement {
    sid       = "DescribeAndStopRunTasks"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = [local.ecs_tasks_arn]
  }
  statement {
    sid     = "ReadRunTaskDefinition"
    actions = ["ecs:DescribeTaskDefinition"]
    # Unavoidable wildcard: ECS's DescribeTaskDefinition has no resource-level permissions.
    resources = ["*"]
  }
  statement {
    sid     = "ReadOwnNetworkInterface"
    actions = ["ec2:DescribeNetworkInterfaces"]
    # Unavoidable wildcard: EC2's Describe* actions have no resource-level permissions.
    resources = ["*"]
  }
  statement {
    sid       = "PassRunTaskRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.run.arn, aws_iam_role.execution.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
  statement {
    sid       = "ReadFailedRunLogs"
    actions   = ["logs:GetLogEvents"]
    resources = ["${aws_cloudwatch_log_group.run.arn}:log-stream:*"]
  }
}

resource "aws_iam_role_policy" "launcher" {
  name   = "${var.name}-launch-runs"
  role   = aws_iam_role.daemon.id
  policy = data.aws_iam_policy_document.launcher.json
}

# --- daemon and run tasks: step logs, warehouse, landing zone -------------------------------------

data "aws_iam_policy_document" "compute_logs_write" {
  # S3ComputeLogManager only uploads from these tasks (reading is the webserver's); a log over
  # 8 MB goes up in parts, which is s3:PutObject too.
  statement {
    sid       = "WriteStepLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.compute_logs.arn}/${var.compute_log_prefix}/*"]
  }
  statement {
    sid = "EncryptStepLogs"
    # kms:Decrypt too: S3 needs it to complete a multipart upload under SSE-KMS.
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.dagster.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["s3.${local.region}.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "warehouse" {
  statement {
    sid       = "MountWarehouseThroughAccessPoint"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [aws_efs_file_system.warehouse.arn]
    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.warehouse.arn]
    }
  }
}

locals {
  # The roles of the containers that load the code location's sensors and assets.
  worker_role_ids = { daemon = aws_iam_role.daemon.id, run = aws_iam_role.run.id }
}

resource "aws_iam_role_policy" "landing" {
  for_each = local.worker_role_ids
  name     = "${var.name}-${each.key}-landing-read"
  role     = each.value
  policy   = var.landing_policy_json
}

resource "aws_iam_role_policy" "compute_logs" {
  for_each = local.worker_role_ids
  name     = "${var.name}-${each.key}-compute-logs"
  role     = each.value
  policy   = data.aws_iam_policy_document.compute_logs_write.json
}

resource "aws_iam_role_policy" "warehouse" {
  for_each = local.worker_role_ids
  name     = "${var.name}-${each.key}-warehouse"
  role     = each.value
  policy   = data.aws_iam_policy_document.warehouse.json
}

# --- RDS enhanced monitoring, AWS Backup ----------------------------------------------------------

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rds_monitoring" {
  name               = "${var.name}-rds-monitoring"
  description        = "RDS enhanced monitoring of the Dagster database ${var.name}."
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

data "aws_iam_policy_document" "backup_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["backup.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "backup" {
  name               = "${var.name}-backup"
  description        = "AWS Backup of the Dagster warehouse file system ${var.name}."
  assume_role_policy = data.aws_iam_policy_document.backup_assume.json
}

resource "aws_iam_role_policy_attachment" "backup" {
  for_each   = toset(["AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"])
  role       = aws_iam_role.backup.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/${each.value}"
}
