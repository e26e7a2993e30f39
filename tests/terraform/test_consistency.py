"""Terraform and the Python code agree: handler, runtime, environment variables, key layout, and
IAM grants that are exactly what the code calls (recorded against moto, not copied by hand)."""

from __future__ import annotations

import importlib
import inspect
import re
import tomllib
from datetime import date, timedelta
from pathlib import Path

import boto3
import dagster as dg
import pytest
from dagster_aws.s3 import S3Resource
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from lambda_src import settings as lambda_settings
from lambda_src.contract import DEFAULT_LANDING_PREFIX
from lambda_src.handler import handler
from medallion_dagster import settings as dagster_settings
from medallion_dagster.definitions import build_definitions
from medallion_dagster.demo import run_sensor_once
from medallion_dagster.discovery import LandingDiscovery
from medallion_dagster.landing_zone import S3LandingZone, landing_zone_from_env
from scripts import build_lambda_package as build
from tests.conftest import BUCKET, sensor_tick
from tests.terraform.conftest import ENVIRONMENTS, ROOT, environment, module, unwrap

#: What IAM action each AWS API operation needs (AWS's service authorization reference).
IAM_ACTION = {
    ("s3", "PutObject"): "s3:PutObject",
    ("s3", "GetObject"): "s3:GetObject",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("sqs", "ReceiveMessage"): "sqs:ReceiveMessage",
    ("sqs", "DeleteMessage"): "sqs:DeleteMessage",
    ("sqs", "DeleteMessageBatch"): "sqs:DeleteMessage",
    ("sqs", "ChangeMessageVisibility"): "sqs:ChangeMessageVisibility",
    ("sqs", "ChangeMessageVisibilityBatch"): "sqs:ChangeMessageVisibility",
}


def render(expression: str, values: dict[str, str]) -> str:
    """Substitute `${var.name}` interpolations; anything else left unresolved is an error."""
    out = re.sub(r"\$\{var\.(\w+)\}", lambda m: values[m.group(1)], expression)
    assert "${" not in out, f"cannot evaluate {expression!r} offline"
    return out


