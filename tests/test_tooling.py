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


def test_a_week_backfills_in_one_run_from_the_cli(tmp_path, landing_dir, warehouse, today):
    """`dagster asset materialize --partition-range` (the CLI twin of a UI backfill) runs a week
    through bronze -> silver -> gold as one run: every asset has BackfillPolicy.single_run()."""
    import os
    from datetime import timedelta

    import dagster as dg

    from lambda_src.handler import handler

    week = [today - timedelta(days=n) for n in range(6, -1, -1)]
    for day in week:
        handler({"batch_date": day.isoformat(), "batch_id": f"w{day:%d}", "batch_size": 15})
    home = tmp_path / "home"
    home.mkdir()
    env = os.environ | {"DAGSTER_HOME": str(home), "WAREHOUSE_DIR": warehouse.path}
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.run(
        [
            str(dagster),
            "asset",
            "materialize",
            "-m",
            "medallion_dagster.definitions",
            "--select",
            "*",
            "--partition-range",
            f"{week[0]}...{week[-1]}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
    assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
    days = warehouse.query("SELECT DISTINCT _partition AS d FROM silver.transactions ORDER BY 1")
    assert list(days["d"]) == [d.isoformat() for d in week]
    assert warehouse.row_count("gold", "daily_revenue") > 0


def test_the_local_instance_queues_one_run_at_a_time_and_retries_crashed_runs(tmp_path):
    import shutil

    import dagster as dg

    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", tmp_path)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure
