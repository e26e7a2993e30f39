import sqlite3
from datetime import date

import pandas as pd
import pytest

from medallion_dagster.warehouse import (
    SchemaMismatchError,
    TableNotFoundError,
    WarehouseError,
)


def sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ts": pd.to_datetime(["2024-03-05 14:07:00+00:00", None], utc=True),
            "naive": pd.to_datetime(["2024-03-05 14:07:00.123456789", None]),
            "day": [date(2024, 1, 2), None],
            "maybe": pd.array([17, None], dtype="Int64"),
            "count": [1, 2],
            "flag": [True, False],
            "text": ["héllo \"q\" 'x' 🎉", None],
            "ratio": [1.5, None],
            "order": ["a", "b"],
            "with space": pd.array(["x", None], dtype="string"),
            "amount_minor": pd.array([10**17 + 1, 1], dtype="Int64"),
        }
    )


def test_round_trip_keeps_values_and_dtypes(warehouse):
    df = sample()
    warehouse.write("silver", "t", df)
    pd.testing.assert_frame_equal(warehouse.read("silver", "t"), df)


def test_round_trip_in_another_process_uses_the_recorded_schema(warehouse):
    warehouse.write("silver", "t", sample())
    with sqlite3.connect(warehouse.layer_file("silver")) as conn:
        registry = dict(
            conn.execute(
                "SELECT column_name, dtype FROM _medallion_columns WHERE table_name='t'"
            ).fetchall()
        )
        ts = conn.execute("SELECT ts FROM t ORDER BY rowid LIMIT 1").fetchone()[0]
    assert registry["maybe"] == "Int64" and registry["ts"] == "datetime64[us, UTC]"
    assert ts == "2024-03-05T14:07:00.000000Z"  # readable ISO-8601 UTC in the sqlite3 shell


def test_empty_frame_keeps_schema(warehouse):
    empty = sample().iloc[0:0]
    warehouse.write("gold", "empty", empty)
    out = warehouse.read("gold", "empty")
    assert list(out.columns) == list(empty.columns) and len(out) == 0
    assert dict(out.dtypes.astype(str)) == dict(empty.dtypes.astype(str))


def test_partition_write_replaces_only_its_rows(warehouse):
    a = pd.DataFrame({"x": [1, 2]})
    b = pd.DataFrame({"x": [3]})
    warehouse.write("bronze", "p", a, ["2026-01-01"])
    warehouse.write("bronze", "p", b, ["2026-01-02"])
    for _ in range(3):
        warehouse.write("bronze", "p", pd.DataFrame({"x": [5, 6, 7]}), ["2026-01-01"])
    assert warehouse.read("bronze", "p", ["2026-01-01"])["x"].tolist() == [5, 6, 7]
    assert warehouse.read("bronze", "p", ["2026-01-02"])["x"].tolist() == [3]
    assert len(warehouse.read("bronze", "p")) == 4


def test_multi_partition_write_needs_partition_column(warehouse):
    df = pd.DataFrame({"x": [1, 2], "_partition": ["2026-01-01", "2026-01-02"]})
    warehouse.write("bronze", "r", df, ["2026-01-01", "2026-01-02"])
    assert warehouse.read("bronze", "r", ["2026-01-02"])["x"].tolist() == [2]
    with pytest.raises(WarehouseError, match="needs a _partition column"):
        warehouse.write("bronze", "r", pd.DataFrame({"x": [1]}), ["2026-01-01", "2026-01-02"])
    with pytest.raises(WarehouseError, match="outside the partitions"):
        warehouse.write("bronze", "r", df, ["2026-01-01"])


