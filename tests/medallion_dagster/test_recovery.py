"""Recovery: the warehouse rebuilt from the landing zone in one run equals what the daily runs
built; a backup taken while another process writes is consistent."""

import json
import os
import sqlite3
import subprocess
import sys
import time

import dagster as dg
import pytest

from lambda_src.handler import handler
from medallion_dagster.definitions import build_definitions
from medallion_dagster.demo import run_sensor_once
from medallion_dagster.reconciliation import DAILY_REVENUE_MISMATCHES
from medallion_dagster.recovery import RANGE_END, RANGE_START, backup, rebuild
from medallion_dagster.warehouse import Warehouse
from tests.conftest import WIDE

#: Columns stamped with the time of the run that wrote them.
AUDIT = {"_ingested_at", "quarantined_at"}


def snapshot(warehouse: Warehouse) -> dict[str, list]:
    tables = {}
    for layer in ("bronze", "silver", "gold"):
        with sqlite3.connect(warehouse.layer_file(layer)) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' "
                    "ESCAPE '\\'"
                )
            ]
            for name in names:
                cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{name}")')]
                keep = ", ".join(f'"{c}"' for c in cols if c not in AUDIT)
                rows = conn.execute(f'SELECT {keep} FROM "{name}"').fetchall()
                tables[f"{layer}.{name}"] = sorted(rows, key=repr)
    return tables


@pytest.fixture
def three_days(landing_dir, local_zone, warehouse, instance, recent_days):
    for i, day in enumerate(recent_days):
        event = {"batch_date": day.isoformat(), "batch_id": f"r{i}", "batch_size": 50}
        handler(event | {"dirty_rate": 0.1})
    defs = build_definitions(landing_zone=local_zone, warehouse=warehouse, discovery=WIDE)
    results, _, _ = run_sensor_once(defs, instance, log_level="ERROR")
    assert len(results) == 3 and all(r.success for r in results)
    return defs


def test_rebuild_in_one_run_equals_the_daily_runs(three_days, warehouse, instance, recent_days):
    before = snapshot(warehouse)
    assert before["gold.daily_revenue"] and before["silver.transactions_quarantine"]
    result, moved = rebuild(three_days, instance)
    assert result.success
    assert result.dagster_run.tags[RANGE_START] == recent_days[0].isoformat()
    assert result.dagster_run.tags[RANGE_END] == recent_days[-1].isoformat()
    assert snapshot(warehouse) == before
    assert moved is not None and (moved / "gold.db").exists()  # the old warehouse is kept


def test_the_rebuild_command_records_one_run_in_dagster_home(three_days, tmp_path, warehouse):
    home = tmp_path / "dagster_home"
    home.mkdir()
    before = snapshot(warehouse)
    env = os.environ | {"DAGSTER_HOME": str(home), "WAREHOUSE_DIR": warehouse.path}
    proc = subprocess.run(
        [sys.executable, "-m", "medallion_dagster.recovery", "rebuild"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "success" in proc.stdout and "previous warehouse kept in" in proc.stdout
    assert snapshot(warehouse) == before
    with dg.DagsterInstance.from_config(str(home)) as recorded:
        runs = recorded.get_runs()
    assert len(runs) == 1 and runs[0].tags.get("medallion/rebuild") == "true"


WRITER = """
import sys, time
import pandas as pd
from medallion_dagster.warehouse import Warehouse
w = Warehouse(path=sys.argv[1])
deadline = time.monotonic() + float(sys.argv[2])
generation = 0
while time.monotonic() < deadline:
    generation += 1
    frame = pd.DataFrame({"generation": pd.Series([generation] * 5000, dtype="Int64")})
    for layer in ("bronze", "silver", "gold"):  # a run writes its layers in this order
        w.write(layer, "progress", frame)
    print(generation, flush=True)
"""


def test_a_backup_while_another_process_writes_is_one_consistent_instant(tmp_path, three_days):
    warehouse = Warehouse(path=str(tmp_path / "live"))
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, warehouse.path, "8"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        writer.stdout.readline()  # the first generation is written
        taken = []
        for n in range(6):
            copies = backup(warehouse, tmp_path / f"backup{n}")
            generations = {}
            for layer, path in copies.items():
                with sqlite3.connect(path) as conn:
                    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
                    rows = conn.execute(
                        "SELECT count(*), min(generation), max(generation) FROM progress"
                    ).fetchone()
                assert rows[0] == 5000 and rows[1] == rows[2], (layer, rows)  # no torn write
                generations[layer] = rows[1]
            # one instant: layers written later are at most one generation behind earlier ones
            assert generations["bronze"] >= generations["silver"] >= generations["gold"]
            assert generations["bronze"] - generations["gold"] <= 1
            taken.append(generations["bronze"])
            time.sleep(0.3)
        assert len(set(taken)) > 1, "the writer made no progress during the backups"
    finally:
        writer.kill()
        writer.wait()


def test_the_backup_command_copies_a_warehouse_that_reconciles(three_days, warehouse, tmp_path):
    env = os.environ | {"WAREHOUSE_DIR": warehouse.path}
    dest = tmp_path / "backup"
    proc = subprocess.run(
        [sys.executable, "-m", "medallion_dagster.recovery", "backup", str(dest)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(json.loads(proc.stdout)) == {"bronze", "silver", "gold"}
    restored = Warehouse(path=str(dest))
    assert restored.query(DAILY_REVENUE_MISMATCHES).empty
    assert restored.row_count("gold", "daily_revenue") == warehouse.row_count(
        "gold", "daily_revenue"
    )
