#!/usr/bin/env python3
"""Build the collector Lambda's deployment package: `lambda_src` plus its third-party dependencies.

    python3 scripts/build_lambda_package.py            # or: make lambda-package
    python3 scripts/build_lambda_package.py --out DIR

The package is a folder (`<out>/package`) that Terraform zips with `archive_file`. Terraform runs
this script itself during `plan` (the `external` data source, `--terraform`: JSON on stdout), so a
deploy always ships the current code. It rebuilds only when an input changed: the `lambda_src`
sources, the Lambda's dependencies in `pyproject.toml` (`[project.optional-dependencies] lambda`),
their pinned versions in `requirements.lock`, or the target platform.

Dependencies are installed with pip for the Lambda's platform (manylinux x86_64, CPython
`LAMBDA_PYTHON`), binary wheels only, pinned by `requirements.lock`; the AWS SDK (boto3 and what it
needs) comes with the Lambda Python runtime and is not bundled. Needs pip and access to PyPI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The Lambda runtime's Python: the newest with long AWS support (python3.11 was deprecated on
#: 2026-06-30; python3.13 is supported until LAMBDA_DEPRECATION). lambda_src is plain Python
#: >= 3.11 (ruff targets py311), so it runs on every version the project supports.
LAMBDA_PYTHON = "3.13"
LAMBDA_DEPRECATION = "2029-06-30"
RUNTIME = f"python{LAMBDA_PYTHON}"
PLATFORM = "manylinux2014_x86_64"
#: Top-level modules the AWS Lambda Python runtime provides (boto3 and its dependencies).
RUNTIME_PROVIDED = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}
)
#: Our own packages copied into the package, as source.
SOURCE_PACKAGES = ("lambda_src",)
DEFAULT_OUT = ROOT / "build" / "lambda"
STAMP = ".build-hash"


def lambda_requirements(root: Path = ROOT) -> list[str]:
    """The Lambda's third-party requirements, declared once in pyproject.toml."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return list(project["optional-dependencies"]["lambda"])


def source_files(root: Path = ROOT) -> list[Path]:
    return sorted(
        p
        for package in SOURCE_PACKAGES
        for p in (root / package).rglob("*.py")
        if "__pycache__" not in p.parts
    )


def input_hash(root: Path = ROOT) -> str:
    """Changes whenever the package would: sources, requirements, pins, platform."""
    h = hashlib.sha256()
    h.update(json.dumps([RUNTIME, PLATFORM, lambda_requirements(root)]).encode())
    h.update((root / "requirements.lock").read_bytes())
    for path in source_files(root):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def install_dependencies(target: Path, root: Path = ROOT, log=sys.stderr) -> None:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--platform",
        PLATFORM,
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON,
        "--only-binary=:all:",
        "--constraint",
        str(root / "requirements.lock"),
        *lambda_requirements(root),
    ]
    result = subprocess.run(cmd, stdout=log, stderr=log, check=False)
    if result.returncode != 0:
        raise SystemExit(f"pip could not install the Lambda's dependencies ({' '.join(cmd)})")


def build(out: Path = DEFAULT_OUT, root: Path = ROOT, log=sys.stderr) -> dict[str, str]:
    """Build `<out>/package` unless it is up to date; return what Terraform needs."""
    out = out.resolve()
    package = out / "package"
    digest = input_hash(root)
    stamp = out / STAMP
    if not (package.is_dir() and stamp.is_file() and stamp.read_text() == digest):
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="package-", dir=out))
        try:
            install_dependencies(staging, root, log)
            shutil.rmtree(staging / "bin", ignore_errors=True)  # console scripts: not needed
            for path in source_files(root):
                dest = staging / path.relative_to(root)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
            stamp.unlink(missing_ok=True)
            shutil.rmtree(package, ignore_errors=True)
            staging.rename(package)
            stamp.write_text(digest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        print(f"built {package}", file=log)
    return {"package_dir": str(package), "runtime": RUNTIME, "source_hash": digest}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument(
        "--terraform",
        action="store_true",
        help="external data source protocol: read the JSON query on stdin, print JSON",
    )
    args = parser.parse_args(argv)
    if args.terraform:
        query = json.loads(sys.stdin.read() or "{}")
        out = Path(query["out_dir"]) if query.get("out_dir") else args.out
        print(json.dumps(build(out)))
    else:
        result = build(args.out, log=sys.stdout)
        print(f"package: {result['package_dir']} ({result['runtime']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
