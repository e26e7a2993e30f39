"""checkov (in its own virtual environment, .venv-checkov) finds no failed check. The only skips
are the kinds the project accepts for a small deployment, each written in the resource's code
with its reason, each listed in terraform/README.md, and each actually needed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_binary
from tests.terraform.conftest import ROOT, TERRAFORM

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
#: The kinds of default checks a small deployment may reasonably not want (the issue's list).
ACCEPTABLE_SKIPS = {
    "CKV_AWS_144": "cross-region replication",
    "CKV_AWS_158": "customer-managed KMS key (log group)",
    "CKV_AWS_173": "customer-managed KMS key (Lambda environment variables)",
    "CKV_AWS_297": "customer-managed KMS key (EventBridge schedule)",
    "CKV_AWS_117": "Lambda inside a VPC",
    "CKV_AWS_272": "Lambda code signing",
    "CKV_AWS_338": "year-long log retention",
}


def checkov(directory: Path) -> dict:
    binary = require_binary(str(CHECKOV), "`make test` creates .venv-checkov")
    proc = subprocess.run(
        [binary, "-d", str(directory), "--framework", "terraform", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    assert [r["check_type"] for r in reports] == ["terraform"]
    return reports[0]


def finding(check: dict) -> tuple[str, str, str]:
    """(check id, file, resource type.name) — the same for every module instance."""
    resource = ".".join(check["resource"].split(".")[-2:])
    return check["check_id"], check["file_path"].lstrip("/"), resource


@pytest.fixture(scope="module")
def report() -> dict:
    return checkov(TERRAFORM)


def test_checkov_finds_no_failed_check(report):
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] >= 30 and summary["passed"] >= 100
    failed = sorted({finding(c) for c in report["results"]["failed_checks"]})
    assert summary["failed"] == 0, f"failed checks: {failed}"


def test_every_skip_is_an_acceptable_kind_with_its_reason_in_the_readme(report):
    skipped = report["results"]["skipped_checks"]
    assert skipped
    readme = (TERRAFORM / "README.md").read_text()
    rows = {
        tuple(cell.strip(" `") for cell in line.strip("|").split("|")[:3])
        for line in readme.splitlines()
        if re.match(r"^\| *`?CKV", line)
    }
    listed = set()
    for check in skipped:
        check_id, path, resource = finding(check)
        assert check_id in ACCEPTABLE_SKIPS, f"{check_id} on {resource} is not an acceptable skip"
        assert len(check["check_result"].get("suppress_comment", "")) >= 40, "give the reason"
        assert (check_id, path, resource) in rows, f"list {check_id} {path} {resource} in README"
        listed.add((check_id, path, resource))
    assert rows == listed, f"README lists skips that are not in the code: {rows - listed}"


def test_every_skip_is_needed(tmp_path, report):
    """Without the skip comments, checkov fails exactly the checks that were skipped."""
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM, copy, ignore=shutil.ignore_patterns(".terraform", "build"))
    for path in copy.rglob("*.tf"):
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(x for x in lines if "#checkov:skip=" not in x))
    bare = checkov(copy)
    failed = {finding(c) for c in bare["results"]["failed_checks"]}
    skipped = {finding(c) for c in report["results"]["skipped_checks"]}
    assert failed == skipped
