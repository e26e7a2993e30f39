# The warehouse on EFS (SQLite or DuckDB files: one writer at a time, deploy/dagster.yaml queues
# runs one at a time), its daily backup, and the S3 bucket of step logs.

resource "aws_efs_file_system" "warehouse" {
  creation_token   = "${var.name}-warehouse"
  encrypted        = true
  kms_key_id       = aws_kms_key.dagster.arn
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"
  # No transition to infrequent access: the layer files are read by every run.
  tags = {
    Name = "${var.name}-warehouse"
  }
}

resource "aws_efs_mount_target" "warehouse" {
  for_each        = local.mount_target_subnets
  file_system_id  = aws_efs_file_system.warehouse.id
  subnet_id       = each.value
  security_groups = [aws_security_group.efs.id]
}

# Every file operation through the access point runs as the POSIX user below, in /warehouse of the
# file system, whatever user the container runs as.
resource "aws_efs_access_point" "warehouse" {
  file_system_id = aws_efs_file_system.warehouse.id
  posix_user {
    uid = var.warehouse_posix_user.uid
    gid = var.warehouse_posix_user.gid
  }
  root_directory {
    path = "/warehouse"
    creation_info {
      owner_uid   = var.warehouse_posix_user.uid
      owner_gid   = var.warehouse_posix_user.gid
      permissions = "0750"
    }
  }
  tags = {
    Name = "${var.name}-warehouse"
  }
}

data "aws_iam_policy_document" "warehouse_file_system" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"]
    # a deny: every client without TLS
    resources = [aws_efs_file_system.warehouse.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
  statement {
    sid     = "DenyMountsOutsideTheAccessPoint"
    effect  = "Deny"
    actions = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite", "elasticfilesystem:ClientRootAccess"]
    # a deny: the daemon and run tasks mount through the access point, nobody mounts the root
    resources = [aws_efs_file_system.warehouse.arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.warehouse.arn]
    }
  }
}

resource "aws_efs_file_system_policy" "warehouse" {
  file_system_id = aws_efs_file_system.warehouse.id
  policy         = data.aws_iam_policy_document.warehouse_file_system.json
}

# Daily backups of the warehouse. A backup copies files while a run may write them: for a
# consistent copy use `make backup` (SQLite's backup API); the landing zone can always rebuild
# the warehouse (`make rebuild`).
resource "aws_backup_vault" "warehouse" {
  name        = "${var.name}-warehouse"
  kms_key_arn = aws_kms_key.dagster.arn
}

resource "aws_backup_plan" "warehouse" {
  name = "${var.name}-warehouse"
  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.warehouse.name
    schedule          = "cron(0 3 * * ? *)"
    lifecycle {
      delete_after = var.warehouse_backup_retention_days
    }
  }
}

resource "aws_backup_selection" "warehouse" {
  name         = "${var.name}-warehouse"
  plan_id      = aws_backup_plan.warehouse.id
  iam_role_arn = aws_iam_role.backup.arn
  resources    = [aws_efs_file_system.warehouse.arn]
}

# Step stdout/stderr (S3ComputeLogManager, deploy/dagster.yaml): private, encrypted with the
# module's key, TLS-only, versioned; logs expire after compute_log_retention_days.
resource "aws_s3_bucket" "compute_logs" {
  #checkov:skip=CKV_AWS_144:Cross-region replication of step logs is a disaster-recovery choice with its own cost; the logs are diagnostics that expire, not data.
  bucket        = "${var.name}-logs-${local.account}"
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_ownership_controls" "compute_logs" {
  bucket = aws_s3_bucket.compute_logs.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "compute_logs" {
  bucket                  = aws_s3_bucket.compute_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "compute_logs" {
  bucket = aws_s3_bucket.compute_logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "compute_logs" {
  bucket = aws_s3_bucket.compute_logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.dagster.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_logging" "compute_logs" {
  count         = var.access_log_bucket == null ? 0 : 1
  bucket        = aws_s3_bucket.compute_logs.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3-access/${aws_s3_bucket.compute_logs.id}/"
}

# Object-level events as EventBridge events (an audit trail you can route anywhere).
resource "aws_s3_bucket_notification" "compute_logs" {
  bucket      = aws_s3_bucket.compute_logs.id
  eventbridge = true
}

data "aws_iam_policy_document" "compute_logs_tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"] # a deny: every action, whoever asks, without TLS
    resources = [
      aws_s3_bucket.compute_logs.arn,
      "${aws_s3_bucket.compute_logs.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
  statement {
    sid     = "DenyOutdatedTls"
    effect  = "Deny"
    actions = ["s3:*"] # a deny, as above
    resources = [
      aws_s3_bucket.compute_logs.arn,
      "${aws_s3_bucket.compute_logs.arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      values   = ["1.2"]
    }
  }
}

resource "aws_s3_bucket_policy" "compute_logs" {
  bucket = aws_s3_bucket.compute_logs.id
  policy = data.aws_iam_policy_document.compute_logs_tls_only.json
  # the public access block must exist first, or S3 may reject the policy
  depends_on = [aws_s3_bucket_public_access_block.compute_logs]
}

resource "aws_s3_bucket_lifecycle_configuration" "compute_logs" {
  bucket = aws_s3_bucket.compute_logs.id

  rule {
    id     = "step-logs"
    status = "Enabled"
    filter {}
    expiration {
      days = var.compute_log_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  rule {
    id     = "housekeeping"
    status = "Enabled"
    filter {}
    expiration {
      expired_object_delete_marker = true
    }
  }

  depends_on = [aws_s3_bucket_versioning.compute_logs]
}
