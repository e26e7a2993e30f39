"""The DuckDB backend: chosen by configuration alone, same tables, same gold to the last unit."""

import subprocess
import sys
from datetime import date

import dagster as dg
import pandas as pd
import pytest

from lambda_src.handler import handler
from medallion_dagster.definitions import build_definitions, warehouse_from_env
from medallion_dagster.discovery import as_found, ingested, list_all
from medallion_dagster.io_manager import WarehouseIOManager
from medallion_dagster.recovery import RecoveryError, backup, rebuild
from medallion_dagster.warehouse import (
    SchemaMismatchError,
    TableNotFoundError,
    Warehouse,
    WarehouseError,
)
from medallion_dagster.warehouse_duckdb import DuckDBWarehouse, translate
from tests.conftest import WIDE, sensor_tick
from tests.medallion_dagster.test_warehouse import sample

DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]
RANGE = {
    "dagster/asset_partition_range_start": DAYS[0],
    "dagster/asset_partition_range_end": DAYS[-1],
}
GOLD = ["daily_revenue", "customer_totals", "customer_summary", "quarantine_summary"]
SILVER = ["transactions", "transactions_quarantine", "customers", "transaction_types"]
AUDIT = ["_ingested_at", "quarantined_at"]


@pytest.fixture(params=["sqlite", "duckdb"])
def any_warehouse(request, tmp_path) -> Warehouse:
    cls = Warehouse if request.param == "sqlite" else DuckDBWarehouse
    return cls(path=str(tmp_path / request.param))


# --- configuration --------------------------------------------------------------------------------


def test_the_backend_is_chosen_by_configuration_alone(monkeypatch, tmp_path, local_zone):
    monkeypatch.setenv("WAREHOUSE_DIR", str(tmp_path / "wh"))
    monkeypatch.delenv("WAREHOUSE_BACKEND", raising=False)
    assert type(warehouse_from_env()) is Warehouse
    monkeypatch.setenv("WAREHOUSE_BACKEND", "DuckDB")
    defs = build_definitions(landing_zone=local_zone, discovery=WIDE)
    wh = defs.resources["warehouse"]
    assert isinstance(wh, DuckDBWarehouse) and wh.path == str(tmp_path / "wh")
    io = defs.resources["io_manager"]
    assert isinstance(io, WarehouseIOManager) and io.warehouse is wh
    monkeypatch.setenv("WAREHOUSE_BACKEND", "postgres")
    with pytest.raises(ValueError, match=r"WAREHOUSE_BACKEND=.postgres.*duckdb.*sqlite"):
        warehouse_from_env()


def test_named_parameters_are_translated_outside_quoted_text():
    sql = "SELECT ':x' AS a, 'it''s :y' AS b, :days AS c, '12:30' AS d, x::INT, :k2"
    assert (
        translate(sql) == "SELECT ':x' AS a, 'it''s :y' AS b, $days AS c, '12:30' AS d, x::INT, $k2"
    )


# --- the warehouse API on both backends -----------------------------------------------------------


def test_round_trip_keeps_values_and_dtypes(any_warehouse):
    df = sample()
    any_warehouse.write("silver", "t", df)
    pd.testing.assert_frame_equal(any_warehouse.read("silver", "t"), df)
    assert list(any_warehouse.columns("silver", "t")) == list(df.columns)


def test_partitions_are_replaced_and_counted(any_warehouse):
    day = pd.DataFrame({"id": ["a", "b"], "n": pd.array([1, 2], dtype="Int64")})
    any_warehouse.write("bronze", "t", day, ["2026-01-01"])
    any_warehouse.write("bronze", "t", day.head(1), ["2026-01-02"])
    any_warehouse.write("bronze", "t", day.tail(1), ["2026-01-01"])  # replaces that day only
    assert any_warehouse.partition_row_counts("bronze", "t", ["2026-01-01", "2026-01-02", "x"]) == {
        "2026-01-01": 1,
        "2026-01-02": 1,
        "x": 0,
    }
    got = any_warehouse.read("bronze", "t", ["2026-01-01"])
    assert got["id"].tolist() == ["b"] and got["_partition"].tolist() == ["2026-01-01"]
    assert any_warehouse.row_count("bronze", "t") == 2
    with pytest.raises(TableNotFoundError):
        any_warehouse.read("bronze", "missing")


def test_an_incompatible_write_leaves_the_table_as_it_was(any_warehouse):
    any_warehouse.write("silver", "t", pd.DataFrame({"n": [1, 2]}), ["2026-01-01"])
    with pytest.raises(SchemaMismatchError):
        any_warehouse.write("silver", "t", pd.DataFrame({"n": ["x"]}), ["2026-01-02"])
    with pytest.raises(WarehouseError, match="case"):
        any_warehouse.write("silver", "T", pd.DataFrame({"n": [1]}))
    assert any_warehouse.read("silver", "t")["n"].tolist() == [1, 2]


