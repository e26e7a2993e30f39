"""The Terraform as a reviewer reads it: it parses, versions are pinned, state is remote and
locked, everything is tagged, grants are narrow, modules hard-code no environment, and the
landing lifecycle never deletes a current file before its retention."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.terraform.conftest import (
    ENVIRONMENTS,
    MODULES,
    ROOT,
    TERRAFORM,
    Module,
    environment,
    load,
    module,
    tf_files,
)

ROOT_MODULES = [TERRAFORM / "bootstrap", *(TERRAFORM / "environments" / e for e in ENVIRONMENTS)]
ALL_MODULES = [*ROOT_MODULES, *sorted(p for p in MODULES.iterdir() if p.is_dir())]


def ids(paths):
    return [str(p.relative_to(TERRAFORM)) for p in paths]


@pytest.mark.parametrize("path", tf_files(), ids=ids(tf_files()))
def test_every_tf_file_parses(path):
    assert load(path), f"{path} is empty"


def test_the_layout_is_modules_and_two_environments():
    assert {p.name for p in MODULES.iterdir() if p.is_dir()} == {
        "landing_zone",
        "collector_lambda",
        "dagster_access",
        "medallion_platform",
        "dagster_ecs",
    }
    for env in ENVIRONMENTS:
        modules = environment(env).modules
        assert modules["medallion"]["source"] == "../../modules/medallion_platform"
        # Dagster on ECS is optional: one instance with `dagster_ecs`, none without.
        assert modules["dagster"]["source"] == "../../modules/dagster_ecs"
        assert modules["dagster"]["count"] == "${var.dagster_ecs == null ? 0 : 1}"
        assert environment(env).variables["dagster_ecs"]["default"] is None


@pytest.mark.parametrize("folder", ALL_MODULES, ids=ids(ALL_MODULES))
def test_terraform_and_provider_versions_are_pinned(folder):
    m = Module(folder)
    assert m.terraform["required_version"].startswith(">= 1.11"), "use_lockfile is GA in 1.11"
    declared = {}
    for block in m.terraform["required_providers"]:
        declared.update(block)
    for name, spec in declared.items():
        assert spec["source"] == f"hashicorp/{name}" and spec["version"].startswith("~> ")
    used = {t.split("_")[0] for kind in ("resource", "data") for b in m.blocks[kind] for t in b}
    used.discard("terraform")
    assert used <= set(declared), f"{folder.name} uses providers it does not pin"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_state_is_remote_encrypted_and_locked(env):
    backend = environment(env).terraform["backend"][0]["s3"]
    assert backend["use_lockfile"] is True and backend["encrypt"] is True
    assert backend["key"] == f"medallion/{env}/terraform.tfstate"
    # bucket and region are account-specific: they come from backend.hcl, not from git
    assert "bucket" not in backend and "region" not in backend
    bootstrap = Module(TERRAFORM / "bootstrap")
    config = bootstrap.outputs["backend_config"]["value"]
    assert "bucket = " in config and "region = " in config
    assert bootstrap.resources("aws_s3_bucket_versioning")["state"]


def test_state_plans_builds_and_secrets_stay_out_of_git():
    generated = [
        "terraform/environments/dev/.terraform/providers/x",
        "terraform/environments/dev/terraform.tfstate",
        "terraform/environments/prod/terraform.tfstate.backup",
        "terraform/bootstrap/terraform.tfstate",
        "terraform/environments/dev/dev.tfplan",
        "terraform/environments/dev/build/medallion-dev-collector.zip",
        "terraform/environments/dev/backend.hcl",
        "build/lambda/package/faker/__init__.py",
        ".env",
        ".venv-checkov/bin/checkov",
    ]
    for path in generated:
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        assert result.returncode == 0, f"{path} is not ignored by git"
    tracked = subprocess.run(
        ["git", "ls-files", "terraform"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [p for p in tracked if re.search(r"\.tfstate|\.tfplan|\.zip$|/\.terraform/", p)]


@pytest.mark.parametrize("folder", ROOT_MODULES, ids=ids(ROOT_MODULES))
def test_every_resource_is_tagged_by_the_provider(folder):
    providers = {}
    for block in Module(folder).blocks["provider"]:
        providers.update(block)
    tags = providers["aws"]["default_tags"][0]["tags"]
    assert {"Project", "ManagedBy"} <= set(tags)
    if folder.parent.name == "environments":
        assert tags["Environment"] == folder.name


@pytest.mark.parametrize("folder", ROOT_MODULES, ids=ids(ROOT_MODULES))
def test_every_input_of_a_root_module_is_validated(folder):
    variables = Module(folder).variables
    assert variables
    unvalidated = [name for name, v in variables.items() if not v.get("validation")]
    assert not unvalidated, f"variables without a validation block: {unvalidated}"


def values_of(node, skip=("description", "error_message")):
    """Every string value in a parsed block, descriptions and messages excepted."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in skip:
                yield from values_of(value, skip)
    elif isinstance(node, list):
        for item in node:
            yield from values_of(item, skip)
    elif isinstance(node, str):
        yield node


ENVIRONMENT_SPECIFIC = re.compile(
    r"\b(dev|prod|production|staging)\b"  # environment names
    r"|\b[a-z]{2}-(?:north|south|east|west|central|northeast|southeast)-[0-9]\b"  # regions
    r"|\b[0-9]{12}\b"  # account ids
)


