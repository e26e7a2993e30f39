"""The Lambda package, built for real by the script Terraform runs, holds everything the handler
imports, and the handler runs from the unzipped package against S3 (a moto server on loopback),
with the environment variables Terraform sets — like the Lambda runtime would run it."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.machinery import PathFinder
from pathlib import Path

import boto3
import pytest

from scripts import build_lambda_package as build
from tests.terraform.conftest import ROOT, module

BUCKET = "medallion-package-test"
PREFIX = "landing"


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    """Build with the script (pip for the Lambda platform), zip it as archive_file does, unzip."""
    out = tmp_path_factory.mktemp("build")
    result = build.build(out)
    assert result["runtime"] == build.RUNTIME
    source = Path(result["package_dir"])
    archive = out / "collector.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                z.write(path, path.relative_to(source).as_posix())
    unzipped = tmp_path_factory.mktemp("lambda_task_root")
    with zipfile.ZipFile(archive) as z:
        z.extractall(unzipped)
    return unzipped


def third_party_imports() -> set[str]:
    """Top-level modules imported anywhere in lambda_src that are neither stdlib nor ours."""
    return imported_modules() - set(sys.stdlib_module_names) - set(build.SOURCE_PACKAGES)


#: Standard-library modules removed between Python 3.11 and the Lambda's 3.13 (PEP 594, 632).
REMOVED_BY_313 = frozenset(
    {
        "aifc",
        "asynchat",
        "asyncore",
        "audioop",
        "cgi",
        "cgitb",
        "chunk",
        "crypt",
        "distutils",
        "imghdr",
        "imp",
        "lib2to3",
        "mailcap",
        "msilib",
        "nis",
        "nntplib",
        "ossaudiodev",
        "pipes",
        "smtpd",
        "sndhdr",
        "spwd",
        "sunau",
        "telnetlib",
        "uu",
        "xdrlib",
    }
)


def imported_modules() -> set[str]:
    names = set()
    for path in build.source_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_lambda_src_imports_nothing_the_lambda_python_removed():
    assert not imported_modules() & REMOVED_BY_313


def test_the_package_holds_everything_the_handler_imports(package):
    imports = third_party_imports()
    assert "faker" in imports
    bundled = imports - build.RUNTIME_PROVIDED
    missing = [n for n in sorted(bundled) if PathFinder.find_spec(n, [str(package)]) is None]
    assert not missing, f"the package lacks {missing}"
    for path in build.source_files():
        assert (package / path.relative_to(ROOT)).read_bytes() == path.read_bytes()
    # what the runtime provides is not bundled (the package stays small)
    assert not [n for n in build.RUNTIME_PROVIDED if (package / n).exists()]


def test_a_rebuild_is_skipped_until_an_input_changes(tmp_path):
    first = build.build(tmp_path)
    stamp = (tmp_path / build.STAMP).stat().st_mtime_ns
    again = build.build(tmp_path)
    assert again == first and (tmp_path / build.STAMP).stat().st_mtime_ns == stamp


def lambda_environment() -> dict[str, str]:
    """The Lambda's environment variables, evaluated from the Terraform resource."""
    function = module("collector_lambda").resources("aws_lambda_function")["collector"]
    values = {
        "bucket_name": BUCKET,
        "landing_prefix": PREFIX,
        "batch_size": "40",
        "dirty_rate": "0.1",
        "landing_format": "jsonl",
    }
    pattern = re.compile(r"^\$\{(?:tostring\()?var\.(\w+)\)?\}$")
    return {
        name: values[pattern.fullmatch(expr).group(1)]
        for name, expr in function["environment"][0]["variables"].items()
    }


@pytest.fixture
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def runtime_shim(tmp_path: Path) -> Path:
    """A folder holding only what the Lambda Python runtime provides (the AWS SDK)."""
    shim = tmp_path / "runtime"
    shim.mkdir()
    for name in build.RUNTIME_PROVIDED:
        spec = importlib.util.find_spec(name)
        origin = Path(spec.origin)
        target = origin.parent if origin.name == "__init__.py" else origin
        (shim / target.name).symlink_to(target)
    return shim


RUN_HANDLER = """
import json, sys
from lambda_src.handler import handler
import faker, lambda_src
try:
    import dagster  # noqa: F401
    isolated = False
except ImportError:
    isolated = True
result = handler({"batch_date": "2026-06-01", "batch_id": "pkgtest"}, None)
print(json.dumps({"result": result, "isolated": isolated,
                  "faker": faker.__file__, "lambda_src": lambda_src.__file__}))
"""


def lambda_python() -> str:
    """The Lambda's Python version if this machine has it, else the project's interpreter (the
    code is plain Python >= 3.11, so the package's completeness is proven either way)."""
    candidate = shutil.which(f"python{build.LAMBDA_PYTHON}")
    if candidate:
        probe = subprocess.run([candidate, "-c", "pass"], capture_output=True, check=False)
        if probe.returncode == 0:
            return candidate
    return sys.executable


def test_the_handler_runs_from_the_unzipped_package_against_s3(package, moto_server, tmp_path):
    s3 = boto3.client("s3", endpoint_url=moto_server)
    s3.create_bucket(Bucket=BUCKET)
    python = lambda_python()
    print(f"running the handler with {python}")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": f"{package}{os.pathsep}{runtime_shim(tmp_path)}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_ENDPOINT_URL": moto_server,  # never a real account
        "AWS_LAMBDA_FUNCTION_NAME": "medallion-test-collector",
        **lambda_environment(),
    }
    proc = subprocess.run(
        [python, "-S", "-c", RUN_HANDLER],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["isolated"], "the subprocess saw the project's environment"
    assert out["faker"].startswith(str(package)) and out["lambda_src"].startswith(str(package))
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert len(keys) == 4 and all(k.startswith(f"{PREFIX}/") for k in keys)
    assert [k for k in keys if "/_manifests/dt=2026-06-01/" in k]
    key = f"{PREFIX}/{out['result']['manifest_key']}"
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    tx = next(f for f in manifest["files"] if f["entity"] == "transactions")
    body = s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}/{tx['key']}")["Body"].read()
    assert body.count(b"\n") == tx["records"] == 40  # BATCH_SIZE, set by Terraform's variables
    assert manifest["control_totals"]["transactions"]["dirty"] > 0  # DIRTY_RATE reached it too
