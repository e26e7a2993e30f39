"""What the production image is built from: the Dagster family pinned as one matching set, the
modules deploy/dagster.yaml names importable from it, the variables it reads, the workspace, and
a Dockerfile that copies files that exist to where DAGSTER_HOME and the workspace expect them
(no image is built here: there is no Docker daemon to ask)."""

from __future__ import annotations

import importlib
import importlib.metadata
import re
import tomllib
from fnmatch import fnmatch

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.deploy.conftest import DAGSTER_YAML, DEPLOY, ROOT, deploy_config, env_names

pytestmark = pytest.mark.deploy

CORE_VERSION = "1.13.27"
LIBRARY_VERSION = "0.29.27"
#: Dagster releases its core packages as 1.x.y and its libraries as 0.(x+16).y, together.
CORE = {"dagster", "dagster-webserver", "dagster-graphql", "dagster-pipes", "dagster-shared"}
LIBRARIES = {"dagster-aws", "dagster-postgres", "dagster-duckdb"}
#: Every variable deploy/dagster.yaml reads (the owner's docs/DEPLOY.md lists the same).
DEPLOY_ENV = {
    "DAGSTER_PG_USERNAME",
    "DAGSTER_PG_PASSWORD",
    "DAGSTER_PG_HOST",
    "DAGSTER_PG_PORT",
    "DAGSTER_PG_DB",
    "DAGSTER_COMPUTE_LOG_BUCKET",
    "DAGSTER_COMPUTE_LOG_PREFIX",
    "DAGSTER_RUN_TASK_DEFINITION",
}


def lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {}).values()
    return [Requirement(r) for r in [*project["dependencies"], *(r for e in extras for r in e)]]


def test_the_library_and_core_versions_are_one_release():
    major, minor, patch = (int(x) for x in CORE_VERSION.split("."))
    assert major == 1 and f"0.{minor + 16}.{patch}" == LIBRARY_VERSION


def test_every_dagster_distribution_in_the_lock_is_of_the_matching_set():
    pins = {name: v for name, v in lock().items() if name.startswith("dagster")}
    expected = {name: CORE_VERSION for name in CORE} | {name: LIBRARY_VERSION for name in LIBRARIES}
    assert pins == expected


def test_pyproject_pins_every_dagster_requirement_to_the_lock():
    pins = lock()
    dagster = [
        r for r in pyproject_requirements() if canonicalize_name(r.name).startswith("dagster")
    ]
    assert {canonicalize_name(r.name) for r in dagster} >= LIBRARIES | {"dagster"}
    for requirement in dagster:
        name = canonicalize_name(requirement.name)
        assert str(requirement.specifier) == f"=={pins[name]}", requirement


def test_the_installed_set_is_the_locked_set_and_consistent():
    pins = lock()
    for name in CORE | LIBRARIES:
        assert importlib.metadata.version(name) == pins[name], name
        for line in importlib.metadata.requires(name) or []:
            requirement = Requirement(line)
            dep = canonicalize_name(requirement.name)
            if dep.startswith("dagster") and not requirement.marker:
                assert requirement.specifier.contains(pins[dep], prereleases=True), (name, line)


def configurable_classes(node):
    if isinstance(node, dict):
        if "module" in node and "class" in node:
            yield node["module"], node["class"]
        for value in node.values():
            yield from configurable_classes(value)


def test_every_module_the_instance_file_names_is_installed():
    config = deploy_config()
    named = set(configurable_classes(config))
    assert named == {
        ("dagster_aws.ecs", "EcsRunLauncher"),
        ("dagster_aws.s3.compute_log_manager", "S3ComputeLogManager"),
    }
    for module, cls in named:
        assert getattr(importlib.import_module(module), cls)
    # `storage: postgres:` is dagster_postgres's run, event log and schedule storages
    assert list(config["storage"]) == ["postgres"]
    postgres = importlib.import_module("dagster_postgres")
    for cls in ("PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"):
        assert getattr(postgres, cls)
    # SQLAlchemy must get the driver dagster-postgres installs (not 2.1's default, psycopg 3)
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    importlib.import_module("psycopg2")


