# The cluster, the three task definitions (webserver, daemon, run) and the two services. One image,
# one environment (main.tf), a read-only root file system with a scratch /tmp, logs in log groups
# created here.

resource "aws_ecs_cluster" "dagster" {
  name = local.cluster_name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "webserver" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (var.log_retention_days, dev 14, prod 90); a year of webserver logs is cost without use.
  name              = "/ecs/${var.name}/webserver"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.dagster.arn
}

resource "aws_cloudwatch_log_group" "daemon" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (var.log_retention_days, dev 14, prod 90); a year of daemon logs is cost without use.
  name              = "/ecs/${var.name}/daemon"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.dagster.arn
}

resource "aws_cloudwatch_log_group" "run" {
  #checkov:skip=CKV_AWS_338:Retention is a variable (var.log_retention_days, dev 14, prod 90); run output is kept in S3 (compute logs), these are the task's own logs.
  name              = "/ecs/${var.name}/run"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.dagster.arn
}

locals {
  scratch_volume   = "tmp"
  warehouse_volume = "warehouse"
  # The root file system is read-only; Python, Dagster's code server socket and the staging of
  # step logs (S3ComputeLogManager) write to /tmp, the warehouse to warehouse_dir. The file system
  # is mounted at warehouse_dir's parent: a rebuild (medallion_dagster.recovery) stages the new
  # warehouse beside WAREHOUSE_DIR and moves the old one beside it too, which must be on the same
  # (writable) file system.
  scratch_mount   = { sourceVolume = local.scratch_volume, containerPath = "/tmp", readOnly = false }
  warehouse_mount = { sourceVolume = local.warehouse_volume, containerPath = dirname(var.warehouse_dir), readOnly = false }

  # The webserver is healthy when it answers and can open a database connection with the password
  # it started with: after a password rotation ECS replaces it and it starts with the new one.
  webserver_health_check = join("; ", [
    "import os, urllib.request, psycopg2",
    "urllib.request.urlopen('http://localhost:3000/server_info', timeout=5)",
    "psycopg2.connect(host=os.environ['DAGSTER_PG_HOST'], port=os.environ['DAGSTER_PG_PORT'], dbname=os.environ['DAGSTER_PG_DB'], user=os.environ['DAGSTER_PG_USERNAME'], password=os.environ['DAGSTER_PG_PASSWORD'], connect_timeout=5).close()",
  ])

  containers = {
    webserver = {
      name                   = "webserver"
      image                  = var.image
      essential              = true
      command                = ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", var.workspace_file]
      portMappings           = [{ containerPort = 3000, protocol = "tcp" }]
      environment            = local.environment
      secrets                = local.secrets
      readonlyRootFilesystem = true
      mountPoints            = [local.scratch_mount]
      healthCheck = {
        command     = ["CMD", "python", "-c", local.webserver_health_check]
        interval    = 30
        timeout     = 10
        retries     = 3
        startPeriod = 120
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.webserver.name
          "awslogs-region"        = local.region
          "awslogs-stream-prefix" = "webserver"
        }
      }
    }
    daemon = {
      name                   = "daemon"
      image                  = var.image
      essential              = true
      command                = ["dagster-daemon", "run", "-w", var.workspace_file]
      environment            = local.environment
      secrets                = local.secrets
      readonlyRootFilesystem = true
      mountPoints            = [local.scratch_mount, local.warehouse_mount]
      # Recent heartbeats of every daemon, read with a new database connection (see above).
      healthCheck = {
        command     = ["CMD", "dagster-daemon", "liveness-check"]
        interval    = 60
        timeout     = 30
        retries     = 3
        startPeriod = 300
      }
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.daemon.name
          "awslogs-region"        = local.region
          "awslogs-stream-prefix" = "daemon"
        }
      }
    }
    # The launcher sets this container's command (`dagster api execute_run ...`) per run.
    run = {
      name                   = local.run_container_name
      image                  = var.image
      essential              = true
      environment            = local.environment
      secrets                = local.secrets
      readonlyRootFilesystem = true
      mountPoints            = [local.scratch_mount, local.warehouse_mount]
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.run.name
          "awslogs-region"        = local.region
          "awslogs-stream-prefix" = "run"
        }
      }
    }
  }
}