def test_failure_between_delete_and_insert_keeps_previous_rows(warehouse):
    warehouse.write("silver", "u", pd.DataFrame({"x": [1, 2]}), ["2026-01-01"])
    with warehouse.connect("silver") as conn:  # a constraint the insert will break
        conn.execute(
            "CREATE TRIGGER no_nines BEFORE INSERT ON u WHEN NEW.x = 9 "
            "BEGIN SELECT RAISE(ABORT, 'nine'); END"
        )
    with pytest.raises(Exception, match="nine"):  # the driver's error, passed through
        warehouse.write("silver", "u", pd.DataFrame({"x": [8, 9]}), ["2026-01-01"])
    assert warehouse.read("silver", "u")["x"].tolist() == [1, 2]


def test_new_column_is_added_with_nulls_for_old_rows(warehouse):
    warehouse.write("silver", "e", pd.DataFrame({"a": [1]}), ["2026-01-01"])
    warehouse.write("silver", "e", pd.DataFrame({"a": [2], "b": ["new"]}), ["2026-01-02"])
    out = warehouse.read("silver", "e")
    assert out["b"].isna().tolist() == [True, False]


def test_incompatible_dtype_change_fails_and_leaves_table(warehouse):
    warehouse.write("silver", "m", pd.DataFrame({"a": [1, 2]}), ["2026-01-01"])
    with pytest.raises(SchemaMismatchError, match=r"silver\.m: column 'a' is stored as int64"):
        warehouse.write("silver", "m", pd.DataFrame({"a": ["x"]}), ["2026-01-01"])
    assert warehouse.read("silver", "m")["a"].tolist() == [1, 2]


def test_all_null_column_for_a_day_is_accepted(warehouse):
    warehouse.write("silver", "n", pd.DataFrame({"a": pd.array([1], dtype="Int64")}), ["d1"])
    warehouse.write("silver", "n", pd.DataFrame({"a": [None]}, dtype=object), ["d2"])
    out = warehouse.read("silver", "n")
    assert str(out["a"].dtype) == "Int64" and out["a"].isna().tolist() == [False, True]


def test_hostile_identifiers_are_quoted(warehouse):
    df = pd.DataFrame({'we"ird': [1], "group": [2], "drop table x; --": [3]})
    warehouse.write("gold", 'tab"le; drop', df)
    pd.testing.assert_frame_equal(warehouse.read("gold", 'tab"le; drop'), df)


def test_missing_table_is_a_clear_error(warehouse):
    with pytest.raises(TableNotFoundError, match=r"silver\.nope has not been materialized"):
        warehouse.read("silver", "nope")


def test_unknown_layer_is_rejected(warehouse):
    with pytest.raises(WarehouseError, match="unknown layer"):
        warehouse.write("platinum", "t", pd.DataFrame({"a": [1]}))


def test_layers_are_attached_for_cross_layer_sql(warehouse):
    warehouse.write("bronze", "a", pd.DataFrame({"k": [1, 2]}))
    warehouse.write("gold", "b", pd.DataFrame({"k": [2, 3]}))
    out = warehouse.query("SELECT a.k FROM bronze.a JOIN gold.b USING (k)")
    assert out["k"].tolist() == [2]


def test_a_table_first_written_empty_takes_the_types_of_later_rows(warehouse):
    empty = pd.DataFrame({"day": pd.Series([], dtype=object), "n": pd.array([], dtype="Int64")})
    warehouse.write("gold", "g", empty)
    assert warehouse.columns("gold", "g")["day"] == "null"
    typed = pd.DataFrame({"day": [date(2026, 1, 2)], "n": pd.array([5], dtype="Int64")})
    warehouse.write("gold", "g", typed)
    pd.testing.assert_frame_equal(warehouse.read("gold", "g"), typed)


def test_loading_a_partition_uses_the_partition_index_not_a_table_scan(warehouse):
    warehouse.write("silver", "big", pd.DataFrame({"x": range(1000)}), ["2026-01-01"])
    warehouse.write("silver", "big", pd.DataFrame({"x": range(5)}), ["2026-01-02"])
    from medallion_dagster.warehouse import IN_PARTITIONS

    with warehouse.connect("silver") as conn:
        plan = conn.execute(
            f'EXPLAIN QUERY PLAN SELECT "x" FROM "big" WHERE {IN_PARTITIONS}', ('["2026-01-02"]',)
        ).fetchall()
    assert "USING INDEX big__idx___partition" in " ".join(str(row) for row in plan)
    assert warehouse.read("silver", "big", ["2026-01-02"])["x"].tolist() == list(range(5))