def test_a_column_of_nulls_takes_the_type_of_its_first_values(any_warehouse):
    any_warehouse.write("silver", "t", pd.DataFrame({"k": ["a"], "v": [None]}), ["2026-01-01"])
    later = pd.DataFrame({"k": ["b"], "v": pd.array([10**15], dtype="Int64")})
    any_warehouse.write("silver", "t", later, ["2026-01-02"])
    got = any_warehouse.read("silver", "t", ["2026-01-02"])
    assert got["v"].dtype == "Int64" and got["v"].tolist() == [10**15]


def test_incremental_queries_recompute_only_changed_keys(any_warehouse):
    wh = any_warehouse
    rows = pd.DataFrame({"k": ["a", "b", "a"], "v": pd.array([1, 2, 3], dtype="Int64")})
    wh.write("silver", "s", rows.assign(_partition=["d1", "d1", "d2"]), ["d1", "d2"])
    partial = (
        "SELECT k, sum(v) AS v, _partition FROM silver.s WHERE _partition IN {partitions} "
        "GROUP BY k, _partition"
    )
    total = "SELECT k, sum(v) AS v, count(*) AS n FROM {source} GROUP BY k ORDER BY k"
    dtypes = {"k": "str", "v": "Int64"}
    wh.write_query("gold", "p", partial, dtypes, ["d1", "d2"], changes_key=("k",))
    wh.write_query("gold", "t", total, {**dtypes, "n": "Int64"}, incremental_from="gold.p")
    assert wh.read("gold", "t").to_dict("list") == {"k": ["a", "b"], "v": [4, 2], "n": [2, 1]}
    wh.write("silver", "s", pd.DataFrame({"k": ["a"], "v": pd.array([7])}), ["d2"])
    wh.write_query("gold", "p", partial, dtypes, ["d2"], changes_key=("k",))
    wh.write_query("gold", "t", total, {**dtypes, "n": "Int64"}, incremental_from="gold.p")
    got = wh.read("gold", "t").sort_values("k", ignore_index=True)
    assert got.to_dict("list") == {"k": ["a", "b"], "v": [8, 2], "n": [2, 1]}
    assert wh.query("SELECT count(*) AS n FROM gold.p__delta")["n"].tolist() == [0]  # pruned


def test_integer_division_and_json_lists_mean_the_same(any_warehouse):
    any_warehouse.write("gold", "x", pd.DataFrame({"a": [7, -7], "k": ["p", "q"]}))
    got = any_warehouse.query(
        "SELECT a / 2 AS half, a % 2 AS rest, medallion_strip('  k ') AS s FROM gold.x "
        "WHERE k IN (SELECT value FROM json_each(:keys)) ORDER BY a",
        {"keys": '["p", "q", "zz"]'},
    )
    assert got.to_dict("list") == {"half": [-3, 3], "rest": [-1, 1], "s": ["k", "k"]}


# --- the whole graph on both backends -------------------------------------------------------------


@pytest.fixture
def landed(landing_dir):
    for i, day in enumerate(DAYS):
        for batch in ("a", "b") if i == 1 else ("a",):
            out = handler(
                {
                    "batch_date": day,
                    "batch_id": f"{batch}{i}",
                    "batch_size": 250,
                    "dirty_rate": 0.08,
                }
            )
            assert out["manifest_key"]
    return landing_dir


def materialize_everything(local_zone, warehouse) -> dg.ExecuteInProcessResult:
    defs = build_definitions(landing_zone=local_zone, warehouse=warehouse, discovery=WIDE)
    with dg.instance_for_test() as instance:
        return defs.resolve_job_def("medallion_daily").execute_in_process(
            instance=instance, tags=RANGE, raise_on_error=False
        )


def test_the_whole_graph_gives_identical_gold_on_both_backends(landed, local_zone, tmp_path):
    results = {}
    for cls in (Warehouse, DuckDBWarehouse):
        wh = cls(path=str(tmp_path / cls.BACKEND))
        result = materialize_everything(local_zone, wh)
        assert result.success, cls.BACKEND
        checks = {
            (c.asset_key.to_user_string(), c.check_name, c.severity.value, c.passed)
            for c in result.get_asset_check_evaluations()
        }
        # every check ran and every blocking one passed (the fixed March dates are not
        # "recent": the freshness warning fails on both backends alike)
        assert len(checks) > 20 and all(ok for *_, sev, ok in checks if sev == "ERROR")
        materialized = {
            m.asset_key.to_user_string() for m in result.get_asset_materialization_events()
        }
        results[cls.BACKEND] = (wh, materialized, checks)
    (sqlite, done_sqlite, checks_sqlite) = results["sqlite"]
    (duck, done_duck, checks_duck) = results["duckdb"]
    assert done_sqlite == done_duck and {f"gold/{t}" for t in GOLD} <= done_duck
    assert checks_sqlite == checks_duck
    assert list(tmp_path.joinpath("duckdb").glob("*.duckdb"))
    assert not list(tmp_path.joinpath("duckdb").glob("*.db"))
    for layer, tables in (("gold", GOLD), ("silver", SILVER)):
        for table in tables:
            expected = sqlite.read(layer, table).drop(columns=AUDIT, errors="ignore")
            got = duck.read(layer, table).drop(columns=AUDIT, errors="ignore")
            assert len(expected) > 0, f"{layer}.{table} is empty: the comparison proves nothing"
            pd.testing.assert_frame_equal(got, expected, obj=f"{layer}.{table}")
    # and the data is real: gold reconciles with the manifests' accepted rows
    summary = duck.read("gold", "customer_summary")
    assert summary["transaction_count"].sum() == len(duck.read("silver", "transactions"))
    assert date.fromisoformat(DAYS[0]) <= duck.read("gold", "daily_revenue")["occurred_date"].max()