resource "aws_ecs_task_definition" "webserver" {
  family                   = "${var.name}-webserver"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_sizes.webserver.cpu
  memory                   = var.task_sizes.webserver.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.webserver.arn
  container_definitions    = jsonencode([local.containers.webserver])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = local.scratch_volume
  }
}

resource "aws_ecs_task_definition" "daemon" {
  family                   = "${var.name}-daemon"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_sizes.daemon.cpu
  memory                   = var.task_sizes.daemon.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.daemon.arn
  container_definitions    = jsonencode([local.containers.daemon])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = local.scratch_volume
  }

  volume {
    name = local.warehouse_volume
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.warehouse.id
      transit_encryption = "ENABLED"
      authorization_config {
        access_point_id = aws_efs_access_point.warehouse.id
        iam             = "ENABLED"
      }
    }
  }
}

# Run tasks: started by the daemon's EcsRunLauncher (deploy/dagster.yaml: task_definition from
# DAGSTER_RUN_TASK_DEFINITION = this family, container_name = "run"), in the daemon's cluster,
# subnets and security group.
resource "aws_ecs_task_definition" "run" {
  family                   = local.run_family
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_sizes.run.cpu
  memory                   = var.task_sizes.run.memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.run.arn
  container_definitions    = jsonencode([local.containers.run])

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = var.cpu_architecture
  }

  volume {
    name = local.scratch_volume
  }

  volume {
    name = local.warehouse_volume
    efs_volume_configuration {
      file_system_id     = aws_efs_file_system.warehouse.id
      transit_encryption = "ENABLED"
      authorization_config {
        access_point_id = aws_efs_access_point.warehouse.id
        iam             = "ENABLED"
      }
    }
  }
}

resource "aws_ecs_service" "webserver" {
  name                    = "${var.name}-webserver"
  cluster                 = aws_ecs_cluster.dagster.id
  task_definition         = aws_ecs_task_definition.webserver.arn
  desired_count           = 1
  launch_type             = "FARGATE"
  platform_version        = "LATEST"
  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.webserver.id]
    assign_public_ip = false
  }

  service_registries {
    registry_arn = aws_service_discovery_service.webserver.arn
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_iam_role_policy.execution, aws_iam_role_policy.webserver]
}

resource "aws_ecs_service" "daemon" {
  name                    = "${var.name}-daemon"
  cluster                 = aws_ecs_cluster.dagster.id
  task_definition         = aws_ecs_task_definition.daemon.arn
  desired_count           = 1
  launch_type             = "FARGATE"
  platform_version        = "LATEST"
  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  # Never two daemons at once (they would evaluate every sensor and launch every queued run twice):
  # a deployment stops the old daemon before it starts the new one.
  deployment_minimum_healthy_percent = 0
  deployment_maximum_percent         = 100

  # The launcher resolves DAGSTER_RUN_TASK_DEFINITION (a family) to its latest revision when the
  # daemon starts: restart the daemon whenever the run task definition changes.
  force_new_deployment = true
  triggers = {
    run_task_definition = aws_ecs_task_definition.run.arn
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [
    aws_efs_mount_target.warehouse,
    aws_iam_role_policy.execution,
    aws_iam_role_policy.launcher,
    aws_iam_role_policy.landing,
    aws_iam_role_policy.compute_logs,
    aws_iam_role_policy.warehouse,
  ]
}

resource "aws_cloudwatch_metric_alarm" "daemon_not_running" {
  alarm_name          = "${var.name}-daemon-not-running"
  alarm_description   = "The Dagster daemon is not running: no sensors, schedules or queued runs. See the daemon's log group and the service's events."
  namespace           = "ECS/ContainerInsights"
  metric_name         = "RunningTaskCount"
  dimensions          = { ClusterName = aws_ecs_cluster.dagster.name, ServiceName = aws_ecs_service.daemon.name }
  statistic           = "Minimum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
}