# --- regressions found by adversarial review ------------------------------------------------------


def test_a_filtered_frame_keeps_its_partition_on_every_row(warehouse):
    df = pd.DataFrame({"a": [1, 2, 3, 4]})
    for _ in range(2):
        warehouse.write("silver", "f", df[df.a > 2], ["2024-01-01"])  # index [2, 3]
    out = warehouse.read("silver", "f")
    assert out["a"].tolist() == [3, 4] and out["_partition"].tolist() == ["2024-01-01"] * 2


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_every_timestamp_unit_round_trips(warehouse, unit):
    s = pd.Series(pd.to_datetime(["2024-03-05 14:07:05", None])).astype(f"datetime64[{unit}]")
    df = pd.DataFrame({"naive": s, "aware": s.dt.tz_localize("UTC")})
    warehouse.write("silver", f"t_{unit}", df)
    pd.testing.assert_frame_equal(warehouse.read("silver", f"t_{unit}"), df)


def test_zones_without_an_iana_name_are_stored_as_utc_instants(warehouse):
    from dateutil import tz

    aware = pd.Series([pd.Timestamp("2024-07-01 12:00", tz=tz.tzoffset(None, 19800))])
    warehouse.write("silver", "z", pd.DataFrame({"t": aware}))
    out = warehouse.read("silver", "z")["t"]
    assert str(out.dtype).endswith("UTC]") and out[0] == aware[0]  # the same instant


def test_unit_changes_between_partitions_stay_readable(warehouse):
    ns = pd.Series(pd.to_datetime(["2024-01-01 00:00:00.123456789"]), dtype="datetime64[ns]")
    warehouse.write("silver", "u", pd.DataFrame({"t": ns.dt.tz_localize("UTC")}), ["d1"])
    us = pd.Series(pd.to_datetime(["2024-01-02 00:00:00.5"]), dtype="datetime64[us]")
    warehouse.write("silver", "u", pd.DataFrame({"t": us.dt.tz_localize("UTC")}), ["d2"])
    out = warehouse.read("silver", "u")["t"]
    assert str(out.dtype) == "datetime64[ns, UTC]"  # the finer unit is kept
    assert out[0].nanosecond == 789 and out[1].microsecond == 500000


def test_timestamps_outside_years_1_to_9999_are_refused(warehouse):
    from datetime import datetime

    far = pd.Series([pd.Timestamp(datetime(9999, 12, 31)) + pd.Timedelta(days=2)]).astype(
        "datetime64[s]"
    )
    with pytest.raises(WarehouseError, match=r"years 1\.\.9999"):
        warehouse.write("silver", "far", pd.DataFrame({"t": far}))


def test_a_narrower_dtype_never_corrupts_stored_values(warehouse):
    import numpy as np

    warehouse.write("silver", "n", pd.DataFrame({"a": [100000], "f": [100000.5]}), ["d1"])
    narrow = pd.DataFrame({"a": np.array([1], dtype="int8"), "f": np.array([1.5], "float16")})
    warehouse.write("silver", "n", narrow, ["d2"])
    out = warehouse.read("silver", "n")
    assert out["a"].tolist() == [100000, 1] and str(out["a"].dtype) == "int64"
    assert out["f"].tolist() == [100000.5, 1.5] and str(out["f"].dtype) == "float64"


