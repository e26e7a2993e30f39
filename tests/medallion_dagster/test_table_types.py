"""The IO manager's other types: SQL computed in the warehouse (incrementally or whole), chunk
streams, and lazy partitioned inputs, through Dagster as an asset would use them."""

import dagster as dg
import pandas as pd
import pytest

from medallion_dagster.io_manager import SQLiteIOManager
from medallion_dagster.table_types import (
    PartitionChunk,
    PartitionChunks,
    PartitionedTable,
    SQLQuery,
    group_partitions,
)
from medallion_dagster.warehouse import SchemaMismatchError, WarehouseError

days = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-08")
KEYS = days.get_partition_keys()


def sales_frame(keys: list[str], scale: int = 1) -> pd.DataFrame:
    rows = [
        {"shop": f"s{i % 3}", "amount": (i + 1) * scale, "_partition": k}
        for k in keys
        for i in range(int(k[-1]))  # day d has d rows
    ]
    return pd.DataFrame(rows, columns=["shop", "amount", "_partition"]).astype(
        {"shop": "str", "amount": "int64", "_partition": "str"}
    )


class Scale(dg.Config):
    scale: int = 1


@dg.asset(key=["silver", "sales"], partitions_def=days)
def sales(context: dg.AssetExecutionContext, config: Scale) -> PartitionChunks:
    keys = list(context.partition_keys)
    return PartitionChunks(PartitionChunk([k], sales_frame([k], config.scale)) for k in keys)


@dg.asset(key=["gold", "sales_partials"], partitions_def=days, deps=[sales])
def sales_partials() -> SQLQuery:
    return SQLQuery(
        "SELECT shop, count(*) AS n, sum(amount) AS total, _partition FROM silver.sales "
        "WHERE _partition IN {partitions} GROUP BY _partition, shop",
        {"shop": "str", "n": "Int64", "total": "Int64"},
        changes_key=("shop",),
    )


@dg.asset(key=["gold", "sales_by_shop"], deps=[sales_partials])
def sales_by_shop() -> SQLQuery:
    return SQLQuery(
        "SELECT shop, sum(n) AS n, sum(total) AS total FROM {source} GROUP BY shop ORDER BY shop",
        {"shop": "str", "n": "Int64", "total": "Int64"},
        incremental_from="gold.sales_partials",
        previews={"top": "SELECT shop, total FROM {table} ORDER BY total DESC LIMIT 1"},
    )


@dg.asset(key=["gold", "chunk_sizes"], partitions_def=days)
def chunk_sizes(context: dg.AssetExecutionContext, sales: PartitionedTable) -> pd.DataFrame:
    rows = [
        {"first": keys[0], "days": len(keys), "rows": len(df), "_partition": k}
        for keys, df in sales.chunks(max_rows=7)
        for k in keys
    ]
    return pd.DataFrame(rows)


ALL = [sales, sales_partials, sales_by_shop]


@pytest.fixture
def resources(warehouse):
    return {"io_manager": SQLiteIOManager(warehouse=warehouse)}


def run(assets, resources, first=KEYS[0], last=KEYS[-1], scale=1, **kwargs):
    tags = {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }
    selected = kwargs.get("selection", assets)
    config = {"ops": {"silver__sales": {"config": {"scale": scale}}}} if sales in selected else {}
    return dg.materialize(assets, resources=resources, tags=tags, run_config=config, **kwargs)


def expected_by_shop(warehouse) -> pd.DataFrame:
    df = warehouse.read("silver", "sales")
    out = df.groupby("shop").agg(n=("amount", "size"), total=("amount", "sum")).reset_index()
    return out.astype({"n": "Int64", "total": "Int64", "shop": "str"})


def test_incremental_sql_equals_a_full_recomputation(resources, warehouse):
    result = run(ALL, resources)
    assert result.success
    pd.testing.assert_frame_equal(
        warehouse.read("gold", "sales_by_shop"), expected_by_shop(warehouse)
    )
    # one day again with other amounts: only its shops' rows are recomputed, and right
    changed = dg.materialize(
        ALL,
        resources=resources,
        partition_key=KEYS[2],
        run_config={"ops": {"silver__sales": {"config": {"scale": 100}}}},
        selection=[sales, sales_partials],
    )
    assert changed.success
    log = warehouse.query("SELECT DISTINCT shop FROM gold.sales_partials__delta")
    assert len(log) == 3  # s0, s1, s2: the day's replaced and new partials
    assert dg.materialize([sales_by_shop], resources=resources).success
    got = warehouse.read("gold", "sales_by_shop").sort_values("shop").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected_by_shop(warehouse))
    # absorbed by its only consumer: pruned
    assert warehouse.query("SELECT * FROM gold.sales_partials__delta").empty


def test_sql_output_metadata_counts_rows_and_renders_previews(resources, warehouse):
    result = run(ALL, resources)
    meta = result.asset_materializations_for_node("gold__sales_by_shop")[0].metadata
    assert meta["dagster/row_count"].value == 3
    assert "total" in meta["top"].value and "shop" in meta["preview"].value
    partials = result.asset_materializations_for_node("gold__sales_partials")[0].metadata
    assert partials["rows_written"].value == warehouse.row_count("gold", "sales_partials")


def test_a_query_must_return_the_declared_columns(warehouse):
    with pytest.raises(WarehouseError, match="returns"):
        warehouse.write_query("gold", "t", "SELECT 1 AS a, 2 AS b", {"a": "Int64"})
    with pytest.raises(WarehouseError, match="partitions"):
        warehouse.write_query("gold", "t", "SELECT 1 AS a WHERE 1 IN {partitions}", {"a": "Int64"})
    assert not warehouse.table_exists("gold", "t")


def test_a_partitioned_query_with_another_shape_is_refused_and_the_table_kept(warehouse):
    sql = "SELECT ? AS a, '2026-01-01' AS _partition WHERE '2026-01-01' IN {partitions}"
    warehouse.write_query("gold", "p", sql.replace("?", "1"), {"a": "Int64"}, ["2026-01-01"])
    with pytest.raises(SchemaMismatchError):
        warehouse.write_query("gold", "p", sql.replace("?", "'x'"), {"a": "str"}, ["2026-01-01"])
    assert warehouse.read("gold", "p")["a"].tolist() == [1]


def test_a_failing_query_leaves_the_previous_rows(warehouse):
    warehouse.write_query("gold", "t", "SELECT 1 AS a", {"a": "Int64"})
    big = 2**62
    with pytest.raises(Exception, match="overflow"):
        warehouse.write_query(
            "gold", "t", f"SELECT sum(x) AS a FROM (SELECT {big} AS x UNION ALL SELECT {big})",
            {"a": "Int64"},
        )  # fmt: skip
    assert warehouse.read("gold", "t")["a"].tolist() == [1]


def test_a_stream_must_cover_the_run_exactly(resources, warehouse):
    @dg.asset(key=["silver", "bad"], partitions_def=days)
    def skips(context: dg.AssetExecutionContext) -> PartitionChunks:
        keys = list(context.partition_keys)
        return PartitionChunks(PartitionChunk([k], sales_frame([k])) for k in keys[:-1])

    @dg.asset(key=["silver", "bad"], partitions_def=days)
    def strays() -> PartitionChunks:
        return PartitionChunks([PartitionChunk(["2026-01-07"], sales_frame(["2026-01-07"]))])

    for asset, message in ((skips, "unwritten"), (strays, "outside")):
        result = run([asset], resources, first=KEYS[0], last=KEYS[2], raise_on_error=False)
        assert not result.success
        error = result.failure_data_for_node("silver__bad").error
        assert message in str(error.cause or error), error


def test_a_lazy_input_reads_whole_partitions_in_chunks(resources, warehouse):
    assert run([sales], resources).success
    assert run([chunk_sizes, sales], resources, selection=[chunk_sizes]).success
    chunks = warehouse.read("gold", "chunk_sizes").drop_duplicates("first")
    # days have 1..7 rows: at most 7 rows a chunk, whole days, every day once
    assert chunks["rows"].tolist() == [6, 4, 5, 6, 7] and chunks["days"].sum() == len(KEYS)


def test_group_partitions():
    assert group_partitions({"a": 3, "b": 3, "c": 0, "d": 9, "e": 1}, 6) == [
        ["a", "b", "c"],
        ["d"],
        ["e"],
    ]
    assert group_partitions({}, 5) == []


# --- incremental maintenance: the faults a hostile review found, kept as tests -----------------

