# The IAM role Dagster runs as: list and read the landing prefix, drain the notification queue.
# Nothing else: the warehouse is Dagster's own storage, not AWS.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "AWS"
      identifiers = length(var.trusted_principal_arns) > 0 ? var.trusted_principal_arns : [local.account_root]
    }
  }
}

resource "aws_iam_role" "dagster" {
  name                 = var.name
  description          = "Dagster code location of the medallion pipeline: reads the landing zone."
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  max_session_duration = var.max_session_seconds
}

data "aws_iam_policy_document" "dagster" {
  statement {
    sid       = "ListLandingPrefix"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.landing_prefix}/*"]
    }
  }
  statement {
    sid       = "ReadLandingFiles"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arn}/${var.landing_prefix}/*"]
  }
  statement {
    sid       = "DrainLandingNotifications"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage"]
    resources = [var.queue_arn]
  }
  dynamic "statement" {
    for_each = var.bucket_kms_key_arn == null ? [] : [var.bucket_kms_key_arn]
    content {
      sid       = "DecryptLandingFiles"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "dagster" {
  name   = "${var.name}-landing-read"
  role   = aws_iam_role.dagster.id
  policy = data.aws_iam_policy_document.dagster.json
}