@pytest.mark.parametrize(
    "name", ["landing_zone", "collector_lambda", "dagster_access", "dagster_ecs"]
)
def test_modules_hard_code_nothing_environment_specific(name):
    m = module(name)
    found = [
        v for block in m.blocks.values() for v in values_of(block) if ENVIRONMENT_SPECIFIC.search(v)
    ]
    assert not found, f"environment-specific values in modules/{name}: {found}"
    # Every name is derived from an input, never a literal.
    for kind in ("aws_s3_bucket", "aws_sqs_queue", "aws_lambda_function", "aws_iam_role"):
        for resource in m.resources(kind).values():
            name = resource.get("name") or resource.get("bucket") or resource["function_name"]
            assert "${var." in name, (kind, name)


def policy_documents():
    for folder in ALL_MODULES:
        m = Module(folder)
        for name in m.data("aws_iam_policy_document"):
            yield folder, m, name


def test_allow_statements_have_no_wildcards_unless_unavoidable_and_commented():
    checked = 0
    for folder, m, name in policy_documents():
        text = "\n".join(p.read_text() for p in sorted(folder.glob("*.tf")))
        for statement in m.policy_statements(name):
            if statement.get("effect", "Allow") != "Allow":
                continue  # a Deny may be as wide as it likes
            checked += 1
            assert not [a for a in statement["actions"] if "*" in a], (folder.name, statement)
            for principals in statement.get("principals", []):
                assert "*" not in principals["identifiers"], (folder.name, statement)
            if "*" in statement.get("resources", []):
                sid = statement.get("sid")
                assert sid, f"{folder.name}/{name}: a '*' resource needs a sid and a comment"
                block = text[text.index(f'sid     = "{sid}"') :]
                block = block[: block.index('resources = ["*"]')]
                assert "# Unavoidable" in block, f"{sid}: say why '*' is unavoidable"
    assert checked >= 8


def test_landing_lifecycle_never_deletes_current_files_before_retention():
    zone = module("landing_zone")
    rules = zone.resources("aws_s3_bucket_lifecycle_configuration")["landing"]["rule"]
    for rule in rules:
        for transition in rule.get("transition", []):
            # instant retrieval only: a bronze rebuild reads old files with a plain GetObject
            assert transition["storage_class"] in {"STANDARD_IA", "GLACIER_IR"}
        for expiration in rule.get("expiration", []):
            assert set(expiration) == {"expired_object_delete_marker"}, rule["id"]
        for dynamic in rule.get("dynamic", []):
            if "expiration" in dynamic:
                assert dynamic["expiration"]["for_each"].count("var.retention_days") == 2
                assert dynamic["expiration"]["content"][0]["days"] == "${expiration.value}"
        assert "noncurrent_version_transition" not in rule
    landing = next(r for r in rules if r["id"] == "landing-files")
    assert landing["noncurrent_version_expiration"][0]["noncurrent_days"]
    retention = zone.variables["retention_days"]
    assert retention["default"] is None  # keep forever unless told otherwise
    assert "transition_to_glacier_ir_days" in retention["validation"][0]["condition"]
    bucket = zone.resources("aws_s3_bucket_versioning")["landing"]
    assert bucket["versioning_configuration"][0]["status"] == "Enabled"
    assert environment("prod").modules["medallion"]["lifecycle_days"]["retention"] is None


def test_landing_bucket_is_private_encrypted_and_tls_only():
    zone = module("landing_zone")
    block = zone.resources("aws_s3_bucket_public_access_block")["landing"]
    assert all(
        block[k] is True
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    sse = zone.resources("aws_s3_bucket_server_side_encryption_configuration")["landing"]
    assert sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == (
        "aws:kms"
    )
    denies = [s for s in zone.policy_statements("tls_only") if s.get("effect") == "Deny"]
    assert any(c["variable"] == "aws:SecureTransport" for s in denies for c in s["condition"])
    assert zone.resources("aws_s3_bucket_logging")["landing"]["count"]  # optional access logs


def test_the_notification_queue_has_a_dead_letter_queue_and_alarms():
    zone = module("landing_zone")
    queues = zone.resources("aws_sqs_queue")
    assert "deadLetterTargetArn" in queues["events"]["redrive_policy"]
    assert all(q["sqs_managed_sse_enabled"] is True for q in queues.values())
    alarms = {a["metric_name"] for a in zone.resources("aws_cloudwatch_metric_alarm").values()}
    assert "ApproximateAgeOfOldestMessage" in alarms
    collector = module("collector_lambda")
    alarms = {a["metric_name"] for a in collector.resources("aws_cloudwatch_metric_alarm").values()}
    assert "Errors" in alarms
    invoke = collector.resources("aws_lambda_function_event_invoke_config")["collector"]
    assert invoke["destination_config"][0]["on_failure"][0]["destination"] == (
        "${aws_sqs_queue.failures.arn}"
    )
    function = collector.resources("aws_lambda_function")["collector"]
    for key in ("timeout", "memory_size", "reserved_concurrent_executions"):
        assert function[key].startswith("${var."), key
    schedule = collector.resources("aws_scheduler_schedule")["collector"]
    assert schedule["target"][0]["arn"] == "${aws_lambda_function.collector.arn}"
