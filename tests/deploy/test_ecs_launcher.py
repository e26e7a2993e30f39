"""deploy/dagster.yaml's EcsRunLauncher against moto's ECS API (never a real account).

The launch test uses the shipped file unchanged as DAGSTER_HOME/dagster.yaml (PostgreSQL storage
on the throwaway server, S3 compute logs, the queue, the ECS launcher) and the shipped
deploy/workspace.yaml, through the commands production runs: `dagster job launch` queues a run,
`dagster-daemon run` takes it off the queue and starts it as an ECS task. Both are subprocesses
that reach moto as a server on loopback (AWS_ENDPOINT_URL) and find "their own" ECS task (the one
whose cluster and network the launcher reuses) through a local stand-in for the ECS task metadata
endpoint. moto then shows what the launcher asked ECS for.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import boto3
import dagster as dg
import pytest
from moto import mock_aws

from tests.deploy.conftest import DAGSTER_YAML, DEPLOY, ROOT, deploy_config, write_instance

pytestmark = pytest.mark.deploy

CLUSTER = "medallion"
RUN_FAMILY = "medallion-run"  # Terraform's run task definition (DAGSTER_RUN_TASK_DEFINITION)
DAEMON_FAMILY = "medallion-daemon"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/medallion:test"
PASSWORD_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:medallion/dagster-pg-AbCdEf"
LOG_BUCKET = "medallion-test-compute-logs"
JOB = "medallion_daily"
DAGSTER = Path(sys.executable).with_name("dagster")
DAEMON = Path(sys.executable).with_name("dagster-daemon")
WORKSPACE = DEPLOY / "workspace.yaml"


def run_container(environment: dict[str, str]) -> dict:
    """The `run` container of the run task definition: environment and secrets are the task
    definition's (the launcher adds none to a task definition it did not register)."""
    return {
        "name": "run",
        "image": IMAGE,
        "essential": True,
        "cpu": 512,
        "memory": 1024,  # moto sums the containers' memory when it places a task
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        "secrets": [{"name": "DAGSTER_PG_PASSWORD", "valueFrom": PASSWORD_ARN}],
    }


def fargate_task_definition(ecs, family: str, container: dict) -> str:
    return ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="512",
        memory="1024",
        containerDefinitions=[container],
    )["taskDefinition"]["taskDefinitionArn"]


# -- the launcher from the file, in process (mock_aws) ------------------------------------------


@pytest.fixture
def sqlite_home(tmp_path):
    """deploy/dagster.yaml with SQLite storage instead of PostgreSQL (nothing here connects)."""
    config = deploy_config()
    config["storage"] = {"sqlite": {"base_dir": str(tmp_path / "storage")}}
    return write_instance(tmp_path / "dagster_home", config)


def test_the_launcher_from_the_file_resolves_the_run_task_definition(sqlite_home, monkeypatch):
    monkeypatch.setenv("DAGSTER_RUN_TASK_DEFINITION", RUN_FAMILY)
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_BUCKET", LOG_BUCKET)
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_PREFIX", "logs")
    with mock_aws():
        ecs = boto3.client("ecs")
        arn = fargate_task_definition(ecs, RUN_FAMILY, run_container({}))
        with dg.DagsterInstance.from_config(str(sqlite_home)) as instance:
            launcher = instance.run_launcher
            assert type(launcher).__name__ == "EcsRunLauncher"
            assert launcher.task_definition == arn  # the family, resolved to its latest revision
            assert launcher.container_name == "run"
            assert launcher.use_current_ecs_task_config
            assert launcher.env_vars == [] and launcher.secrets_tags == []


def test_the_launcher_refuses_a_task_definition_without_a_run_container(sqlite_home, monkeypatch):
    monkeypatch.setenv("DAGSTER_RUN_TASK_DEFINITION", RUN_FAMILY)
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_BUCKET", LOG_BUCKET)
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_PREFIX", "logs")
    with mock_aws():
        ecs = boto3.client("ecs")
        fargate_task_definition(ecs, RUN_FAMILY, {**run_container({}), "name": "app"})
        with (
            dg.DagsterInstance.from_config(str(sqlite_home)) as instance,
            pytest.raises(Exception, match="Cannot override container 'run'"),
        ):
            instance.run_launcher  # noqa: B018 (built on first use)


# -- runs launched as ECS tasks, from subprocesses, on a moto server ----------------------------


@dataclass
class EcsStack:
    """A VPC, a cluster, Terraform's two task definitions and the daemon's running task, on the
    moto server; `env` is the environment of the daemon's container (subprocesses get it)."""

    ec2: object
    ecs: object
    cluster: str
    subnet: str
    security_group: str
    run_td: str
    daemon_td: str
    daemon_task: str
    task_env: dict[str, str]
    env: dict[str, str]
    home: Path