@pytest.mark.parametrize(
    "empty_day",
    [
        pd.DataFrame({"a": [float("nan")]}),
        pd.DataFrame({"a": pd.Series([None], dtype="str")}),
        pd.DataFrame({"a": pd.Series([pd.NaT])}),
        pd.DataFrame({"a": pd.Series([], dtype="float64")}),
    ],
)
def test_a_day_with_no_values_in_a_column_is_accepted_whatever_its_dtype(warehouse, empty_day):
    warehouse.write("silver", "e", pd.DataFrame({"a": pd.array([1], dtype="Int64")}), ["d1"])
    warehouse.write("silver", "e", empty_day, ["d2"])
    out = warehouse.read("silver", "e")
    assert str(out["a"].dtype) == "Int64" and out["a"].tolist()[0] == 1


def test_an_unpartitioned_write_replaces_the_schema_too(warehouse):
    warehouse.write("gold", "r", pd.DataFrame({"a": [1], "b": [2]}))
    warehouse.write("gold", "r", pd.DataFrame({"b": ["x"], "a": [3]}))
    out = warehouse.read("gold", "r")
    assert list(out.columns) == ["b", "a"] and out.iloc[0].tolist() == ["x", 3]


@pytest.mark.parametrize(
    ("frame", "table", "message"),
    [
        (pd.DataFrame({"A": [1], "a": [2]}), "t", "differ only in case"),
        (pd.DataFrame(), "t", "at least one column"),
        (pd.DataFrame({"a": [1]}), "sqlite_x", "reserved"),
        (pd.DataFrame({"a": [1]}), "_medallion_columns", "reserved"),
    ],
)
def test_unusable_names_are_clear_errors(warehouse, frame, table, message):
    with pytest.raises(WarehouseError, match=message):
        warehouse.write("silver", table, frame)


def test_tables_differing_only_in_case_are_refused(warehouse):
    warehouse.write("silver", "Foo", pd.DataFrame({"a": [1]}))
    with pytest.raises(WarehouseError, match="case-insensitive"):
        warehouse.write("silver", "foo", pd.DataFrame({"a": [2]}))
    assert warehouse.read("silver", "Foo")["a"].tolist() == [1]


def test_index_on_a_missing_column_is_refused(warehouse):
    with pytest.raises(WarehouseError, match="cannot index missing column"):
        warehouse.write("silver", "i", pd.DataFrame({"amount": [1]}), indexes=["amuont"])


def test_non_string_column_labels_and_thousands_of_partitions(warehouse):
    warehouse.write("silver", "labels", pd.DataFrame({0: [1], 1: ["x"]}))
    warehouse.write("silver", "labels", pd.DataFrame({0: [2], 1: ["y"]}))
    assert list(warehouse.read("silver", "labels").columns) == ["0", "1"]
    keys = [f"k{i:05d}" for i in range(40_000)]  # more than SQLite's 32,766 bound parameters
    warehouse.write("silver", "many", pd.DataFrame({"x": [1], "_partition": ["k00001"]}), keys)
    assert len(warehouse.read("silver", "many", keys)) == 1


def test_a_table_whose_partitioning_changed_is_refused_with_the_way_out(warehouse):
    """An upgrade that turns an unpartitioned table into a partitioned one (silver's customer
    quarantine did) meets the old table: a clear error naming the rebuild, the old rows kept."""
    old = pd.DataFrame({"rule": ["x"], "_batch_date": ["2026-03-01"]})
    warehouse.write("silver", "q", old)
    new = pd.DataFrame({"rule": ["y"]})
    with pytest.raises(
        WarehouseError, match=r"not partitioned; this write is partitioned.*rebuild"
    ):
        warehouse.write("silver", "q", new, ["2026-03-02"])
    assert warehouse.read("silver", "q")["rule"].tolist() == ["x"]
    # the same for a table computed in SQL (gold's)
    warehouse.write_query("gold", "g", "SELECT 1 AS v", {"v": "Int64"})
    with pytest.raises(
        WarehouseError, match=r"not partitioned; this write is partitioned.*rebuild"
    ):
        warehouse.write_query("gold", "g", "SELECT 2 AS v, '2026-03-02' AS _partition",
                              {"v": "Int64"}, ["2026-03-02"])  # fmt: skip
    assert warehouse.read("gold", "g")["v"].tolist() == [1]
