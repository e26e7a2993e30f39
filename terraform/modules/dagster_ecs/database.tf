# PostgreSQL for the Dagster instance: run, event-log and schedule storage (deploy/dagster.yaml).
# Private, encrypted with the module's key, TLS enforced, Multi-AZ, password generated and kept by
# RDS in Secrets Manager (manage_master_user_password): Terraform never sees it, the tasks get it
# as an ECS secret (DAGSTER_PG_PASSWORD).

resource "aws_db_subnet_group" "dagster" {
  name        = var.name
  description = "Private subnets of the Dagster database ${var.name}."
  subnet_ids  = var.private_subnet_ids

  lifecycle {
    precondition {
      condition     = alltrue([for subnet in data.aws_subnet.private : subnet.vpc_id == var.vpc_id])
      error_message = "Every subnet in private_subnet_ids must belong to vpc_id."
    }
    precondition {
      condition     = length(local.subnet_ids_by_az) >= 2
      error_message = "private_subnet_ids must span at least two Availability Zones (RDS Multi-AZ)."
    }
  }
}

resource "aws_db_parameter_group" "dagster" {
  name_prefix = "${var.name}-"
  description = "Dagster PostgreSQL: TLS only, DDL and slow statements logged."
  family      = "postgres${split(".", var.db.engine_version)[0]}"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_statement"
    value = "ddl"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "1000" # milliseconds
  }

  lifecycle {
    create_before_destroy = true
  }
}

# RDS creates these when it first exports logs (without retention or the key): create them first.
resource "aws_cloudwatch_log_group" "rds_postgresql" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (var.log_retention_days, dev 14, prod 90); a year of database logs is cost without use.
  name              = "/aws/rds/instance/${var.name}/postgresql"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.dagster.arn
}

resource "aws_cloudwatch_log_group" "rds_upgrade" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (var.log_retention_days, dev 14, prod 90); a year of upgrade logs is cost without use.
  name              = "/aws/rds/instance/${var.name}/upgrade"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.dagster.arn
}

resource "aws_db_instance" "dagster" {
  identifier     = var.name
  engine         = "postgres"
  engine_version = var.db.engine_version
  instance_class = var.db.instance_class

  db_name                       = "dagster"
  username                      = "dagster"
  manage_master_user_password   = true
  master_user_secret_kms_key_id = aws_kms_key.dagster.arn
  port                          = 5432

  allocated_storage     = var.db.allocated_storage
  max_allocated_storage = var.db.max_allocated_storage
  storage_type          = "gp3"
  storage_encrypted     = true
  kms_key_id            = aws_kms_key.dagster.arn

  db_subnet_group_name   = aws_db_subnet_group.dagster.name
  vpc_security_group_ids = [aws_security_group.database.id]
  publicly_accessible    = false
  multi_az               = true
  parameter_group_name   = aws_db_parameter_group.dagster.name
  ca_cert_identifier     = "rds-ca-rsa2048-g1"

  # The tasks log in with the password; IAM authentication is on for operators (rds-db:connect).
  iam_database_authentication_enabled = true

  backup_retention_period   = var.db.backup_retention_days
  copy_tags_to_snapshot     = true
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.name}-final"

  auto_minor_version_upgrade  = true
  allow_major_version_upgrade = false

  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.dagster.arn
  performance_insights_retention_period = 7

  depends_on = [aws_cloudwatch_log_group.rds_postgresql, aws_cloudwatch_log_group.rds_upgrade]
}

# RDS rotates the master password (every 7 days unless told otherwise). The tasks read it when they
# start, so rotate at a quiet, known time; the webserver's and the daemon's health checks open a
# new database connection, so ECS replaces them within minutes of a rotation and they start with
# the new password (ecs.tf). A run that is executing at that moment fails and is retried by
# run_retries (deploy/dagster.yaml) in a new task.
resource "aws_secretsmanager_secret_rotation" "dagster_db" {
  secret_id = aws_db_instance.dagster.master_user_secret[0].secret_arn
  rotation_rules {
    schedule_expression = var.db.password_rotation_schedule
  }
}