@pytest.fixture
def ecs_stack(tmp_path, monkeypatch, moto_server, task_metadata_endpoint, landing_dir):
    def build(pg: dict[str, str]) -> EcsStack:
        ec2, ecs, s3 = (
            boto3.client(name, endpoint_url=moto_server) for name in ("ec2", "ecs", "s3")
        )
        s3.create_bucket(Bucket=LOG_BUCKET)
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        # moto 5.2.5 names a task's network interface only in a VPC with DNS host names (else
        # its RunTask fails on the missing attribute); a Fargate VPC has them anyway.
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="dagster", Description="dagster", VpcId=vpc)
        cluster = ecs.create_cluster(clusterName=CLUSTER)["cluster"]["clusterArn"]
        # What the daemon's task and the run task share (Terraform sets both from one map).
        task_env = {
            "WAREHOUSE_DIR": "/mnt/warehouse",
            "WAREHOUSE_BACKEND": "sqlite",
            "LANDING_BUCKET": "medallion-landing",
            "LANDING_PREFIX": "landing",
            "MEDALLION_START_DATE": os.environ["MEDALLION_START_DATE"],
            "AWS_REGION": "us-east-1",
            **{k: v for k, v in pg.items() if k != "DAGSTER_PG_PASSWORD"},  # that one: a secret
            "DAGSTER_COMPUTE_LOG_BUCKET": LOG_BUCKET,
            "DAGSTER_COMPUTE_LOG_PREFIX": "dagster/compute-logs",
            "DAGSTER_RUN_TASK_DEFINITION": RUN_FAMILY,
        }
        run_td = fargate_task_definition(ecs, RUN_FAMILY, run_container(task_env))
        daemon_td = fargate_task_definition(
            ecs, DAEMON_FAMILY, {**run_container(task_env), "name": "daemon"}
        )
        daemon_task = ecs.run_task(
            cluster=CLUSTER,
            taskDefinition=DAEMON_FAMILY,
            launchType="FARGATE",
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": [subnet],
                    "securityGroups": [group["GroupId"]],
                    "assignPublicIp": "DISABLED",
                }
            },
        )["tasks"][0]["taskArn"]
        task_metadata_endpoint.task = {"Cluster": cluster, "TaskARN": daemon_task}
        task_metadata_endpoint.container = {"Name": "daemon"}

        home = tmp_path / "dagster_home"
        env = {
            **os.environ,
            **task_env,
            **pg,
            # the code location loads here, on local folders
            "WAREHOUSE_DIR": str(tmp_path / "warehouse"),
            "LANDING_BUCKET": "",
            "LANDING_DIR": str(landing_dir),
            "DAGSTER_HOME": str(home),
            "AWS_ENDPOINT_URL": moto_server,
            "ECS_CONTAINER_METADATA_URI_V4": task_metadata_endpoint.url,
        }
        # This process reads the same instance (and builds its AWS clients) against moto too.
        for name in ("DAGSTER_COMPUTE_LOG_BUCKET", "DAGSTER_COMPUTE_LOG_PREFIX"):
            monkeypatch.setenv(name, task_env[name])
        monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
        return EcsStack(
            ec2, ecs, cluster, subnet, group["GroupId"], run_td, daemon_td, daemon_task,
            task_env, env, home,
        )  # fmt: skip

    return build


def dagster_job_launch(stack: EcsStack, partition: str) -> subprocess.CompletedProcess:
    """`dagster job launch` of the medallion job for one partition, on the deploy workspace."""
    return subprocess.run(
        [
            str(DAGSTER),
            *("job", "launch", "-w", str(WORKSPACE), "-j", JOB),
            *("--tags", json.dumps({"dagster/partition": partition})),
        ],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def wait_for(predicate, timeout: float, what: str, proc, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}\n{log.read_text()[-6000:]}")


def launched_task(stack: EcsStack, task_arn: str) -> dict:
    [task] = stack.ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn], include=["TAGS"])["tasks"]
    return task