def test_the_instance_file_reads_its_settings_from_the_environment_only():
    config = deploy_config()
    assert env_names(config) == DEPLOY_ENV
    header = DAGSTER_YAML.read_text().split("\n\n", 1)[0]
    for name in DEPLOY_ENV:  # documented at the top of the file
        assert name in header, name
    db = config["storage"]["postgres"]["postgres_db"]
    assert all(isinstance(db[k], dict) for k in db if k != "scheme")  # no literal credentials
    launcher = config["run_launcher"]["config"]
    assert launcher["container_name"] == "run"  # Terraform's run task definition's container
    assert launcher["task_definition"] == {"env": "DAGSTER_RUN_TASK_DEFINITION"}
    assert "env_vars" not in launcher and "secrets" not in launcher


def test_the_instance_file_keeps_the_local_instance_settings():
    local = yaml.safe_load((ROOT / "dagster_home" / "dagster.yaml").read_text())
    deploy = deploy_config()
    for key in ("concurrency", "run_retries", "telemetry"):
        assert deploy[key] == local[key], key
    assert deploy["concurrency"]["runs"]["max_concurrent_runs"] == 1
    assert deploy["telemetry"] == {"enabled": False}
    # production only: the daemon notices a dead run task and fails its run (run_retries retries)
    assert deploy["run_monitoring"]["enabled"] is True
    assert deploy["run_monitoring"]["max_resume_run_attempts"] == 0


def test_the_deploy_workspace_loads_the_same_code_location():
    deploy = yaml.safe_load((DEPLOY / "workspace.yaml").read_text())
    local = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    assert deploy["load_from"] == local["load_from"]
    [entry] = deploy["load_from"]
    assert entry["python_module"] == {
        "module_name": "medallion_dagster.definitions",
        "location_name": "medallion",
    }


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_the_dockerfile_puts_the_instance_in_dagster_home_and_the_workspace_in_the_app():
    steps = dockerfile()
    assert steps[0] == ("FROM", "python:3.11-slim")
    env = {}
    for instruction, args in steps:
        if instruction == "ENV":
            env.update(dict(re.findall(r"(\w+)=(\S+)", args)))
    workdir = [args for instruction, args in steps if instruction == "WORKDIR"][-1]
    copies = {}
    for instruction, args in steps:
        if instruction == "COPY":
            *sources, target = args.split()
            for source in sources:
                copies[source] = target.replace("${DAGSTER_HOME}", env["DAGSTER_HOME"])
    assert env["DAGSTER_HOME"] == "/opt/dagster/dagster_home"
    assert copies["deploy/dagster.yaml"] == f"{env['DAGSTER_HOME']}/dagster.yaml"
    assert workdir == "/opt/dagster/app"
    assert copies["deploy/workspace.yaml"] == "./workspace.yaml"  # relative to WORKDIR
    # every source exists in the build context (the repository root) ...
    for source in copies:
        assert (ROOT / source).exists(), source
    # ... and survives deploy/Dockerfile.dockerignore (everything excluded, then these let in)
    let_in = [
        line[1:].rstrip("/")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for source in copies:
        assert any(fnmatch(source.rstrip("/"), pattern) for pattern in let_in), source
    # the project with its runtime dependencies only, at the locked versions (the lock as a
    # constraints file: the dev extras — pytest, moto, playwright, ... — stay out of the image)
    runs = [args for instruction, args in steps if instruction == "RUN"]
    installs = [r for r in runs if "pip install" in r]
    assert installs == [next(r for r in runs if "pip install -c requirements.lock ." in r)]
    assert "requirements.lock" in copies and not any("[dev]" in r for r in runs)
    # the project's files are there when it is installed
    packaged = {"pyproject.toml", "README.md", "lambda_src", "medallion_dagster"}
    assert packaged <= set(copies)