def iam_match(pattern: str, value: str) -> bool:
    """IAM wildcard matching: `*` any run of characters (slashes included), `?` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


class Recorder:
    """Every AWS call made while `on`, with its parameters."""

    def __init__(self):
        self.calls: list[tuple[str, str, dict]] = []
        self.on = False

    def actions(self, services=("s3", "sqs")) -> set[str]:
        unknown = {(s, op) for s, op, _ in self.calls if s in services} - IAM_ACTION.keys()
        assert not unknown, f"add the IAM action of {unknown} to IAM_ACTION"
        return {IAM_ACTION[(s, op)] for s, op, _ in self.calls if s in services}


@pytest.fixture
def recorder(monkeypatch) -> Recorder:
    import botocore.client

    rec = Recorder()
    original = botocore.client.BaseClient._make_api_call

    def recording(client, operation_name, api_params):
        if rec.on:
            service = client.meta.service_model.endpoint_prefix
            rec.calls.append((service, operation_name, dict(api_params)))
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    return rec


# --- handler, runtime, environment variables ------------------------------------------------------


def test_the_lambda_handler_exists_and_takes_event_and_context():
    collector = module("collector_lambda")
    function = collector.resources("aws_lambda_function")["collector"]
    assert unwrap(function["handler"]) == "var.handler"
    path = collector.variables["handler"]["default"]
    assert "handler" not in module("medallion_platform").modules["collector"], "overridden"
    module_name, _, attr = path.rpartition(".")
    target = getattr(importlib.import_module(module_name), attr)
    assert callable(target)
    assert list(inspect.signature(target).parameters) == ["event", "context"]
    # The package holds it at the same path (tests/terraform/test_lambda_package.py runs it).
    assert (ROOT / Path(*module_name.split("."))).with_suffix(".py").is_file()


def test_the_runtime_is_a_python_the_project_supports_with_long_aws_support():
    requires = SpecifierSet(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    )
    major, minor = map(int, build.LAMBDA_PYTHON.split("."))
    assert Version(build.LAMBDA_PYTHON) in requires
    assert f"python{major}.{minor}" == build.RUNTIME
    # AWS blocks creating functions on a deprecated runtime: keep a year of support ahead.
    assert date.fromisoformat(build.LAMBDA_DEPRECATION) > date.today() + timedelta(days=365)
    # lambda_src must not use syntax newer than the oldest supported Python (ruff checks it).
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert ruff["target-version"] == "py" + str(requires).split(">=")[1].replace(".", "")
    # Terraform takes runtime and package from the build script, so they cannot drift apart.
    platform = module("medallion_platform")
    program = platform.data("external")["collector_package"]["program"]
    script = Path(program[1].replace("${path.module}", str(platform.folder))).resolve()
    assert program[2] == "--terraform"
    wired = platform.modules["collector"]
    assert unwrap(wired["runtime"]) == "data.external.collector_package.result.runtime"
    assert unwrap(wired["package_dir"]) == "data.external.collector_package.result.package_dir"
    assert script == ROOT / "scripts" / "build_lambda_package.py"
    function = module("collector_lambda").resources("aws_lambda_function")["collector"]
    assert function["architectures"] == ["x86_64"] and build.PLATFORM.endswith("_x86_64")


def test_terraform_sets_the_environment_variables_the_lambda_reads():
    function = module("collector_lambda").resources("aws_lambda_function")["collector"]
    variables = function["environment"][0]["variables"]
    assert set(variables) <= set(lambda_settings.LAMBDA_ENV_VARS)
    assert {lambda_settings.ENV_BUCKET, lambda_settings.ENV_PREFIX} <= set(variables)
    assert unwrap(variables[lambda_settings.ENV_BUCKET]) == "var.bucket_name"
    assert unwrap(variables[lambda_settings.ENV_PREFIX]) == "var.landing_prefix"


def test_the_dagster_outputs_are_the_variables_dagster_reads(monkeypatch):
    dagster_env = module("medallion_platform").outputs["dagster_env"]["value"]
    aws_sdk = {"AWS_REGION"}
    assert set(dagster_env) <= set(dagster_settings.ENV_VARS) | aws_sdk
    assert {
        dagster_settings.ENV_BUCKET,
        dagster_settings.ENV_PREFIX,
        dagster_settings.ENV_QUEUE_URL,
    } <= set(dagster_env)
    for env in ENVIRONMENTS:
        outputs = environment(env).outputs
        assert {"landing_bucket", "landing_prefix", "region", "dagster_role_arn"} <= set(outputs)
        assert unwrap(outputs["dagster_env"]["value"]) == "module.medallion.dagster_env"
        assert "module.medallion.dagster_env" in outputs["dagster_dotenv"]["value"]
    # Those values, set as the outputs say, point the code location at the bucket.
    monkeypatch.setenv(dagster_settings.ENV_BUCKET, "medallion-dev-landing-123456789012")
    monkeypatch.setenv(dagster_settings.ENV_PREFIX, "landing")
    zone = landing_zone_from_env()
    assert isinstance(zone, S3LandingZone)
    assert (zone.bucket, zone.prefix) == ("medallion-dev-landing-123456789012", "landing")


# --- key layout -----------------------------------------------------------------------------------


def test_every_prefix_in_terraform_is_the_landing_prefix():
    for env in ENVIRONMENTS:
        assert environment(env).variables["landing_prefix"]["default"] == DEFAULT_LANDING_PREFIX
        wired = environment(env).modules["medallion"]
        assert unwrap(wired["landing_prefix"]) == "var.landing_prefix"
    zone = module("landing_zone")
    notification = zone.resources("aws_s3_bucket_notification")["landing"]["queue"][0]
    assert notification["filter_prefix"] == "${var.landing_prefix}/"
    rules = zone.resources("aws_s3_bucket_lifecycle_configuration")["landing"]["rule"]
    landing_rule = next(r for r in rules if r["id"] == "landing-files")
    assert landing_rule["filter"][0]["prefix"] == "${var.landing_prefix}/"


# --- IAM: exactly what the code calls, where it calls it ----------------------------------------


def statements_for(module_name: str, document: str, services: tuple[str, ...]) -> list[dict]:
    return [
        s
        for s in module(module_name).policy_statements(document)
        if s.get("effect", "Allow") == "Allow"
        and any(a.split(":")[0] in services for a in s["actions"])
    ]


def granted(statements: list[dict]) -> set[str]:
    return {a for s in statements for a in s["actions"]}


def assert_calls_inside_grants(recorder: Recorder, statements: list[dict], values: dict) -> None:
    """Every call's bucket/key/prefix/queue falls inside the resources (and conditions) granted."""
    bucket_arn = f"arn:aws:s3:::{BUCKET}"
    for service, op, params in recorder.calls:
        if service not in ("s3", "sqs"):
            continue
        action = IAM_ACTION[(service, op)]
        candidates = [s for s in statements if action in s["actions"]]
        if service == "s3" and "Key" in params:
            target = f"{bucket_arn}/{params['Key']}"
        elif service == "s3":
            target = bucket_arn
        else:
            target = values["queue_arn"]
        ok = []
        for s in candidates:
            resources = [render(r, values) for r in s["resources"]]
            if not any(iam_match(r, target) for r in resources):
                continue
            prefix_rules = [c for c in s.get("condition", []) if c["variable"] == "s3:prefix"]
            if prefix_rules and not all(
                any(iam_match(render(v, values), params.get("Prefix", "")) for v in c["values"])
                for c in prefix_rules
            ):
                continue
            ok.append(s)
        assert ok, f"{op} on {target} ({params.get('Prefix', '')!r}) is not granted"