def test_the_sensor_and_recovery_work_on_duckdb(landed, local_zone, tmp_path, instance):
    wh = DuckDBWarehouse(path=str(tmp_path / "duck"))
    defs = build_definitions(landing_zone=local_zone, warehouse=wh, discovery=WIDE)
    requests = sensor_tick(defs, instance).run_requests
    assert sorted(r.partition_key for r in requests) == DAYS
    assert materialize_everything(local_zone, wh).success
    found = list(as_found(list_all(local_zone)))
    data_files = {f.key for f in found if not f.key.startswith("_manifests")}
    assert {key for key, _ in ingested(wh, found)} == data_files  # bronze holds every file
    before = wh.read("gold", "daily_revenue")
    result, moved = rebuild(defs, instance, log=lambda *_: None)
    assert result.success and sorted(p.name for p in moved.glob("*.duckdb")) == [
        "bronze.duckdb",
        "gold.duckdb",
        "silver.duckdb",
    ]
    pd.testing.assert_frame_equal(wh.read("gold", "daily_revenue"), before)
    with pytest.raises(RecoveryError, match=r"copy the \.duckdb files"):
        backup(wh, tmp_path / "backup")


HOLD = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
conn.execute("CREATE TABLE IF NOT EXISTS held (x INTEGER)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.close()
"""


def test_a_file_another_process_holds_is_waited_for_then_a_clear_error(tmp_path):
    wh = DuckDBWarehouse(path=str(tmp_path / "duck"), busy_timeout_seconds=0.5)
    wh.write("silver", "t", pd.DataFrame({"n": [1]}))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(wh.layer_file("silver")), "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        # the resource's own retries outlast a short hold: the write waits, then succeeds
        patient = DuckDBWarehouse(path=wh.path, busy_timeout_seconds=30)
        patient.write("silver", "t", pd.DataFrame({"n": [2]}))
    finally:
        holder.wait(timeout=60)
    assert wh.read("silver", "t")["n"].tolist() == [2]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(wh.layer_file("gold")), "600"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseError, match=r"cannot open the DuckDB warehouse.*lock"):
            wh.query("SELECT 1 AS one")
    finally:
        holder.kill()
        holder.wait()


def test_table_row_counts_are_kept_per_partition_in_the_writes(any_warehouse):
    wh = any_warehouse
    rows = pd.DataFrame({"id": list("abcdef"), "_partition": ["d1"] * 2 + ["d2"] * 3 + ["d3"]})
    wh.write("silver", "t", rows, ["d1", "d2", "d3"])
    wh.write("silver", "t", pd.DataFrame({"id": list("wxyz")}), ["d2"], clear=["d3"])

    def truth() -> int:
        return int(wh.query("SELECT count(*) AS n FROM silver.t")["n"][0])

    def kept() -> dict:
        counts = wh.query(
            "SELECT partition_key, row_count FROM silver._medallion_partition_rows "
            "WHERE table_name = 't' ORDER BY 1"
        )
        return dict(zip(counts["partition_key"], counts["row_count"], strict=True))

    assert kept() == {"d1": 2, "d2": 4} and wh.row_count("silver", "t") == truth() == 6
    # a table from before the counts: counted in full by its next write, then kept
    with wh.connect("silver") as conn:
        conn.execute("DELETE FROM _medallion_partition_rows")
    assert wh.row_count("silver", "t") == 6  # no counts: the table itself is counted
    wh.write("silver", "t", pd.DataFrame({"id": ["q"]}), ["d9"])
    assert kept() == {"d1": 2, "d2": 4, "d9": 1} and wh.row_count("silver", "t") == truth() == 7
    # partitions computed by SQL are counted the same way; a rebuilt table starts over
    sql = "SELECT id, _partition FROM silver.t WHERE _partition IN {partitions}"
    wh.write_query("gold", "g", sql, {"id": "str"}, ["d1", "d2"])
    wh.write_query("gold", "g", sql, {"id": "str"}, ["d9"])
    assert wh.row_count("gold", "g") == 7
    wh.write("silver", "t", pd.DataFrame({"id": ["only"]}))  # unpartitioned: replaces all
    assert wh.row_count("silver", "t") == truth() == 1 and kept() == {}
