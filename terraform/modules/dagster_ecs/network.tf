# Security groups (nothing is reachable from outside the VPC) and the webserver's private DNS name.
#
#   webserver SG ── in: 3000 from webserver_allowed_cidrs / _security_group_ids
#   tasks SG (daemon and run tasks: the launcher starts runs with the daemon's network config)
#   database SG  ── in: 5432 from webserver and tasks
#   EFS SG       ── in: 2049 from tasks
# Egress: HTTPS to the AWS APIs (through the VPC's NAT gateway or endpoints) and alert webhooks;
# PostgreSQL to the database; NFS to EFS. Nothing else.

data "aws_subnet" "private" {
  for_each = toset(var.private_subnet_ids)
  id       = each.value
}

locals {
  subnet_ids_by_az = { for id, subnet in data.aws_subnet.private : subnet.availability_zone => id... }
  # EFS allows one mount target per Availability Zone.
  mount_target_subnets = { for az, ids in local.subnet_ids_by_az : az => sort(ids)[0] }
}

resource "aws_security_group" "webserver" {
  name        = "${var.name}-webserver"
  description = "Dagster webserver: port 3000 from the allowed networks only."
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "Dagster daemon and run tasks: no inbound traffic."
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "database" {
  name        = "${var.name}-database"
  description = "Dagster PostgreSQL: port 5432 from the webserver and the tasks."
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "efs" {
  name        = "${var.name}-efs"
  description = "Warehouse file system: NFS from the daemon and run tasks."
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "webserver_from_cidrs" {
  for_each          = toset(var.webserver_allowed_cidrs)
  security_group_id = aws_security_group.webserver.id
  description       = "Dagster UI from an allowed network."
  ip_protocol       = "tcp"
  from_port         = 3000
  to_port           = 3000
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_ingress_rule" "webserver_from_groups" {
  for_each                     = toset(var.webserver_allowed_security_group_ids)
  security_group_id            = aws_security_group.webserver.id
  description                  = "Dagster UI from an allowed security group (e.g. an SSM bastion)."
  ip_protocol                  = "tcp"
  from_port                    = 3000
  to_port                      = 3000
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_egress_rule" "https" {
  for_each          = { webserver = aws_security_group.webserver.id, tasks = aws_security_group.tasks.id }
  security_group_id = each.value
  description       = "HTTPS to the AWS APIs (ECR, S3, SQS, ECS, CloudWatch Logs, Secrets Manager) and alert webhooks."
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "postgres" {
  for_each                     = { webserver = aws_security_group.webserver.id, tasks = aws_security_group.tasks.id }
  security_group_id            = each.value
  description                  = "PostgreSQL of the Dagster instance."
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = aws_security_group.database.id
}

resource "aws_vpc_security_group_ingress_rule" "postgres" {
  for_each                     = { webserver = aws_security_group.webserver.id, tasks = aws_security_group.tasks.id }
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the Dagster ${each.key}."
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
  referenced_security_group_id = each.value
}

resource "aws_vpc_security_group_egress_rule" "nfs" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "NFS to the warehouse file system."
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.efs.id
}

resource "aws_vpc_security_group_ingress_rule" "nfs" {
  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from the Dagster daemon and run tasks."
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = aws_security_group.tasks.id
}

# A stable name for the webserver inside the VPC: http://webserver.<name>.internal:3000 (the task's
# address changes with every deployment).
resource "aws_service_discovery_private_dns_namespace" "dagster" {
  name        = "${var.name}.internal"
  description = "Private names of the Dagster deployment ${var.name}."
  vpc         = var.vpc_id
}

resource "aws_service_discovery_service" "webserver" {
  name = "webserver"
  dns_config {
    namespace_id   = aws_service_discovery_private_dns_namespace.dagster.id
    routing_policy = "MULTIVALUE"
    dns_records {
      type = "A"
      ttl  = 10
    }
  }
  health_check_custom_config {}
}