def test_the_daemon_launches_a_queued_run_as_an_ecs_task(ecs_stack, pg_env, tmp_path, today):
    stack = ecs_stack(pg_env)
    stack.home.mkdir()
    (stack.home / "dagster.yaml").write_bytes(DAGSTER_YAML.read_bytes())  # byte for byte
    day = (today - timedelta(days=1)).isoformat()

    launch = dagster_job_launch(stack, day)
    assert launch.returncode == 0, launch.stdout + launch.stderr
    with dg.DagsterInstance.from_config(str(stack.home)) as instance:
        [run] = instance.get_runs()
        assert run.job_name == JOB and run.tags["dagster/partition"] == day
        assert run.status == dg.DagsterRunStatus.QUEUED  # the queue: one run at a time
        assert stack.ecs.list_tasks(cluster=CLUSTER)["taskArns"] == [stack.daemon_task]

        log = tmp_path / "daemon.log"
        with log.open("w") as out:
            daemon = subprocess.Popen(
                [str(DAEMON), "run", "-w", str(WORKSPACE)],
                cwd=ROOT,
                env=stack.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its code server too: stopped with it, below
            )
        try:
            launched = wait_for(
                lambda: instance.get_run_by_id(run.run_id).tags.get("ecs/task_arn"),
                120,
                "the daemon to launch the run",
                daemon,
                log,
            )
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(daemon.pid, signal.SIGKILL)
                daemon.wait(timeout=30)
        run = instance.get_run_by_id(run.run_id)
        assert run.tags["ecs/cluster"] == stack.cluster
        assert run.status == dg.DagsterRunStatus.STARTING  # moto runs no container

    # ECS: one new task, on Terraform's run task definition (image, container `run`) ...
    assert sorted(stack.ecs.list_tasks(cluster=CLUSTER)["taskArns"]) == sorted(
        [stack.daemon_task, launched]
    )
    task = launched_task(stack, launched)
    assert task["taskDefinitionArn"] == stack.run_td
    definition = stack.ecs.describe_task_definition(taskDefinition=stack.run_td)
    [container] = definition["taskDefinition"]["containerDefinitions"]
    assert (container["name"], container["image"]) == ("run", IMAGE)
    assert {e["name"]: e["value"] for e in container["environment"]} == stack.task_env
    # ... no task definition registered by the launcher ...
    assert sorted(stack.ecs.list_task_definitions()["taskDefinitionArns"]) == sorted(
        [stack.run_td, stack.daemon_td]
    )
    # ... in the daemon's cluster, with its launch type, subnet and security group ...
    assert task["clusterArn"] == stack.cluster and task["launchType"] == "FARGATE"
    details = {
        d["name"]: d["value"]
        for attachment in task["attachments"]
        if attachment["type"] == "ElasticNetworkInterface"
        for d in attachment["details"]
    }
    assert details["subnetId"] == stack.subnet
    [eni] = stack.ec2.describe_network_interfaces(
        NetworkInterfaceIds=[details["networkInterfaceId"]]
    )["NetworkInterfaces"]
    assert [g["GroupId"] for g in eni["Groups"]] == [stack.security_group]
    assert not eni.get("Association", {}).get("PublicIp")  # as the daemon: no public IP
    # ... tagged with the run ...
    tags = {t["key"]: t["value"] for t in task["tags"]}
    assert tags["dagster/run_id"] == run.run_id and tags["dagster/job_name"] == JOB
    # ... overriding only the `run` container's command: `dagster api execute_run <args>`.
    [override] = task["overrides"]["containerOverrides"]
    assert set(override) == {"name", "command"}, override  # the environment: the task def's
    assert override["name"] == "run"
    assert override["command"][:3] == ["dagster", "api", "execute_run"]
    args = override["command"][3]
    assert json.loads(args)["__class__"] == "ExecuteRunArgs" and run.run_id in args
    # The run worker gets the instance as the file describes it: PostgreSQL by variable name,
    # never the password itself (RunTask requests are visible in CloudTrail and DescribeTasks).
    assert "dagster_postgres" in args and "DAGSTER_PG_PASSWORD" in args
    assert pg_env["DAGSTER_PG_PASSWORD"] not in args
    assert pg_env["DAGSTER_PG_PASSWORD"] not in json.dumps(task, default=str)


def test_env_vars_would_reach_no_run_on_a_fixed_task_definition(ecs_stack, tmp_path, today):
    """Why deploy/dagster.yaml lists no `env_vars`: with a fixed task definition, dagster-aws
    0.29.27 passes them nowhere, yet fails the launch when one is unset where the launcher runs.
    If a later dagster-aws forwards them (containerOverrides), this fails: revisit the file."""
    stack = ecs_stack({})
    config = deploy_config()
    config["storage"] = {"sqlite": {"base_dir": str(tmp_path / "storage")}}
    # launch from the CLI process itself (the queue is proven above)
    del config["concurrency"]
    config["run_coordinator"] = {
        "module": "dagster.core.run_coordinator",
        "class": "DefaultRunCoordinator",
    }
    config["run_launcher"]["config"]["env_vars"] = ["WAREHOUSE_BACKEND", "MEDALLION_PROBE=set"]
    write_instance(stack.home, config)
    day = (today - timedelta(days=1)).isoformat()

    launch = dagster_job_launch(stack, day)
    assert launch.returncode == 0, launch.stdout + launch.stderr
    with dg.DagsterInstance.from_config(str(stack.home)) as instance:
        [run] = instance.get_runs()
        task = launched_task(stack, run.tags["ecs/task_arn"])
    [override] = task["overrides"]["containerOverrides"]
    assert "environment" not in override  # neither the variables nor DAGSTER_RUN_JOB_NAME
    assert task["taskDefinitionArn"] == stack.run_td  # whose environment is Terraform's alone

    unset = {**config, "run_launcher": {**config["run_launcher"]}}
    unset["run_launcher"]["config"] = {**config["run_launcher"]["config"], "env_vars": ["NO_SUCH"]}
    write_instance(stack.home, unset)
    failed = dagster_job_launch(stack, day)
    assert failed.returncode != 0
    assert "Tried to load environment variable NO_SUCH" in failed.stdout + failed.stderr
