"""Dagster on ECS (terraform/modules/dagster_ecs) and the Python side agree.

- the containers' environment is what the code location (settings.ENV_VARS) and the Dagster
  instance (deploy/dagster.yaml) read, the same in the webserver, the daemon and the run tasks;
  the database password only ever arrives as an ECS secret;
- the run task definition is the one the EcsRunLauncher is told to use, its container is `run`;
- the IAM grants are what dagster-aws's EcsRunLauncher and S3ComputeLogManager actually call,
  recorded against moto (not copied by hand), with iam:PassRole on exactly the run task's roles;
- RDS private and encrypted, EFS encrypted and mounted at WAREHOUSE_DIR, every container logs to
  a log group created here, read-only root file systems (checkov cannot render the container
  definitions, which reference resources, so these are checked here);
- the validations (WAREHOUSE_BACKEND, Fargate task sizes, image references) accept exactly what
  they should.

Each check is a function over the parsed Terraform; the `*_is_caught` tests run it on a mutated
copy and see it fail.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import sys
import time
from pathlib import Path

import boto3
import botocore.client
import dagster as dg
import hcl2
import pytest
import yaml
from moto import mock_aws

from medallion_dagster import settings as dagster_settings
from tests.terraform.conftest import (
    ENVIRONMENTS,
    OPTIONS,
    ROOT,
    Module,
    environment,
    module,
    unwrap,
)
from tests.terraform.test_consistency import iam_match

DAGSTER_YAML = ROOT / "deploy" / "dagster.yaml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"

#: What the Dagster instance reads (deploy/dagster.yaml), besides the code location's ENV_VARS.
INSTANCE_VARS = {
    "DAGSTER_HOME",
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_DB",
    "DAGSTER_PG_USERNAME",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_COMPUTE_LOG_BUCKET",
    "DAGSTER_COMPUTE_LOG_PREFIX",
    # the EcsRunLauncher's task_definition (`env:` in deploy/dagster.yaml): the run family
    "DAGSTER_RUN_TASK_DEFINITION",
}
AWS_SDK_VARS = {"AWS_REGION"}
SECRET_VARS = {"DAGSTER_PG_PASSWORD"}
#: What the containers must set: the instance, the warehouse and the landing zone.
REQUIRED_VARS = INSTANCE_VARS | {
    dagster_settings.ENV_WAREHOUSE_DIR,
    dagster_settings.ENV_WAREHOUSE_BACKEND,
    dagster_settings.ENV_BUCKET,
    dagster_settings.ENV_PREFIX,
    dagster_settings.ENV_QUEUE_URL,
    "AWS_REGION",
}
#: The warehouse backends the code supports. A literal on purpose (the owner adds backends in
#: medallion_dagster; when one is added, this set, the module's and the environments'
#: WAREHOUSE_BACKEND validations change together). test_warehouse_backend_... also compares it
#: with medallion_dagster.definitions.BACKENDS when that exists.
WAREHOUSE_BACKENDS = {"sqlite", "duckdb"}
CONTAINERS = ("webserver", "daemon", "run")

#: Fargate's CPU/memory combinations (Linux), from the ECS developer guide's task size table.
FARGATE_SIZES = {
    256: {512, 1024, 2048},
    512: set(range(1024, 4096 + 1, 1024)),
    1024: set(range(2048, 8192 + 1, 1024)),
    2048: set(range(4096, 16384 + 1, 1024)),
    4096: set(range(8192, 30720 + 1, 1024)),
    8192: set(range(16384, 61440 + 1, 4096)),
    16384: set(range(32768, 122880 + 1, 8192)),
}

#: moto's account; the module's name as the dev environment would set it.
ACCOUNT = "123456789012"
REGION = "us-east-1"
NAME = "medallion-test-dagster"


# --- the parsed module ----------------------------------------------------------------------------


class Deployment:
    """modules/dagster_ecs, parsed, with its locals merged (a copy can be mutated)."""

    def __init__(self, m: Module):
        self.module = m
        self.locals: dict = {}
        for block in m.blocks["locals"]:
            self.locals.update(block)

    def resources(self, type_: str) -> dict[str, dict]:
        return self.module.resources(type_)

    def statements(self, document: str) -> list[dict]:
        return self.module.policy_statements(document)

    def local(self, expression: str):
        """`${local.x}` -> the parsed value of local x."""
        ref = unwrap(expression)
        assert ref.startswith("local."), expression
        return self.locals[ref.removeprefix("local.")]

    def container(self, name: str) -> dict:
        return self.locals["containers"][name]

    def task_definition(self, name: str) -> dict:
        return self.resources("aws_ecs_task_definition")[name]

    def environment_names(self) -> set[str]:
        """Names the containers' environment holds: the module's own map plus the landing map
        the environments pass as code_location_env (medallion_platform's dagster_env)."""
        expression = self.locals["environment"]
        assert "merge(var.code_location_env, local.dagster_environment)" in expression
        landing = module("medallion_platform").outputs["dagster_env"]["value"]
        for env in ENVIRONMENTS:
            wired = environment(env).modules["dagster"]["code_location_env"]
            assert unwrap(wired) == "module.medallion.dagster_env"
        return set(self.locals["dagster_environment"]) | set(landing)

    def secret_names(self) -> set[str]:
        return {s["name"] for s in self.locals["secrets"]}


@pytest.fixture
def deployment() -> Deployment:
    return Deployment(module("dagster_ecs"))


def render(expression: str, deployment: Deployment, values: dict[str, str]) -> str:
    """Substitute `${...}` references: `values` first, then (recursively) the module's locals."""

    def substitute(match: re.Match) -> str:
        ref = match.group(1)
        if ref in values:
            return values[ref]
        if ref.startswith("local.") and isinstance(deployment.locals.get(ref[6:]), str):
            return render(deployment.locals[ref[6:]], deployment, values)
        raise AssertionError(f"cannot evaluate ${{{ref}}} offline")

    return re.sub(r"\$\{([A-Za-z0-9_.\[\]\"]+)\}", substitute, expression)


def hcl_regex(condition: str) -> str:
    """The first regex("...") pattern of a validation condition, as Python reads it."""
    pattern = re.search(r'regex\("((?:[^"\\]|\\.)*)"', condition).group(1)
    return pattern.replace("\\\\", "\\")


# --- environment --------------------------------------------------------------------------------


def check_environment(d: Deployment) -> None:
    names = d.environment_names()
    allowed = set(dagster_settings.ENV_VARS) | INSTANCE_VARS | AWS_SDK_VARS
    assert names <= allowed, f"containers set variables nothing reads: {names - allowed}"
    assert names >= REQUIRED_VARS - SECRET_VARS, f"not set: {REQUIRED_VARS - SECRET_VARS - names}"
    # LANDING_DIR would point the code location at a local folder instead of the bucket.
    assert dagster_settings.ENV_LOCAL_DIR not in names
    assert not names & SECRET_VARS, "the password must never be a plain environment value"
    assert d.secret_names() == SECRET_VARS


def test_the_containers_set_exactly_what_the_code_location_and_the_instance_read(deployment):
    check_environment(deployment)
    env = deployment.locals["dagster_environment"]
    assert unwrap(env["WAREHOUSE_DIR"]) == "var.warehouse_dir"
    assert unwrap(env["WAREHOUSE_BACKEND"]) == "var.warehouse_backend"
    assert unwrap(env["DAGSTER_RUN_TASK_DEFINITION"]) == "local.run_family"
    assert unwrap(env["DAGSTER_PG_HOST"]) == "aws_db_instance.dagster.address"
    assert unwrap(env["DAGSTER_COMPUTE_LOG_BUCKET"]) == "aws_s3_bucket.compute_logs.id"
    assert unwrap(env["DAGSTER_COMPUTE_LOG_PREFIX"]) == "var.compute_log_prefix"
    variables = deployment.module.variables
    assert variables["dagster_home"]["default"] == "/opt/dagster/dagster_home"
    assert variables["warehouse_dir"]["default"] == "/mnt/warehouse"
    # The landing map cannot override what the module sets (its validation lists every name).
    guard = variables["code_location_env"]["validation"][0]["condition"]
    assert all(f'"{name}"' in guard for name in deployment.locals["dagster_environment"])
    assert '"DAGSTER_PG_PASSWORD"' in guard


def test_an_environment_variable_nothing_reads_or_a_plain_password_is_caught(deployment):
    unknown = copy.deepcopy(deployment)
    unknown.locals["dagster_environment"]["WAREHOUSE_PATH"] = "${var.warehouse_dir}"
    with pytest.raises(AssertionError, match="nothing reads"):
        check_environment(unknown)
    plain = copy.deepcopy(deployment)
    plain.locals["dagster_environment"]["DAGSTER_PG_PASSWORD"] = "hunter2"
    with pytest.raises(AssertionError, match="plain environment value"):
        check_environment(plain)
    missing = copy.deepcopy(deployment)
    del missing.locals["dagster_environment"]["WAREHOUSE_BACKEND"]
    with pytest.raises(AssertionError, match="not set"):
        check_environment(missing)


def check_containers_share_environment(d: Deployment) -> None:
    for name in CONTAINERS:
        container = d.container(name)
        assert container["environment"] == "${local.environment}", name
        assert container["secrets"] == "${local.secrets}", name
        assert container["image"] == "${var.image}", name
        definition = d.task_definition(name)
        assert definition["container_definitions"] == f"${{jsonencode([local.containers.{name}])}}"


def test_the_three_task_definitions_share_one_image_environment_and_secret(deployment):
    check_containers_share_environment(deployment)
    (secret,) = deployment.locals["secrets"]
    # the RDS-managed secret's `password` key (ECS: <secret arn>:<json key>:<stage>:<version>)
    assert secret["valueFrom"] == (
        "${aws_db_instance.dagster.master_user_secret[0].secret_arn}:password::"
    )
    db = deployment.resources("aws_db_instance")["dagster"]
    assert db["manage_master_user_password"] is True
    assert not {"password", "password_wo"} & set(db), "RDS generates the password"
    # ECS reads it with the execution role: exactly that secret, its key only via Secrets Manager.
    statements = {s["sid"]: s for s in deployment.statements("execution")}
    assert statements["ReadDatabasePassword"]["resources"] == [
        "${aws_db_instance.dagster.master_user_secret[0].secret_arn}"
    ]
    assert statements["DecryptDatabasePassword"]["condition"][0]["values"] == [
        "secretsmanager.${local.region}.amazonaws.com"
    ]


def test_a_container_with_its_own_environment_is_caught(deployment):
    drifted = copy.deepcopy(deployment)
    drifted.locals["containers"]["run"]["environment"] = [{"name": "WAREHOUSE_DIR", "value": "/x"}]
    with pytest.raises(AssertionError, match="run"):
        check_containers_share_environment(drifted)


def yaml_env_names(node) -> set[str]:
    """Every `{env: NAME}` a Dagster YAML file reads."""
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        return set().union(set(), *(yaml_env_names(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(set(), *(yaml_env_names(v) for v in node))
    return set()


def deploy_config() -> dict:
    if not DAGSTER_YAML.exists():
        pytest.skip("deploy/dagster.yaml does not exist yet")
    return yaml.safe_load(DAGSTER_YAML.read_text())


def test_every_variable_deploy_dagster_yaml_reads_is_set_in_every_task_definition(deployment):
    read = yaml_env_names(deploy_config())
    assert read, "deploy/dagster.yaml reads no environment variable?"
    for name in CONTAINERS:
        container = deployment.container(name)
        names = deployment.environment_names() if container["environment"] else set()
        names |= deployment.secret_names() if container["secrets"] else set()
        assert read <= names, f"{name} does not set {read - names}"
    assert read <= INSTANCE_VARS


# --- the run task definition and the launcher -----------------------------------------------------


def test_the_run_task_definition_is_the_one_the_launcher_uses(deployment):
    d = deployment
    assert d.locals["run_container_name"] == "run"
    assert d.container("run")["name"] == "${local.run_container_name}"
    assert "command" not in d.container("run"), "the launcher sets the run container's command"
    assert d.module.outputs["run_container_name"]["value"] == "${local.run_container_name}"
    assert d.task_definition("run")["family"] == "${local.run_family}"
    assert d.locals["run_family"] == "${var.name}-run"
    # The launcher resolves the family when the daemon starts: a new run revision restarts it.
    daemon = d.resources("aws_ecs_service")["daemon"]
    assert daemon["force_new_deployment"] is True
    assert daemon["triggers"] == {"run_task_definition": "${aws_ecs_task_definition.run.arn}"}
    # Never two daemons at once.
    assert daemon["deployment_maximum_percent"] == 100
    assert daemon["deployment_minimum_healthy_percent"] == 0
    assert daemon["desired_count"] == 1
    config = deploy_config()["run_launcher"]
    assert (config["module"], config["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    assert config["config"]["container_name"] == d.locals["run_container_name"]
    assert config["config"]["task_definition"] == {"env": "DAGSTER_RUN_TASK_DEFINITION"}
    # No secrets lookup (the daemon has no secretsmanager:ListSecrets), no task definitions of its
    # own (no ecs:RegisterTaskDefinition): both grants would be needed otherwise.
    assert "secrets_tag" in config["config"] and config["config"]["secrets_tag"] is None
    assert isinstance(config["config"]["task_definition"], dict)


def test_the_webserver_and_daemon_run_the_commands_of_the_image():
    d = Deployment(module("dagster_ecs"))
    workspace = d.module.variables["workspace_file"]["default"]
    assert workspace == "/opt/dagster/app/workspace.yaml"
    webserver = [
        c.replace("${var.workspace_file}", workspace) for c in d.container("webserver")["command"]
    ]
    daemon = [
        c.replace("${var.workspace_file}", workspace) for c in d.container("daemon")["command"]
    ]
    assert " ".join(webserver) == (
        "dagster-webserver -h 0.0.0.0 -p 3000 -w /opt/dagster/app/workspace.yaml"
    )
    assert " ".join(daemon) == "dagster-daemon run -w /opt/dagster/app/workspace.yaml"
    assert d.container("webserver")["portMappings"] == [{"containerPort": 3000, "protocol": "tcp"}]
    # Health checks read only what the containers set (the password arrives as a secret).
    check = d.locals["webserver_health_check"]
    used = set(re.findall(r"os\.environ\['(\w+)'\]", check))
    assert used and used <= d.environment_names() | d.secret_names()
    assert d.container("daemon")["healthCheck"]["command"] == [
        "CMD",
        "dagster-daemon",
        "liveness-check",
    ]


def check_pass_role(d: Deployment) -> None:
    """iam:PassRole: only the daemon, only on the run task definition's two roles."""
    run = d.task_definition("run")
    run_roles = {run["task_role_arn"], run["execution_role_arn"]}
    assert len(run_roles) == 2, "the run task needs its own task role (CKV_AWS_249)"
    passing = []
    for name in d.module.data("aws_iam_policy_document"):
        for statement in d.statements(name):
            if any(a.startswith("iam:") for a in statement["actions"]):
                passing.append((name, statement))
    assert [(n, s["sid"]) for n, s in passing] == [("launcher", "PassRunTaskRoles")], passing
    (_, statement) = passing[0]
    assert statement["actions"] == ["iam:PassRole"]
    assert set(statement["resources"]) == run_roles, f"PassRole on {statement['resources']}"
    (condition,) = statement["condition"]
    assert condition["variable"] == "iam:PassedToService"
    assert condition["values"] == ["ecs-tasks.amazonaws.com"]
    # The launcher's document is the daemon's, and only the daemon's.
    attached = [p for p in d.resources("aws_iam_role_policy").values() if "launcher" in p["policy"]]
    assert [unwrap(p["role"]) for p in attached] == ["aws_iam_role.daemon.id"]


def test_the_daemon_may_pass_only_the_run_task_roles(deployment):
    check_pass_role(deployment)


def test_pass_role_on_another_role_is_caught(deployment):
    wider = copy.deepcopy(deployment)
    doc = wider.module.data("aws_iam_policy_document")["launcher"]
    statement = next(s for s in doc["statement"] if s["sid"] == "PassRunTaskRoles")
    statement["resources"].append("${aws_iam_role.webserver.arn}")
    with pytest.raises(AssertionError, match="PassRole on"):
        check_pass_role(wider)


# --- IAM = the calls dagster-aws makes (moto) ----------------------------------------------------

#: IAM action of each AWS API operation the launcher and the compute-log manager may call.
IAM_ACTION = {
    ("ecs", "DescribeTaskDefinition"): "ecs:DescribeTaskDefinition",
    ("ecs", "DescribeTasks"): "ecs:DescribeTasks",
    ("ecs", "RunTask"): "ecs:RunTask",
    ("ecs", "StopTask"): "ecs:StopTask",
    ("ecs", "ListTasks"): "ecs:ListTasks",
    ("ecs", "RegisterTaskDefinition"): "ecs:RegisterTaskDefinition",
    ("ec2", "DescribeNetworkInterfaces"): "ec2:DescribeNetworkInterfaces",
    ("logs", "GetLogEvents"): "logs:GetLogEvents",
    ("secretsmanager", "ListSecrets"): "secretsmanager:ListSecrets",
    ("secretsmanager", "DescribeSecret"): "secretsmanager:DescribeSecret",
    ("s3", "PutObject"): "s3:PutObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "AbortMultipartUpload"): "s3:AbortMultipartUpload",
    ("s3", "GetObject"): "s3:GetObject",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
}


class Recorder:
    """Every AWS call while `on`. moto does not model container exit codes (its containers
    always report 0): `exit_codes` gives DescribeTasks the exit code of the containers of the
    tasks listed there, as ECS reports them once a task has stopped."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []
        self.on = False
        self.exit_codes: dict[str, int] = {}

    def take(self) -> list[tuple[str, str, dict]]:
        calls, self.calls = self.calls, []
        return calls


@pytest.fixture
def recorder(monkeypatch) -> Recorder:
    rec = Recorder()
    original = botocore.client.BaseClient._make_api_call

    def recording(client, operation_name, api_params):
        service = client.meta.service_model.endpoint_prefix
        if rec.on:
            rec.calls.append((service, operation_name, dict(api_params)))
        response = original(client, operation_name, api_params)
        if (service, operation_name) == ("ecs", "DescribeTasks"):
            for task in response.get("tasks", []):
                if task["taskArn"] in rec.exit_codes:
                    assert task["lastStatus"] == "STOPPED", "only a stopped task has exit codes"
                    for container in task.get("containers", []):
                        container["exitCode"] = rec.exit_codes[task["taskArn"]]
        return response

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return rec


def condition_holds(condition: dict, context: dict[str, str], d, values) -> bool:
    """One condition of a statement, its values rendered like the statement's resources."""
    value = context.get(condition["variable"])
    if value is None:
        return False
    expected = [render(v, d, values) for v in condition["values"]]
    test = condition["test"]
    if test in ("StringEquals", "ArnEquals"):
        return value in expected
    if test in ("StringLike", "ArnLike"):
        return any(iam_match(v, value) for v in expected)
    raise AssertionError(f"teach condition_holds the {test} operator")


def assert_granted(statements, action, target, context, d, values) -> None:
    for statement in statements:
        if statement.get("effect", "Allow") != "Allow" or action not in statement["actions"]:
            continue
        resources = [render(r, d, values) for r in statement["resources"]]
        if not any(iam_match(r, target) for r in resources):
            continue
        conditions = statement.get("condition", [])
        if all(condition_holds(c, context, d, values) for c in conditions):
            return
    raise AssertionError(f"{action} on {target} ({context}) is not granted")


def ecs_target(op: str, params: dict, values: dict) -> tuple[list[str], dict]:
    """(resource ARNs, condition context) IAM authorizes for one recorded ECS/EC2/logs call."""
    if op == "RunTask":
        return [params["taskDefinition"]], {"ecs:cluster": params["cluster"]}
    if op == "DescribeTasks":
        return list(params["tasks"]), {"ecs:cluster": params.get("cluster", "")}
    if op == "StopTask":
        return [params["task"]], {"ecs:cluster": params.get("cluster", "")}
    if op == "GetLogEvents":
        group, stream = params["logGroupName"], params["logStreamName"]
        arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:{stream}"
        return [arn], {}
    return ["*"], {}  # DescribeTaskDefinition, DescribeNetworkInterfaces: no resource types


def terraform_values(d: Deployment, cluster_arn: str) -> dict[str, str]:
    """What the references in the grants evaluate to in the moto account."""
    base = {"var.name": NAME, "local.partition": "aws", "local.region": REGION}
    base["local.account"] = ACCOUNT
    roles = {r: f"arn:aws:iam::{ACCOUNT}:role/{NAME}-{r}" for r in ("run", "execution", "daemon")}
    for role, arn in roles.items():
        iam_name = render(d.resources("aws_iam_role")[role]["name"], d, base)
        assert arn.endswith("/" + iam_name)
        base[f"aws_iam_role.{role}.arn"] = arn
    group = render(d.resources("aws_cloudwatch_log_group")["run"]["name"], d, base)
    base["aws_cloudwatch_log_group.run.arn"] = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
    base["aws_cloudwatch_log_group.run.name"] = group
    base["aws_ecs_cluster.dagster.arn"] = cluster_arn
    return base


TINY_REPOSITORY = """
import dagster as dg


@dg.op
def noop():
    return 1


@dg.job
def tiny():
    noop()


@dg.repository
def repo():
    return [tiny]
"""


@pytest.fixture
def tasks_run_until_stopped():
    """moto moves a task one status towards STOPPED on every DescribeTasks of it (after four it
    has stopped by itself); an ECS task runs until its container exits or StopTask stops it."""
    from moto.moto_api import state_manager

    state_manager.set_transition("ecs::task", {"progression": "manual", "times": sys.maxsize})
    yield
    state_manager.unset_transition("ecs::task")


@pytest.fixture
def launched(recorder, tasks_run_until_stopped, tmp_path, monkeypatch):
    """Launch three runs with deploy/dagster.yaml's EcsRunLauncher, from a "daemon" task, in a
    moto cluster shaped like the module's. The daemon's run monitoring sees the first one run,
    then fail, and stops the second one, over its maximum runtime; another launcher (the
    webserver's) terminates the third one, still running. Returns the recorded calls of both
    launchers, the run tasks and the Terraform values."""
    from dagster._core.events import DagsterEventType
    from dagster._core.storage.tags import MAX_RUNTIME_SECONDS_TAG
    from dagster._core.test_utils import in_process_test_workspace, instance_for_test
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._daemon.monitoring.run_monitoring import check_run_timeout
    from dagster_aws.ecs import EcsRunLauncher
    from dagster_aws.ecs import launcher as launcher_module
    from dagster_aws.ecs.tasks import CurrentEcsTaskMetadata

    d = Deployment(module("dagster_ecs"))
    launcher_config = deploy_config()["run_launcher"]["config"]
    repository = tmp_path / "tiny_repository.py"
    repository.write_text(TINY_REPOSITORY)
    monkeypatch.syspath_prepend(str(tmp_path))

    with mock_aws():
        ec2, ecs, logs = (boto3.client(s) for s in ("ec2", "ecs", "logs"))
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)
        cluster_name = render(d.locals["cluster_name"], d, {"var.name": NAME})
        cluster = ecs.create_cluster(clusterName=cluster_name)["cluster"]["clusterArn"]
        values = terraform_values(d, cluster)
        run_family = render(d.locals["run_family"], d, values)
        run_definition = d.task_definition("run")
        log_options = d.container("run")["logConfiguration"]["options"]
        run_td = ecs.register_task_definition(
            family=run_family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="1024",
            memory="4096",
            taskRoleArn=render(run_definition["task_role_arn"], d, values),
            executionRoleArn=render(run_definition["execution_role_arn"], d, values),
            containerDefinitions=[
                {
                    "name": d.locals["run_container_name"],
                    "image": "medallion-dagster:test",
                    "memory": 4096,
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": render(log_options["awslogs-group"], d, values),
                            "awslogs-region": REGION,
                            "awslogs-stream-prefix": log_options["awslogs-stream-prefix"],
                        },
                    },
                }
            ],
        )["taskDefinition"]
        daemon_td = ecs.register_task_definition(
            family=f"{NAME}-daemon",
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="512",
            memory="1024",
            containerDefinitions=[{"name": "daemon", "image": "img:1", "memory": 1024}],
        )["taskDefinition"]["taskDefinitionArn"]
        daemon_task = ecs.run_task(
            cluster=cluster,
            taskDefinition=daemon_td,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": [subnet],
                    "securityGroups": [group["GroupId"]],
                    "assignPublicIp": "DISABLED",
                }
            },
        )["tasks"][0]
        # The ECS task metadata endpoint of the daemon's task.
        monkeypatch.setattr(
            launcher_module,
            "get_current_ecs_task_metadata",
            lambda: CurrentEcsTaskMetadata(cluster=cluster, task_arn=daemon_task["taskArn"]),
        )
        monkeypatch.setenv("DAGSTER_RUN_TASK_DEFINITION", run_family)
        overrides = {
            "run_launcher": {
                "module": "dagster_aws.ecs",
                "class": "EcsRunLauncher",
                "config": launcher_config,
            }
        }
        with instance_for_test(overrides) as instance:
            recorder.on = True
            # the daemon: start-up, launching three runs, run monitoring of a running worker, of
            # one that failed and of one that overran its maximum runtime
            launcher = instance.run_launcher
            origin = LoadableTargetOrigin(python_file=str(repository), attribute="repo")
            with in_process_test_workspace(instance, origin) as workspace:
                location = workspace.get_code_location(workspace.code_location_names[0])
                remote = location.get_repository("repo").get_full_job("tiny")
                job = sys.modules.get("tiny_repository") or __import__("tiny_repository")
                run_ids = []
                for tags in ({}, {MAX_RUNTIME_SECONDS_TAG: "60"}, {}):
                    run = instance.create_run_for_job(
                        job.tiny,
                        remote_job_origin=remote.get_remote_origin(),
                        job_code_origin=remote.get_python_origin(),
                        tags=tags,
                    )
                    instance.launch_run(run.run_id, workspace)
                    run_ids.append(run.run_id)
            failing, overrunning, terminated = (instance.get_run_by_id(r) for r in run_ids)
            run_tasks = [instance.get_run_by_id(r).tags["ecs/task_arn"] for r in run_ids]
            assert launcher.check_run_worker_health(failing).status.value == "RUNNING"

            # 1. The first run's container exits 1: ECS stops its task (not recorded: that is
            # ECS, not the launcher); its last log lines are in its log stream.
            recorder.on = False
            failed_task = run_tasks[0]
            ecs.stop_task(cluster=cluster, task=failed_task, reason="Essential container exited")
            recorder.exit_codes[failed_task] = 1
            log_group = values["aws_cloudwatch_log_group.run.name"]
            stream = f"{log_options['awslogs-stream-prefix']}/run/{failed_task.rsplit('/', 1)[1]}"
            logs.create_log_group(logGroupName=log_group)
            logs.create_log_stream(logGroupName=log_group, logStreamName=stream)
            recorder.on = True
            assert launcher.check_run_worker_health(failing).status.value == "FAILED"

            # 2. The second run started an hour ago with a 60 s limit: run monitoring stops it.
            recorder.on = False
            started = dg.DagsterEvent(DagsterEventType.RUN_START.value, job_name="tiny")
            an_hour_ago = time.time() - 3600
            instance.report_dagster_event(started, overrunning.run_id, timestamp=an_hour_ago)
            record = instance.get_run_record_by_id(overrunning.run_id)
            assert record.dagster_run.status == dg.DagsterRunStatus.STARTED
            recorder.on = True
            check_run_timeout(instance, record, logging.getLogger("run_monitoring"), 0.0)
            assert instance.get_run_by_id(overrunning.run_id).status == dg.DagsterRunStatus.FAILURE
            daemon_calls = recorder.take()

            # 3. The webserver: its own launcher (built on first use) terminates the third run,
            # whose task is still running.
            webserver_launcher = EcsRunLauncher(**launcher_config)
            webserver_launcher.register_instance(instance)
            assert webserver_launcher.terminate(terminated.run_id)
            webserver_calls = recorder.take()
            recorder.on = False
            statuses = {
                task["taskArn"]: task["lastStatus"]
                for task in ecs.describe_tasks(cluster=cluster, tasks=run_tasks)["tasks"]
            }
            assert statuses == dict.fromkeys(run_tasks, "STOPPED")
    return {
        "daemon": daemon_calls,
        "webserver": webserver_calls,
        "values": values,
        "run_tasks": run_tasks,
        "run_roles": {run_td["taskRoleArn"], run_td["executionRoleArn"]},
        "deployment": d,
    }


def check_launcher_grants(launched: dict, d: Deployment) -> None:
    values = launched["values"]
    statements = d.statements("launcher")
    called = set()
    for service, op, params in launched["daemon"]:
        action = IAM_ACTION.get((service, op))
        assert action, f"add the IAM action of {service}:{op} to IAM_ACTION"
        called.add(action)
        targets, context = ecs_target(op, params, values)
        for target in targets:
            assert_granted(statements, action, target, context, d, values)
    # RunTask with tags needs ecs:TagResource on the new task; with roles, iam:PassRole on them.
    runs = [p for s, op, p in launched["daemon"] if op == "RunTask"]
    assert runs and all(p.get("tags") for p in runs)
    for run_task in launched["run_tasks"]:
        context = {"ecs:CreateAction": "RunTask"}
        assert_granted(statements, "ecs:TagResource", run_task, context, d, values)
    for role in launched["run_roles"]:
        context = {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
        assert_granted(statements, "iam:PassRole", role, context, d, values)
    granted = {a for s in statements for a in s["actions"]}
    assert granted == called | {"ecs:TagResource", "iam:PassRole"}, "grants nothing calls"


def test_the_daemon_is_granted_exactly_what_the_ecs_run_launcher_calls(launched):
    d = launched["deployment"]
    ops = {op for _, op, _ in launched["daemon"]}
    assert {"DescribeTaskDefinition", "DescribeTasks", "RunTask", "GetLogEvents", "StopTask"} <= ops
    assert {"RegisterTaskDefinition", "ListSecrets"}.isdisjoint(ops)
    check_launcher_grants(launched, d)


def test_a_launch_outside_the_run_family_or_cluster_is_caught(launched):
    d = launched["deployment"]
    other_family = copy.deepcopy(d)
    other_family.locals["run_family"] = "${var.name}-other"
    with pytest.raises(AssertionError, match=r"ecs:RunTask on .* is not granted"):
        check_launcher_grants(launched, other_family)
    other_cluster = dict(launched, values={**launched["values"]})
    other_cluster["values"]["aws_ecs_cluster.dagster.arn"] = "arn:aws:ecs:us-east-1:1:cluster/x"
    with pytest.raises(AssertionError, match="is not granted"):
        check_launcher_grants(other_cluster, d)


def test_the_webserver_is_granted_what_terminating_a_run_calls(launched):
    d, values = launched["deployment"], launched["values"]
    statements = [
        s for s in d.statements("webserver") if any(a.startswith("ecs:") for a in s["actions"])
    ]
    called = set()
    for service, op, params in launched["webserver"]:
        action = IAM_ACTION[(service, op)]
        called.add(action)
        targets, context = ecs_target(op, params, values)
        for target in targets:
            assert_granted(statements, action, target, context, d, values)
    assert called == {a for s in statements for a in s["actions"]}
    assert called == {"ecs:DescribeTaskDefinition", "ecs:DescribeTasks", "ecs:StopTask"}


# --- step logs: S3ComputeLogManager against moto -------------------------------------------------


BIG = 9 * 1024 * 1024  # over boto3's 8 MB multipart threshold


@dg.op
def chatty():
    print("x" * BIG)  # stdout is what the compute-log manager captures


@dg.job
def chatty_job():
    chatty()


def s3_target(op: str, params: dict, bucket_arn: str) -> tuple[str, dict]:
    if "Key" in params:
        return f"{bucket_arn}/{params['Key']}", {}
    return bucket_arn, {"s3:prefix": params.get("Prefix", "")}


def check_s3_grants(calls, statements, d, values) -> set[str]:
    bucket_arn = values["aws_s3_bucket.compute_logs.arn"]
    called = set()
    for service, op, params in calls:
        if service != "s3":
            continue
        action = IAM_ACTION.get((service, op))
        assert action, f"add the IAM action of s3:{op} to IAM_ACTION"
        called.add(action)
        target, context = s3_target(op, params, bucket_arn)
        assert_granted(statements, action, target, context, d, values)
    return called


def test_step_log_grants_are_what_the_s3_compute_log_manager_calls(recorder, monkeypatch):
    from dagster._core.storage.compute_log_manager import ComputeIOType
    from dagster._core.test_utils import instance_for_test
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

    d = Deployment(module("dagster_ecs"))
    prefix = d.module.variables["compute_log_prefix"]["default"]
    base = {"var.name": NAME, "local.account": ACCOUNT}
    bucket = render(d.resources("aws_s3_bucket")["compute_logs"]["bucket"], d, base)
    values = {
        **base,
        "var.compute_log_prefix": prefix,
        "aws_s3_bucket.compute_logs.arn": f"arn:aws:s3:::{bucket}",
    }
    compute_logs = deploy_config()["compute_logs"]
    assert compute_logs["class"] == "S3ComputeLogManager"
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_BUCKET", bucket)
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_PREFIX", prefix)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=bucket)
        # a run (or a sensor tick in the daemon) writes its logs, one of them in parts
        with instance_for_test({"compute_logs": compute_logs}) as instance:
            recorder.on = True
            assert chatty_job.execute_in_process(instance=instance).success
            recorder.on = False
        writes = recorder.take()
        assert {op for _, op, _ in writes} >= {"PutObject", "CompleteMultipartUpload"}
        # the webserver shows them: a manager without the local files
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        log_key = keys[0].removeprefix(f"{prefix}/storage/").rsplit(".", 1)[0].split("/")
        reader = S3ComputeLogManager(bucket=bucket, prefix=prefix)
        recorder.on = True
        data = reader.get_log_data(log_key)
        assert reader.get_log_keys_for_log_key_prefix(log_key[:-1], ComputeIOType.STDOUT)
        recorder.on = False
        assert len(data.stdout) > BIG
        reads = recorder.take()
    writers = d.statements("compute_logs_write")
    written = check_s3_grants(writes, writers, d, values)
    assert written == {a for s in writers for a in s["actions"] if a.startswith("s3:")}
    readers = d.statements("webserver")
    read = check_s3_grants(reads, readers, d, values)
    assert read == {"s3:GetObject", "s3:ListBucket"}
    assert read == {a for s in readers for a in s["actions"] if a.startswith("s3:")}
    # The daemon and the run tasks get the writers' document, the webserver the readers'.
    policies = d.resources("aws_iam_role_policy")
    assert policies["compute_logs"]["policy"] == (
        "${data.aws_iam_policy_document.compute_logs_write.json}"
    )
    assert policies["compute_logs"]["for_each"] == "${local.worker_role_ids}"
    assert set(d.locals["worker_role_ids"]) == {"daemon", "run"}
    # And a grant narrower than the calls is caught.
    with pytest.raises(AssertionError, match="is not granted"):
        check_s3_grants(writes, writers, d, {**values, "var.compute_log_prefix": "elsewhere"})


# --- the landing zone: the same grants as the Dagster role ---------------------------------------


def test_the_daemon_and_run_tasks_get_the_dagster_roles_landing_grants(deployment):
    policies = deployment.resources("aws_iam_role_policy")
    assert unwrap(policies["landing"]["policy"]) == "var.landing_policy_json"
    assert policies["landing"]["for_each"] == "${local.worker_role_ids}"
    assert deployment.locals["worker_role_ids"] == {
        "daemon": "${aws_iam_role.daemon.id}",
        "run": "${aws_iam_role.run.id}",
    }
    access = module("dagster_access")
    assert (
        unwrap(access.outputs["policy_json"]["value"])
        == "data.aws_iam_policy_document.dagster.json"
    )
    assert unwrap(access.resources("aws_iam_role_policy")["dagster"]["policy"]) == (
        "data.aws_iam_policy_document.dagster.json"
    )
    platform = module("medallion_platform")
    assert unwrap(platform.outputs["dagster_policy_json"]["value"]) == (
        "module.dagster_access.policy_json"
    )
    for env in ENVIRONMENTS:
        wired = environment(env).modules["dagster"]["landing_policy_json"]
        assert unwrap(wired) == "module.medallion.dagster_policy_json"


# --- database, file system, logs, containers -----------------------------------------------------


def test_the_database_is_private_encrypted_and_protected(deployment):
    db = deployment.resources("aws_db_instance")["dagster"]
    assert db["publicly_accessible"] is False
    assert db["storage_encrypted"] is True
    assert db["kms_key_id"] == "${aws_kms_key.dagster.arn}"
    assert db["master_user_secret_kms_key_id"] == "${aws_kms_key.dagster.arn}"
    assert db["multi_az"] is True and db["skip_final_snapshot"] is False
    assert unwrap(db["deletion_protection"]) == "var.deletion_protection"
    assert deployment.module.variables["deletion_protection"]["default"] is True
    for env in ENVIRONMENTS:
        # checkov cannot evaluate an optional() default: on unless the user turns it off
        dagster_ecs_type = environment(env).variables["dagster_ecs"]["type"]
        assert "deletion_protection = optional(bool, true)" in dagster_ecs_type
    parameters = {
        p["name"]: p["value"]
        for p in deployment.resources("aws_db_parameter_group")["dagster"]["parameter"]
    }
    assert parameters["rds.force_ssl"] == "1"
    # Only the webserver and the tasks reach PostgreSQL.
    ingress = deployment.resources("aws_vpc_security_group_ingress_rule")
    into_db = [r for r in ingress.values() if "database" in r["security_group_id"]]
    assert [r["from_port"] for r in into_db] == [5432]
    # (python-hcl2 reads the literal map of for_each as a dict)
    assert into_db[0]["for_each"] == {
        "webserver": "${aws_security_group.webserver.id}",
        "tasks": "${aws_security_group.tasks.id}",
    }
    assert into_db[0]["referenced_security_group_id"] == "${each.value}"
    assert "cidr_ipv4" not in into_db[0]


def test_the_webserver_is_reachable_only_from_the_allowed_networks(deployment):
    ingress = deployment.resources("aws_vpc_security_group_ingress_rule")
    into_webserver = {k: r for k, r in ingress.items() if "webserver.id" in r["security_group_id"]}
    assert set(into_webserver) == {"webserver_from_cidrs", "webserver_from_groups"}
    assert into_webserver["webserver_from_cidrs"]["for_each"] == (
        "${toset(var.webserver_allowed_cidrs)}"
    )
    assert into_webserver["webserver_from_groups"]["for_each"] == (
        "${toset(var.webserver_allowed_security_group_ids)}"
    )
    assert all(r["from_port"] == r["to_port"] == 3000 for r in into_webserver.values())
    condition = deployment.module.variables["webserver_allowed_cidrs"]["validation"][0]
    assert '!endswith(cidr, "/0")' in condition["condition"]
    for env in ENVIRONMENTS:
        root = environment(env).variables["dagster_ecs"]["validation"][0]["condition"]
        assert '!endswith(cidr, "/0")' in root
        # someone must be able to reach it
        assert "length(var.dagster_ecs.webserver_allowed_cidrs) + length(" in root
    for name in ("webserver", "daemon"):
        config = deployment.resources("aws_ecs_service")[name]["network_configuration"][0]
        assert config["assign_public_ip"] is False
    # Nothing at all may reach the daemon and run tasks.
    assert not [r for r in ingress.values() if "tasks.id" in r["security_group_id"]]


def check_warehouse_mounts(d: Deployment) -> None:
    mount = d.locals["warehouse_mount"]
    # At WAREHOUSE_DIR's parent: a rebuild (medallion_dagster.recovery) stages the new warehouse
    # in a sibling folder and renames files between the two, so both must be on the volume.
    assert mount["containerPath"] == "${dirname(var.warehouse_dir)}", "siblings not on the volume"
    assert d.locals["dagster_environment"]["WAREHOUSE_DIR"] == "${var.warehouse_dir}"
    for name in ("daemon", "run"):
        assert "${local.warehouse_mount}" in d.container(name)["mountPoints"], name
        volumes = {render(v["name"], d, {}): v for v in d.task_definition(name)["volume"]}
        efs = volumes[render(mount["sourceVolume"], d, {})]["efs_volume_configuration"][0]
        assert efs["file_system_id"] == "${aws_efs_file_system.warehouse.id}", name
        assert efs["transit_encryption"] == "ENABLED", name
        authorization = efs["authorization_config"][0]
        assert authorization == {
            "access_point_id": "${aws_efs_access_point.warehouse.id}",
            "iam": "ENABLED",
        }, name
    assert "${local.warehouse_mount}" not in d.container("webserver")["mountPoints"]


def test_the_warehouse_is_encrypted_efs_mounted_at_warehouse_dir(deployment):
    efs = deployment.resources("aws_efs_file_system")["warehouse"]
    assert efs["encrypted"] is True and efs["kms_key_id"] == "${aws_kms_key.dagster.arn}"
    check_warehouse_mounts(deployment)
    point = deployment.resources("aws_efs_access_point")["warehouse"]
    assert point["posix_user"][0] == {
        "uid": "${var.warehouse_posix_user.uid}",
        "gid": "${var.warehouse_posix_user.gid}",
    }
    # deploy/Dockerfile's user
    default = deployment.module.variables["warehouse_posix_user"]["default"]
    if DOCKERFILE.exists():
        uids = re.findall(r"--uid (\d+)", DOCKERFILE.read_text())
        assert uids == [str(default["uid"])], "warehouse_posix_user and the image's user differ"
    # Only through the access point, only with TLS (the file system policy denies the rest).
    denies = deployment.statements("warehouse_file_system")
    assert {c["variable"] for s in denies for c in s["condition"]} == {
        "aws:SecureTransport",
        "elasticfilesystem:AccessPointArn",
    }
    assert all(s["effect"] == "Deny" for s in denies)


WAREHOUSE_DIRS_OK = ["/mnt/warehouse", "/mnt/efs/warehouse", "/mnt/medallion_2"]
WAREHOUSE_DIRS_BAD = ["/mnt", "/mnt/", "/mnt/warehouse/", "/mnt/..", "/mnt/../etc", "/mnt/a/../b"]
WAREHOUSE_DIRS_BAD += ["/tmp/warehouse", "/opt/dagster/wh", "/warehouse", "mnt/warehouse", ""]


def test_the_warehouse_folder_and_what_a_rebuild_puts_beside_it_are_on_the_volume(deployment):
    variable = deployment.module.variables["warehouse_dir"]
    pattern = hcl_regex(variable["validation"][0]["condition"])
    for path in WAREHOUSE_DIRS_OK:
        assert re.search(pattern, path), path
    for path in WAREHOUSE_DIRS_BAD:
        assert not re.search(pattern, path), path
    # Terraform's dirname() of an accepted path is Python's: a folder under /mnt or /mnt itself,
    # never the root or a folder of the image (the mount would hide it).
    for path in WAREHOUSE_DIRS_OK:
        mount = Path(os.path.dirname(path))
        assert mount.is_relative_to("/mnt"), path
        # the folders recovery.rebuild creates beside the live warehouse
        live = Path(path)
        for sibling in (f"{live.name}.rebuilding-x", f"{live.name}.before-rebuild-x"):
            assert live.with_name(sibling).parent == mount, path


def test_a_warehouse_mounted_elsewhere_or_without_tls_is_caught(deployment):
    elsewhere = copy.deepcopy(deployment)
    elsewhere.locals["warehouse_mount"]["containerPath"] = "/data"
    with pytest.raises(AssertionError, match="siblings not on the volume"):
        check_warehouse_mounts(elsewhere)
    at_the_folder = copy.deepcopy(deployment)  # a rebuild's staging folder on the read-only root
    at_the_folder.locals["warehouse_mount"]["containerPath"] = "${var.warehouse_dir}"
    with pytest.raises(AssertionError, match="siblings not on the volume"):
        check_warehouse_mounts(at_the_folder)
    plain = copy.deepcopy(deployment)
    for volume in plain.task_definition("run")["volume"]:
        for efs in volume.get("efs_volume_configuration", []):
            efs["transit_encryption"] = "DISABLED"
    with pytest.raises(AssertionError, match="run"):
        check_warehouse_mounts(plain)


def check_logs(d: Deployment) -> None:
    groups = d.resources("aws_cloudwatch_log_group")
    writable = {
        r.removesuffix(":*")
        for s in d.statements("execution")
        if s.get("sid") == "WriteContainerLogs"
        for r in s["resources"]
    }
    for name in CONTAINERS:
        config = d.container(name)["logConfiguration"]
        assert config["logDriver"] == "awslogs", name
        ref = unwrap(config["options"]["awslogs-group"])
        created_here = re.fullmatch(r"aws_cloudwatch_log_group\.(\w+)\.name", ref)
        assert created_here, f"{name} logs to {ref}, not to a log group of this module"
        group = created_here.group(1)
        assert group in groups, f"{name} logs to {ref}, which this module does not create"
        assert groups[group]["kms_key_id"] == "${aws_kms_key.dagster.arn}"
        assert unwrap(groups[group]["retention_in_days"]) == "var.log_retention_days"
        assert f"${{aws_cloudwatch_log_group.{group}.arn}}" in writable, name
        assert config["options"]["awslogs-stream-prefix"], name


def test_every_container_logs_to_a_log_group_created_here(deployment):
    check_logs(deployment)
    # RDS's exported logs go to groups created here too (retention and key).
    db = deployment.resources("aws_db_instance")["dagster"]
    groups = deployment.resources("aws_cloudwatch_log_group")
    for export in db["enabled_cloudwatch_logs_exports"]:
        assert groups[f"rds_{export}"]["name"] == f"/aws/rds/instance/${{var.name}}/{export}"


def test_a_container_logging_to_a_foreign_log_group_is_caught(deployment):
    foreign = copy.deepcopy(deployment)
    options = foreign.container("daemon")["logConfiguration"]["options"]
    options["awslogs-group"] = "/ecs/somewhere-else"
    with pytest.raises(AssertionError, match="daemon logs to /ecs/somewhere-else"):
        check_logs(foreign)
    undeclared = copy.deepcopy(deployment)
    options = undeclared.container("run")["logConfiguration"]["options"]
    options["awslogs-group"] = "${aws_cloudwatch_log_group.elsewhere.name}"
    with pytest.raises(AssertionError, match="which this module does not create"):
        check_logs(undeclared)


def test_containers_have_read_only_root_file_systems_and_only_declared_volumes(deployment):
    for name in CONTAINERS:
        container = deployment.container(name)
        assert container["readonlyRootFilesystem"] is True, name
        assert not container.get("privileged"), name
        assert "user" not in container, "the image chooses its unprivileged user"
        declared = {
            render(v["name"], deployment, {}) for v in deployment.task_definition(name)["volume"]
        }
        for mount in container["mountPoints"]:
            source = deployment.local(mount)["sourceVolume"]
            assert render(source, deployment, {}) in declared, (name, mount)
        assert "${local.scratch_mount}" in container["mountPoints"], f"{name}: /tmp"
        definition = deployment.task_definition(name)
        assert definition["task_role_arn"] != definition["execution_role_arn"]
        assert definition["requires_compatibilities"] == ["FARGATE"]
        assert definition["network_mode"] == "awsvpc"
    assert deployment.locals["scratch_mount"]["containerPath"] == "/tmp"


def check_scratch_volume(dockerfile: str) -> None:
    """Fargate bind mounts are writable by root only unless the image declares the path as a
    VOLUME (ECS then copies the image's directory, with its permissions, 1777 for /tmp, into the
    mount). The image runs as an unprivileged user on a read-only root file system, so it must
    declare VOLUME /tmp, after every build step that writes there (Docker discards what a later
    step writes to a declared volume)."""
    instructions = [
        line.split(None, 1)
        for line in re.sub(r"\\\n", " ", dockerfile).splitlines()
        if line.strip() and not line.startswith("#")
    ]
    users = [args.strip() for kind, args in instructions if kind.upper() == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must not run as root"
    declares_tmp = [
        i
        for i, (kind, args) in enumerate(instructions)
        if kind.upper() == "VOLUME" and "/tmp" in re.findall(r"[\w./-]+", args)
    ]
    assert declares_tmp, "deploy/Dockerfile must declare VOLUME /tmp (a non-root user writes it)"
    later = [args for kind, args in instructions[declares_tmp[0] :] if kind.upper() == "RUN"]
    assert not later, f"build steps after VOLUME /tmp: {later}"


def test_the_image_lets_its_user_write_the_scratch_volume(deployment):
    check_scratch_volume(DOCKERFILE.read_text())
    # the volume the containers mount at /tmp is the task's own bind mount (no host path, EFS)
    scratch = render(deployment.locals["scratch_mount"]["sourceVolume"], deployment, {})
    for name in CONTAINERS:
        volumes = {
            render(v["name"], deployment, {}): v for v in deployment.task_definition(name)["volume"]
        }
        assert set(volumes[scratch]) == {"name"}, name


def test_an_image_whose_user_cannot_write_tmp_is_caught():
    text = DOCKERFILE.read_text()
    without = "\n".join(line for line in text.splitlines() if not line.startswith("VOLUME"))
    with pytest.raises(AssertionError, match="must declare VOLUME /tmp"):
        check_scratch_volume(without)
    late = text.replace("\nUSER dagster", "\nRUN touch /tmp/x\nUSER dagster")
    with pytest.raises(AssertionError, match="after VOLUME /tmp"):
        check_scratch_volume(late)
    root = text.replace("USER dagster", "USER root")
    with pytest.raises(AssertionError, match="root"):
        check_scratch_volume(root)


# --- validations ----------------------------------------------------------------------------------


def test_warehouse_backend_validations_accept_the_backends_the_code_supports(deployment):
    def allowed(condition: str) -> set[str]:
        listed = re.search(r"contains\(\[([^\]]*)\], var\.[\w.]*warehouse_backend\)", condition)
        return set(re.findall(r'"(\w+)"', listed.group(1)))

    module_condition = deployment.module.variables["warehouse_backend"]["validation"][0]
    assert allowed(module_condition["condition"]) == WAREHOUSE_BACKENDS
    for env in ENVIRONMENTS:
        root = environment(env).variables["dagster_ecs"]["validation"][0]["condition"]
        assert allowed(root) == WAREHOUSE_BACKENDS, env
    assert dagster_settings.DEFAULT_WAREHOUSE_BACKEND in WAREHOUSE_BACKENDS
    assert deployment.module.variables["warehouse_backend"]["default"] == "sqlite"
    # When the code names its backends, they are these (a new one must be added here too).
    from medallion_dagster import definitions

    backends = getattr(definitions, "BACKENDS", None)
    if backends is not None:
        assert set(backends) == WAREHOUSE_BACKENDS


def fargate_validation(condition: str):
    """The task_sizes validation as a Python predicate over one {cpu, memory} size."""
    inner = re.fullmatch(
        r"\$\{alltrue\(\[for size in values\(var\.task_sizes\) : (.*)\]\)\}", condition
    ).group(1)
    python = inner.replace("&&", " and ").replace("||", " or ")
    python = re.sub(r"contains\((\[[^\]]*\]), (size\.\w+)\)", r"(\2 in \1)", python)
    python = re.sub(r"size\.(cpu|memory)", r"size['\1']", python)
    assert re.fullmatch(r"[\s\d()\[\],'<>=!%a-z]*", python), f"cannot translate: {python}"
    return lambda size: eval(python, {"__builtins__": {}}, {"size": size})


def test_task_size_validation_accepts_exactly_fargates_combinations(deployment):
    condition = deployment.module.variables["task_sizes"]["validation"][0]["condition"]
    valid = fargate_validation(condition)
    for cpu in (128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768):
        for memory in range(256, 131072 + 1, 256):
            expected = memory in FARGATE_SIZES.get(cpu, set())
            assert valid({"cpu": cpu, "memory": memory}) == expected, (cpu, memory)
    # The environments' defaults and what they pass are valid sizes.
    for env in ENVIRONMENTS:
        wired = environment(env).modules["dagster"]["task_sizes"]
        assert unwrap(wired) == "var.dagster_ecs.task_sizes"
        type_ = environment(env).variables["dagster_ecs"]["type"]
        sizes = re.findall(r"(webserver|daemon|run)\s*=\s*\{cpu = (\d+), memory = (\d+)\}", type_)
        assert {s[0] for s in sizes} == set(CONTAINERS), env
        for _, cpu, memory in sizes:
            assert int(memory) in FARGATE_SIZES[int(cpu)], (env, cpu, memory)


IMAGES_OK = [
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/medallion-dagster:3f2c1ab",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/medallion-dagster:v1.2.3",
    "registry.example.com:5000/medallion/dagster:2026-01-01",
    "medallion-dagster@sha256:" + "a" * 64,
    "ghcr.io/org/medallion-dagster:latest",
]
IMAGES_BAD = [
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/medallion-dagster",  # no tag: implicit latest
    "medallion-dagster:",
    "medallion dagster:1",
    "",
]


def test_image_validation_requires_an_explicit_tag_or_digest(deployment):
    module_pattern = hcl_regex(deployment.module.variables["image"]["validation"][0]["condition"])
    for env in ENVIRONMENTS:
        condition = environment(env).variables["dagster_ecs"]["validation"][0]["condition"]
        root_pattern = hcl_regex(condition[condition.index("var.dagster_ecs.image") - 120 :])
        for image in IMAGES_OK:
            assert re.search(module_pattern, image) and re.search(root_pattern, image), image
        for image in IMAGES_BAD:
            assert not re.search(module_pattern, image), image
            assert not re.search(root_pattern, image), image


def test_the_ecr_repository_is_derived_from_the_image(deployment):
    pattern = hcl_regex(deployment.locals["ecr"])
    account, region, repository = re.search(pattern, IMAGES_OK[1]).groups()
    assert (account, region, repository) == ("123456789012", "eu-west-1", "team/medallion-dagster")
    assert re.search(pattern, IMAGES_OK[2]) is None  # not ECR: no ECR grants at all
    statements = deployment.module.data("aws_iam_policy_document")["execution"]["dynamic"]
    for block in statements:
        assert (
            block["statement"]["for_each"] == "${length(local.ecr_repository_arns) > 0 ? [1] : []}"
        )


def test_the_key_policy_has_no_wildcard_actions_or_principals(deployment):
    policy = deployment.locals["key_policy"]
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert not [a for a in statement["Action"] if "*" in a], statement["Sid"]
        principals = [p for v in statement["Principal"].values() for p in [v]]
        assert "*" not in principals, statement["Sid"]
        assert statement["Resource"] == "*"  # in a key policy: this key
    logs = next(s for s in policy["Statement"] if "Service" in s["Principal"])
    (context,) = logs["Condition"]["ArnLike"].values()
    log_groups = deployment.resources("aws_cloudwatch_log_group")
    for group in log_groups.values():
        name = group["name"]
        arn = f"arn:${{local.partition}}:logs:${{local.region}}:${{local.account}}:log-group:{name}"
        assert any(iam_match(pattern, arn) for pattern in context), name
    key = deployment.resources("aws_kms_key")["dagster"]
    assert key["enable_key_rotation"] is True
    assert key["policy"] == "${jsonencode(local.key_policy)}"


def test_the_module_documents_every_input_and_output():
    d = module("dagster_ecs")
    assert all(v.get("description") for v in d.variables.values())
    assert all(o.get("description") for o in d.outputs.values())
    readme = (ROOT / "terraform" / "README.md").read_text()
    section = readme[readme.index("## 4. Dagster on ECS") : readme.index("## 5. Tear down")]
    for name in d.variables:
        assert f"`{name}`" in section, f"README: input {name}"
    for name in d.outputs:
        assert f"`{name}`" in section, f"README: output {name}"
    assert Path(ROOT / "docs" / "DEPLOY.md").name in readme


# --- docs/DEPLOY.md ------------------------------------------------------------------------------


def expand_braces(path: str) -> list[str]:
    """`a/{b,c}/d` -> [`a/b/d`, `a/c/d`] (one pair of braces)."""
    found = re.search(r"\{([^}]*)\}", path)
    if not found:
        return [path]
    return [path[: found.start()] + part + path[found.end() :] for part in found[1].split(",")]


def test_deploy_md_names_what_exists():
    text = (ROOT / "docs" / "DEPLOY.md").read_text()
    assert not re.findall(r"\bTERRAFORM_[A-Z_]+\b", text), "placeholders left in docs/DEPLOY.md"
    # the Terraform version it asks for is the one every folder requires
    (asked,) = set(re.findall(r"Terraform ≥ ([\d.]+)", text))
    folders = [p.parent for p in (ROOT / "terraform").rglob("versions.tf")]
    assert len(folders) >= 8
    for folder in folders:
        required = Module(folder).terraform["required_version"]
        assert required.startswith(f">= {asked}"), (folder, required)
    # every file or folder it names (but the tfvars you write yourself)
    tops = ("deploy/", "terraform/", "tests/", "medallion_dagster/", "docs/", "lambda_src/")
    for quoted in set(re.findall(r"`([^`\s]+)`", text)):
        if quoted.startswith(tops) and not quoted.endswith(".tfvars"):
            for path in expand_braces(quoted):
                assert (ROOT / path).exists(), f"docs/DEPLOY.md names {path}"
    # every test it names
    tests = "".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    for name in set(re.findall(r"`(test_\w+)`", text)):
        assert f"def {name}(" in tests, f"docs/DEPLOY.md names {name}"
    # every attribute of the environments' dagster_ecs variable, in both environments
    for attribute in set(re.findall(r"dagster_ecs\.(\w+)", text)):
        for env in ENVIRONMENTS:
            type_ = environment(env).variables["dagster_ecs"]["type"]
            assert re.search(rf"\b{attribute}\s*=", type_), (env, attribute)
    # the example tfvars parses and sets attributes of the variable only, the required ones too
    (snippet,) = re.findall(r"```hcl\n(.*?)```", text, flags=re.DOTALL)
    example = hcl2.loads(snippet, serialization_options=OPTIONS)["dagster_ecs"]
    for env in ENVIRONMENTS:
        type_ = environment(env).variables["dagster_ecs"]["type"]
        attributes = set(re.findall(r"(\w+)\s*=\s*(?:optional\(|string|list|object)", type_))
        required = set(re.findall(r"(\w+)\s*=\s*(?:string|list\(string\))", type_))
        assert set(example) <= attributes, (env, set(example) - attributes)
        assert required <= set(example), (env, required - set(example))
        assert set(example["task_sizes"]) == set(CONTAINERS)