PARTIALS = (
    "SELECT shop, count(*) AS n, sum(amount) AS total, _partition FROM silver.sales "
    "WHERE _partition IN {partitions} GROUP BY _partition, shop"
)
BY_SHOP = "SELECT shop, sum(n) AS n, sum(total) AS total FROM {source} GROUP BY shop"
PARTIAL_DTYPES = {"shop": "str", "n": "Int64", "total": "Int64"}


def load_sales(warehouse, rows: list[tuple[str, int, str]], day: str) -> None:
    df = pd.DataFrame(rows, columns=["shop", "amount", "_partition"]).astype(
        {"shop": "str", "amount": "int64", "_partition": "str"}
    )
    warehouse.write("silver", "sales", df, [day])


def refresh(warehouse, days, partials_sql=PARTIALS, key=("shop",), by_shop_sql=BY_SHOP):
    warehouse.write_query(
        "gold", "sales_partials", partials_sql, PARTIAL_DTYPES, days, changes_key=key
    )
    warehouse.write_query(
        "gold", "sales_by_shop", by_shop_sql, PARTIAL_DTYPES, incremental_from="gold.sales_partials"
    )


def by_shop(warehouse) -> list:
    return sorted(warehouse.query("SELECT shop, n, total FROM gold.sales_by_shop").values.tolist())


def test_a_partials_table_rebuilt_from_scratch_rebuilds_its_consumers_whole(warehouse):
    load_sales(warehouse, [("a", 1, "2026-01-01"), ("b", 2, "2026-01-01")], "2026-01-01")
    load_sales(warehouse, [("a", 3, "2026-01-02")], "2026-01-02")
    refresh(warehouse, ["2026-01-01", "2026-01-02"])
    load_sales(warehouse, [("a", 1, "2026-01-01")], "2026-01-01")  # shop b vanished
    with warehouse.connect("gold") as conn:  # e.g. dropped to change its dtypes
        conn.execute("DROP TABLE sales_partials")
        conn.execute("DELETE FROM _medallion_columns WHERE table_name = 'sales_partials'")
    refresh(warehouse, ["2026-01-01", "2026-01-02"])
    assert by_shop(warehouse) == [["a", 2, 4]]


def test_other_change_keys_rebuild_the_consumers_whole(warehouse):
    load_sales(warehouse, [("a", 1, "2026-01-01"), ("b", 2, "2026-01-01")], "2026-01-01")
    refresh(warehouse, ["2026-01-01"])
    load_sales(warehouse, [("a", 5, "2026-01-01")], "2026-01-01")
    refresh(warehouse, ["2026-01-01"], key=("shop", "n"))
    assert by_shop(warehouse) == [["a", 1, 5]]
    assert warehouse.query("SELECT * FROM gold.sales_partials__delta").empty


def test_a_changed_definition_rebuilds_the_table_whole(warehouse):
    load_sales(warehouse, [("a", 1, "2026-01-01")], "2026-01-01")
    load_sales(warehouse, [("b", 2, "2026-01-02")], "2026-01-02")
    refresh(warehouse, ["2026-01-01", "2026-01-02"])
    doubled = BY_SHOP.replace("sum(total)", "2 * sum(total)")
    refresh(warehouse, ["2026-01-02"], by_shop_sql=doubled)  # only b's day changed
    assert by_shop(warehouse) == [["a", 1, 2], ["b", 1, 4]]


def test_a_null_change_key_is_refused_and_nothing_changes(warehouse):
    load_sales(warehouse, [("a", 1, "2026-01-01")], "2026-01-01")
    refresh(warehouse, ["2026-01-01"])
    nullable = PARTIALS.replace("SELECT shop,", "SELECT nullif(shop, 'a') AS shop,")
    with pytest.raises(WarehouseError, match="NULL in a changes_key"):
        refresh(warehouse, ["2026-01-01"], partials_sql=nullable)
    assert by_shop(warehouse) == [["a", 1, 1]]


def test_a_lazy_input_of_a_missing_table_says_so(warehouse):
    from medallion_dagster.warehouse import TableNotFoundError

    with pytest.raises(TableNotFoundError, match="not been materialized"):
        list(PartitionedTable(warehouse, "silver", "nothing", ["2026-01-01"]).chunks())
