"""Recovery: the warehouse rebuilt from the landing zone in one run equals what the daily runs
built; a backup taken while another process writes is consistent."""

import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from lambda_src.handler import handler
from medallion_dagster.definitions import build_definitions
from medallion_dagster.demo import run_sensor_once
from medallion_dagster.reconciliation import DAILY_REVENUE_MISMATCHES
from medallion_dagster.recovery import (
    RANGE_END,
    RANGE_START,
    RecoveryError,
    backup,
    rebuild,
    restore,
)
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
    assert "success" in proc.stdout and "previous layer files kept in" in proc.stdout
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


# --- regressions from the adversarial review -----------------------------------------------------


def test_a_failed_rebuild_leaves_the_live_warehouse_as_it_was(
    three_days, warehouse, instance, landing_dir
):
    before = snapshot(warehouse)
    tx_file = next((landing_dir / "transactions").rglob("*.jsonl"))
    with tx_file.open("a") as f:  # the manifest no longer matches: a blocking check fails
        f.write("garbage{{{\n")
    result, moved = rebuild(three_days, instance, log=lambda _: None)
    assert not result.success and moved is None
    assert snapshot(warehouse) == before
    assert not list(Path(warehouse.path).parent.glob("*.before-rebuild-*"))


def test_rebuild_moves_only_the_layer_files_and_refuses_while_runs_are_in_progress(
    three_days, warehouse, instance
):
    other = Path(warehouse.path) / "notes.txt"
    other.write_text("not ours")
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = rebuild(three_days, instance, now=now, log=lambda _: None)[1]
    second = rebuild(three_days, instance, now=now, log=lambda _: None)[1]  # same second
    assert first != second and other.read_text() == "not ours"
    assert sorted(p.name for p in first.iterdir() if p.suffix == ".db") == [
        "bronze.db",
        "gold.db",
        "silver.db",
    ]
    instance.add_run(dg.DagsterRun(job_name="medallion_daily", status=dg.DagsterRunStatus.STARTED))
    with pytest.raises(RecoveryError, match="in progress"):
        rebuild(three_days, instance, log=lambda _: None)


def test_rebuild_reports_files_outside_the_partitions_and_refuses_an_empty_landing_zone(
    landing_dir, local_zone, warehouse, instance
):
    from tests.conftest import TX_HEADER, put_local

    defs = build_definitions(landing_zone=local_zone, warehouse=warehouse, discovery=WIDE)
    put_local(landing_dir, "transactions/dt=2023-12-31/a.csv", TX_HEADER)  # before 2024-01-01
    said = []
    with pytest.raises(RecoveryError, match="no landing files"):
        rebuild(defs, instance, log=said.append)
    assert "outside the partitions" in said[0] and "2023-12-31" in said[0]


def test_backup_refuses_a_used_folder_and_never_creates_layer_files(
    tmp_path, three_days, warehouse
):
    import pandas as pd

    used = tmp_path / "used"
    used.mkdir()
    (used / "silver.db").write_text("an older backup")
    with pytest.raises(RecoveryError, match="not empty"):
        backup(warehouse, used)
    partial = Warehouse(path=str(tmp_path / "partial"))
    partial.write("bronze", "t", pd.DataFrame({"x": [1]}))
    assert set(backup(partial, tmp_path / "b1")) == {"bronze"}
    assert sorted(p.name for p in Path(partial.path).glob("*.db")) == ["bronze.db"]
    with pytest.raises(RecoveryError, match="no warehouse files"):
        backup(Warehouse(path=str(tmp_path / "typo")), tmp_path / "b2")


def test_restore_is_not_undone_by_a_stale_wal(tmp_path, three_days, warehouse):
    saved = backup(warehouse, tmp_path / "backup")
    rows = warehouse.row_count("gold", "daily_revenue")
    # a writer changed gold after the backup and died, leaving its WAL behind
    writer = sqlite3.connect(warehouse.layer_file("gold"))
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("DELETE FROM daily_revenue")
    writer.commit()
    assert Path(str(warehouse.layer_file("gold")) + "-wal").stat().st_size > 0
    restore(tmp_path / "backup", warehouse)
    writer.close()
    assert set(saved) == {"bronze", "silver", "gold"}
    assert warehouse.row_count("gold", "daily_revenue") == rows > 0
    assert warehouse.query(DAILY_REVENUE_MISMATCHES).empty
