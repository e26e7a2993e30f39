import dagster as dg
import pandas as pd
import pytest

from medallion_dagster.io_manager import SQLiteIOManager, markdown_preview, table_for
from medallion_dagster.warehouse import WarehouseError

days = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-08")


@dg.asset(key=["bronze", "numbers"], partitions_def=days)
def numbers(context: dg.AssetExecutionContext) -> pd.DataFrame:
    rows = [
        {"day": k, "n": i}
        for k in context.partition_keys
        for i in range(int(k[-2:]))  # day d has d rows
    ]
    df = pd.DataFrame(rows, columns=["day", "n"])
    return df.assign(_partition=df["day"])


@dg.asset(key=["gold", "total"], ins={"numbers": dg.AssetIn(key=["bronze", "numbers"])})
def total(numbers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"rows": [len(numbers)], "days": [numbers["day"].nunique()]})


@dg.asset(
    key=["silver", "window"],
    partitions_def=days,
    ins={
        "numbers": dg.AssetIn(
            key=["bronze", "numbers"],
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1),
        )
    },
)
def window(context: dg.AssetExecutionContext, numbers: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"seen_days": [",".join(sorted(set(numbers["day"])))]})


@pytest.fixture
def resources(warehouse):
    return {"io_manager": SQLiteIOManager(warehouse=warehouse)}


def test_partitions_written_and_loaded_by_dagster(resources, warehouse):
    for day in ("2026-01-02", "2026-01-03"):
        assert dg.materialize([numbers], partition_key=day, resources=resources).success
    result = dg.materialize(
        [numbers, window], partition_key="2026-01-03", resources=resources, selection=[window]
    )
    assert result.success
    assert warehouse.read("silver", "window")["seen_days"].tolist() == ["2026-01-02,2026-01-03"]


def test_range_run_and_unpartitioned_downstream_reads_all(resources, warehouse):
    result = dg.materialize(
        [numbers],
        resources=resources,
        tags={  # a single-run backfill of four partitions
            "dagster/asset_partition_range_start": "2026-01-01",
            "dagster/asset_partition_range_end": "2026-01-04",
        },
    )
    assert result.success
    assert len(warehouse.read("bronze", "numbers")) == 1 + 2 + 3 + 4
    assert dg.materialize([numbers, total], resources=resources, selection=[total]).success
    assert warehouse.read("gold", "total").iloc[0].tolist() == [10, 4]


def test_materialization_metadata(resources):
    result = dg.materialize([numbers], partition_key="2026-01-05", resources=resources)
    md = result.asset_materializations_for_node("bronze__numbers")[0].metadata
    assert md["dagster/partition_row_count"].value == 5
    assert md["dagster/row_count"].value == 5
    assert md["dagster/table_name"].value == "bronze.numbers"
    cols = [c.name for c in md["dagster/column_schema"].value.columns]
    assert cols == ["day", "n", "_partition"]
    assert "| day | n |" in md["preview"].value


def test_rematerializing_three_times_is_identical(resources, warehouse):
    snapshots = []
    for _ in range(3):
        dg.materialize([numbers], partition_key="2026-01-04", resources=resources)
        snapshots.append(warehouse.read("bronze", "numbers"))
    pd.testing.assert_frame_equal(snapshots[0], snapshots[2])


def test_table_names_come_from_the_key():
    assert table_for(dg.AssetKey(["gold", "daily_revenue"])) == ("gold", "daily_revenue")
    with pytest.raises(WarehouseError, match="must start with a layer"):
        table_for(dg.AssetKey(["daily_revenue"]))


def test_non_dataframe_output_is_a_clear_error(resources):
    @dg.asset(key=["gold", "oops"])
    def oops():
        return [1, 2]

    with pytest.raises(WarehouseError, match="returned list"):
        dg.materialize([oops], resources=resources)


def test_markdown_preview_escapes_pipes():
    md = markdown_preview(pd.DataFrame({"a": ["x|y", None]}))
    assert "x\\|y" in md and md.count("\n") == 3


def test_a_range_run_does_not_claim_the_range_count_per_partition(resources):
    result = dg.materialize(
        [numbers],
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": "2026-01-02",
            "dagster/asset_partition_range_end": "2026-01-03",
        },
    )
    for mat in result.asset_materializations_for_node("bronze__numbers"):
        assert "dagster/partition_row_count" not in mat.metadata
        assert mat.metadata["rows_written"].value == 2 + 3


def test_dynamic_partitions_downstream_loads_its_keys(resources, warehouse):
    fruits = dg.DynamicPartitionsDefinition(name="fruits")

    @dg.asset(key=["bronze", "fruit"], partitions_def=fruits)
    def fruit(context: dg.AssetExecutionContext) -> pd.DataFrame:
        return pd.DataFrame({"name": [context.partition_key]})

    @dg.asset(
        key=["silver", "fruit_copy"],
        partitions_def=fruits,
        ins={"fruit": dg.AssetIn(key=["bronze", "fruit"])},
    )
    def fruit_copy(fruit: pd.DataFrame) -> pd.DataFrame:
        return fruit.drop(columns="_partition")

    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("fruits", ["apple", "pear"])
        for key in ("apple", "pear"):
            assert dg.materialize(
                [fruit, fruit_copy], partition_key=key, resources=resources, instance=instance
            ).success
    assert sorted(warehouse.read("silver", "fruit_copy")["name"]) == ["apple", "pear"]


def test_markdown_preview_escapes_header_names():
    md = markdown_preview(pd.DataFrame({"a|b": [1]}))
    assert md.splitlines()[0] == "| a\\|b |"
