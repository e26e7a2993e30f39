"""The commands the README promises, run for real."""

import subprocess
import sys
from pathlib import Path

import pandas as pd

from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parents[1]


def test_dagster_loads_the_workspace_from_the_repo_root(tmp_path):
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "DAGSTER_HOME": str(tmp_path)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation successful" in proc.stdout + proc.stderr


def test_sqlite3_shell_reads_every_layer_as_in_the_readme(warehouse):
    sqlite3 = require_binary("sqlite3")
    warehouse.write("gold", "daily_revenue", pd.DataFrame({"currency": ["USD"], "n": [3]}))
    warehouse.write("silver", "transactions", pd.DataFrame({"id": ["t1"]}), ["2026-01-01"])
    base = Path(warehouse.path)
    proc = subprocess.run(
        [
            sqlite3,
            "-cmd",
            f"ATTACH '{base / 'bronze.db'}' AS bronze",
            "-cmd",
            f"ATTACH '{base / 'silver.db'}' AS silver",
            "-cmd",
            f"ATTACH '{base / 'gold.db'}' AS gold",
            ":memory:",
            "SELECT g.currency, g.n, s._partition FROM gold.daily_revenue g, silver.transactions s",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "USD|3|2026-01-01"