def land_with_the_lambda(day: date) -> None:
    handler({"batch_date": day.isoformat(), "batch_id": f"b{day:%m%d}", "batch_size": 30}, None)


def test_the_collector_is_granted_exactly_the_s3_calls_it_makes(s3_bucket, recorder, today):
    recorder.on = True
    land_with_the_lambda(today)
    land_with_the_lambda(today)  # a second batch of the same day
    recorder.on = False
    statements = statements_for("collector_lambda", "collector", ("s3",))
    assert recorder.actions(("s3",)) == granted(statements)
    values = {"bucket_arn": f"arn:aws:s3:::{BUCKET}", "landing_prefix": DEFAULT_LANDING_PREFIX}
    assert_calls_inside_grants(recorder, statements, values)


@pytest.fixture
def terraform_queue(s3_bucket):
    """The notification queue, configured from the Terraform's own notification block."""
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="medallion-test-landing-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    block = module("landing_zone").resources("aws_s3_bucket_notification")["landing"]["queue"][0]
    prefix = render(block["filter_prefix"], {"landing_prefix": DEFAULT_LANDING_PREFIX})
    boto3.client("s3").put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": block["events"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
                }
            ]
        },
    )
    return url, arn


def test_dagster_is_granted_exactly_the_calls_it_makes(
    s3_bucket, terraform_queue, warehouse, recorder, today
):
    url, arn = terraform_queue
    zone = S3LandingZone(bucket=BUCKET, prefix=DEFAULT_LANDING_PREFIX, s3=S3Resource())
    land_with_the_lambda(today)
    notified = build_definitions(
        landing_zone=zone,
        warehouse=warehouse,
        discovery=LandingDiscovery(queue_url=url, visibility_timeout_seconds=1),
    )
    listing = build_definitions(
        landing_zone=zone, warehouse=warehouse, discovery=LandingDiscovery(lookback_days=3650)
    )
    recorder.on = True
    with dg.DagsterInstance.ephemeral() as instance:
        # notification mode: receive, run bronze -> gold (reads the files), acknowledge
        results, cursor, requests = run_sensor_once(notified, instance)
        assert requests and all(r.success for r in results)
        run_sensor_once(notified, instance, cursor)
        # listing mode and the daily reconciliation
        land_with_the_lambda(today)
        results, _, requests = run_sensor_once(listing, instance)
        assert requests and all(r.success for r in results)
        sensor_tick(listing, instance, sensor="landing_reconciliation_sensor")
    recorder.on = False
    # The collector's PutObject calls are not Dagster's.
    recorder.calls = [c for c in recorder.calls if c[1] != "PutObject"]
    statements = statements_for("dagster_access", "dagster", ("s3", "sqs"))
    assert recorder.actions() == granted(statements)
    values = {
        "bucket_arn": f"arn:aws:s3:::{BUCKET}",
        "landing_prefix": DEFAULT_LANDING_PREFIX,
        "queue_arn": arn,
    }
    assert_calls_inside_grants(recorder, statements, values)


def test_a_grant_outside_the_prefix_is_caught(s3_bucket, recorder, today):
    """The resource check above fails for a key the grant does not cover."""
    recorder.on = True
    land_with_the_lambda(today)
    recorder.on = False
    statements = statements_for("collector_lambda", "collector", ("s3",))
    narrower = {"bucket_arn": f"arn:aws:s3:::{BUCKET}", "landing_prefix": "elsewhere"}
    with pytest.raises(AssertionError, match="is not granted"):
        assert_calls_inside_grants(recorder, statements, narrower)
