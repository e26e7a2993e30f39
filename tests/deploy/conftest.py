"""Fixtures for the production instance (deploy/): its YAML, a throwaway PostgreSQL server.

The server is Debian's PostgreSQL (`.ci/run` installs the `postgresql` package): initdb + pg_ctl
in a temporary folder, on a free loopback port, for the whole session. PostgreSQL refuses to run
as root, so under root (CI) the server runs as the `postgres` user the package creates. Without
the binaries the tests skip, except under CI=true, where they fail (tests.conftest.require_binary).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DAGSTER_YAML = DEPLOY / "dagster.yaml"

#: Where to find initdb/pg_ctl instead of the Debian layout (an empty folder makes them missing).
ENV_PG_BINDIR = "PG_BINDIR"
INSTALLED_BY = "`.ci/run` installs Debian's `postgresql` package with apt"
PG_USER = "postgres"  # the OS account Debian's package creates, which runs the server under root


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def deploy_config() -> dict:
    """deploy/dagster.yaml, parsed."""
    return yaml.safe_load(DAGSTER_YAML.read_text())


def env_names(node) -> set[str]:
    """Every `{env: NAME}` the YAML reads."""
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return {node["env"]}
        return set().union(*(env_names(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(env_names(v) for v in node)) if node else set()
    return set()


def write_instance(home: Path, config: dict) -> Path:
    """A DAGSTER_HOME holding `config` as its dagster.yaml."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home


def pg_bindir() -> Path:
    """The folder of initdb and pg_ctl: $PG_BINDIR, else Debian's newest
    /usr/lib/postgresql/<version>/bin, else wherever initdb is on PATH."""
    override = os.environ.get(ENV_PG_BINDIR)
    if override:
        return Path(override)
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.parent.name)] or [0],
    )
    if debian:
        return debian[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else Path("/usr/lib/postgresql/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    base: Path

    def connect(self, dbname: str = "postgres"):
        import psycopg2

        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=dbname
        )


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", PG_USER, "--", *cmd]
    import shlex

    return [require_binary("su", INSTALLED_BY), PG_USER, "-s", "/bin/sh", "-c", shlex.join(cmd)]


def _run(cmd: list[str], cwd: Path, what: str, log: Path | None = None) -> None:
    proc = subprocess.run(
        _as_server_user(cmd), cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    if proc.returncode != 0:
        server_log = log.read_text() if log and log.exists() else ""
        pytest.fail(f"{what} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}{server_log}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session: a fresh cluster in a temporary folder (under /tmp,
    which the `postgres` user can reach, unlike pytest's root-only temporary folders), password
    authentication over TCP on 127.0.0.1 and a free port, no durability (fsync off)."""
    bindir = pg_bindir()
    initdb = require_binary(str(bindir / "initdb"), INSTALLED_BY)
    pg_ctl = require_binary(str(bindir / "pg_ctl"), INSTALLED_BY)
    owner = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam(PG_USER)
        except KeyError:
            message = f"running as root needs the {PG_USER!r} user ({INSTALLED_BY})"
            if in_ci():
                pytest.fail(message)
            pytest.skip(message)

    base = Path(tempfile.mkdtemp(prefix="medallion-pg-"))
    password = secrets.token_urlsafe(16)
    pwfile, data, log = base / "pwfile", base / "data", base / "server.log"
    pwfile.write_text(password + "\n")
    if owner:
        for path in (base, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    port = free_port()
    started = False
    try:
        _run(
            [
                initdb,
                "-D",
                str(data),
                "-U",
                "dagster",
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-locale",
                "--encoding=UTF8",
                "--no-sync",
            ],
            base,
            "initdb",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            [pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", options, "start"],
            base,
            "pg_ctl start",
            log,
        )
        started = True
        yield PostgresServer("127.0.0.1", port, "dagster", password, base)
    finally:
        if started:
            with contextlib.suppress(Exception):
                subprocess.run(
                    _as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
                    cwd=base,
                    capture_output=True,
                    timeout=60,
                    check=False,
                )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_db(postgres_server) -> Iterator[str]:
    """A new, empty database on the session's server (dropped afterwards)."""
    name = f"dagster_{uuid.uuid4().hex[:12]}"
    admin = postgres_server.connect()
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def pg_env(monkeypatch, postgres_server, postgres_db) -> dict[str, str]:
    """The DAGSTER_PG_* variables deploy/dagster.yaml reads, pointing at the test database."""
    values = {
        "DAGSTER_PG_USERNAME": postgres_server.user,
        "DAGSTER_PG_PASSWORD": postgres_server.password,
        "DAGSTER_PG_HOST": postgres_server.host,
        "DAGSTER_PG_PORT": str(postgres_server.port),
        "DAGSTER_PG_DB": postgres_db,
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def moto_server() -> Iterator[str]:
    """moto's AWS APIs on a loopback port, for subprocesses (AWS_ENDPOINT_URL): never a real
    account."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class TaskMetadataEndpoint:
    """A stand-in for the ECS task metadata endpoint (v4) of the task the daemon runs in: what
    the EcsRunLauncher reads (ECS_CONTAINER_METADATA_URI_V4) to find its own cluster and task."""

    def __init__(self):
        import http.server
        import json
        import threading

        self.task: dict = {}
        self.container: dict = {}
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = endpoint.task if self.path.endswith("/task") else endpoint.container
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v4/medallion-daemon"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def task_metadata_endpoint() -> Iterator[TaskMetadataEndpoint]:
    endpoint = TaskMetadataEndpoint()
    try:
        yield endpoint
    finally:
        endpoint.close()
