# The collector Lambda: its package (built by scripts/build_lambda_package.py, zipped here), its
# log group, its least-privilege role, a queue for failed invocations, and an errors alarm.
# The schedule that invokes it is in schedule.tf.

data "aws_caller_identity" "current" {}

data "archive_file" "package" {
  type        = "zip"
  source_dir  = var.package_dir
  output_path = "${path.root}/build/${var.name}.zip"
}

resource "aws_cloudwatch_log_group" "collector" {
  #checkov:skip=CKV_AWS_158:Logs hold batch ids and counts, no customer data; CloudWatch Logs encrypts them with its own key. A customer-managed key is a later opt-in.
  #checkov:skip=CKV_AWS_338:Retention is a variable (var.log_retention_days); a year of debug logs for a demo collector is cost without use, prod sets its own.
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_sqs_queue" "failures" {
  name                      = "${var.name}-failures"
  message_retention_seconds = 1209600 # the maximum, 14 days
  sqs_managed_sse_enabled   = true
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "collector" {
  name               = "${var.name}-role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "collector" {
  statement {
    sid       = "WriteLandingFiles"
    actions   = ["s3:PutObject"]
    resources = ["${var.bucket_arn}/${var.landing_prefix}/*"]
  }
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.collector.arn}:*"]
  }
  statement {
    sid       = "ReportFailedInvocations"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failures.arn]
  }
  dynamic "statement" {
    for_each = var.bucket_kms_key_arn == null ? [] : [var.bucket_kms_key_arn]
    content {
      sid       = "EncryptLandingFiles"
      actions   = ["kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []
    content {
      sid     = "WriteTraces"
      actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      # Unavoidable wildcard: X-Ray has no resource-level permissions for these actions.
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "collector" {
  name   = "${var.name}-least-privilege"
  role   = aws_iam_role.collector.id
  policy = data.aws_iam_policy_document.collector.json
}

resource "aws_lambda_function" "collector" {
  #checkov:skip=CKV_AWS_117:The collector only calls S3 and SQS over their public TLS endpoints; a VPC would add NAT or endpoints for no isolation gain.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile and a signing step in the build; the package is built from this repository by Terraform itself.
  #checkov:skip=CKV_AWS_173:The environment holds bucket name, prefix and batch settings, no secrets; Lambda encrypts it at rest with an AWS-managed key.
  function_name                  = var.name
  description                    = "Lands synthetic customer, transaction type and transaction batches in the landing zone."
  role                           = aws_iam_role.collector.arn
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = ["x86_64"] # the package is built for manylinux x86_64
  filename                       = data.archive_file.package.output_path
  source_code_hash               = data.archive_file.package.output_base64sha256
  memory_size                    = var.memory_mb
  timeout                        = var.timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = {
      LANDING_BUCKET = var.bucket_name
      LANDING_PREFIX = var.landing_prefix
      BATCH_SIZE     = tostring(var.batch_size)
      DIRTY_RATE     = tostring(var.dirty_rate)
      LANDING_FORMAT = var.landing_format
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.collector.name
  }

  tracing_config {
    mode = var.tracing_mode
  }

  # The raw event of an invocation that failed all retries (the destination below gets a record
  # of it with the error).
  dead_letter_config {
    target_arn = aws_sqs_queue.failures.arn
  }

  depends_on = [aws_iam_role_policy.collector, aws_cloudwatch_log_group.collector]
}

resource "aws_lambda_function_event_invoke_config" "collector" {
  function_name                = aws_lambda_function.collector.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
  destination_config {
    on_failure {
      destination = aws_sqs_queue.failures.arn
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-errors"
  alarm_description   = "The collector failed: see its log group and the failures queue."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.collector.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}
