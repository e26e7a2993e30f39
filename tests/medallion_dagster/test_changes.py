"""Change logs and merges (medallion_dagster/changes.py): a table maintained from its source's
changes equals the same query run over the whole source, after any sequence of writes, on both
backends; several consumers each see every change once; what cannot be trusted is rebuilt whole.
"""

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medallion_dagster.changes import Merge
from medallion_dagster.warehouse import Warehouse, WarehouseError
from medallion_dagster.warehouse_duckdb import DuckDBWarehouse

BACKENDS = {"sqlite": Warehouse, "duckdb": DuckDBWarehouse}
DAYS = ["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]
SOURCE_DTYPES = {"k": "str", "n": "int64", "v": "int64", "lo": "str", "hi": "str", "d": "str"}

#: consumers of silver.src: sums/min/max, the latest row per key, and recompute-only
TOTALS = "SELECT k, sum(n) AS n, sum(v) AS v, min(lo) AS lo, max(hi) AS hi FROM {source} GROUP BY k"
TOTALS_DTYPES = {"k": "str", "n": "Int64", "v": "Int64", "lo": "str", "hi": "str"}
TOTALS_MERGE = Merge(keys=("k",), sums=("n", "v"), mins=("lo",), maxs=("hi",), count="n")
LATEST = (
    "SELECT k, hi, d, v FROM (SELECT *, row_number() OVER (PARTITION BY k ORDER BY hi DESC "
    "NULLS LAST, d DESC NULLS LAST, v DESC NULLS LAST) AS r FROM {source}) AS x WHERE r = 1"
)
LATEST_DTYPES = {"k": "str", "hi": "str", "d": "str", "v": "Int64"}
#: a total order of the rows (rows tied on all of it are identical): ties go either way
LATEST_MERGE = Merge(keys=("k",), latest=("hi", "d", "v"))
ROWS = "SELECT k, count(*) AS rows_ FROM {source} GROUP BY k"
ROWS_DTYPES = {"k": "str", "rows_": "Int64"}
CONSUMERS = {
    "totals": (TOTALS, TOTALS_DTYPES, TOTALS_MERGE),
    "latest": (LATEST, LATEST_DTYPES, LATEST_MERGE),
    "rows": (ROWS, ROWS_DTYPES, Merge(keys=("k",))),
}


def make(backend: str, path) -> Warehouse:
    return BACKENDS[backend](path=str(path / backend))


def source_frame(day: str, rows: list[tuple[str, int, int, str]]) -> pd.DataFrame:
    """Rows (key, count >= 1, value, time) of one day; `hi` = `lo` = time, `d` = the day."""
    df = pd.DataFrame(
        [(k, n, v, t, t, day, day) for k, n, v, t in rows],
        columns=[*SOURCE_DTYPES, "_partition"],
    )
    return df.astype({**SOURCE_DTYPES, "_partition": "str"})


def write_day(wh: Warehouse, day: str, rows) -> None:
    wh.write("silver", "src", source_frame(day, rows), [day], changes_key=("k",))


def refresh(wh: Warehouse, name: str, layer: str = "gold") -> None:
    sql, dtypes, merge = CONSUMERS[name]
    wh.write_query(layer, name, sql, dtypes, incremental_from="silver.src", merge=merge)


def stored(wh: Warehouse, name: str, layer: str = "gold") -> list:
    return sorted(
        wh.read(layer, name).astype(object).where(lambda d: d.notna(), None).values.tolist()
    )


def whole(wh: Warehouse, name: str) -> list:
    """The consumer's query over the whole source, computed apart (a fresh table)."""
    sql, dtypes, _ = CONSUMERS[name]
    wh.write_query("gold", f"whole_{name}", sql.replace("{source}", "silver.src"), dtypes)
    return stored(wh, f"whole_{name}")


def log_rows(wh: Warehouse) -> int:
    return int(wh.query("SELECT count(*) AS n FROM silver.src__delta")["n"][0])


row = st.tuples(
    st.sampled_from(["a", "b", "c", "d"]),
    st.integers(1, 3),
    st.integers(-5, 5),
    st.sampled_from(["t1", "t2", "t3", "t4", "t5"]),
)
step = st.one_of(
    st.tuples(st.just("write"), st.sampled_from(DAYS), st.lists(row, max_size=4)),
    st.tuples(st.just("refresh"), st.sampled_from(sorted(CONSUMERS)), st.none()),
)


@pytest.mark.parametrize(("backend", "examples"), [("sqlite", 60), ("duckdb", 8)])
def test_merged_tables_equal_a_whole_recomputation_after_any_writes(
    backend, examples, tmp_path_factory
):
    """Random writes (days replaced, keys vanishing, extremes moving, ties) with the consumers
    refreshed now and then: after every refresh, each equals its query over the whole source."""

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
        derandomize=True,
    )
    @given(steps=st.lists(step, min_size=1, max_size=12))
    def check(steps):
        wh = make(backend, tmp_path_factory.mktemp("wh"))
        write_day(wh, DAYS[0], [("a", 1, 1, "t3")])
        for name in CONSUMERS:
            refresh(wh, name)
        for kind, arg, rows in steps:
            if kind == "write":
                write_day(wh, arg, rows)
            else:
                refresh(wh, arg)
                assert stored(wh, arg) == whole(wh, arg), (arg, steps)
        for name in CONSUMERS:
            refresh(wh, name)
            assert stored(wh, name) == whole(wh, name), (name, steps)
        assert log_rows(wh) == 0  # every consumer absorbed everything: the log is pruned

    check()


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_new_day_is_merged_without_reading_the_source(backend, tmp_path):
    """The merge reads only the log and the consumer's own rows: with the source's old rows
    made unreadable by the merge (a vanished key would need them), the totals are still right."""
    wh = make(backend, tmp_path)
    write_day(wh, DAYS[0], [("a", 1, 5, "t2"), ("b", 2, 1, "t3")])
    refresh(wh, "totals")
    write_day(wh, DAYS[1], [("a", 1, 7, "t1"), ("c", 1, 1, "t5")])
    with wh.connect("silver") as conn:  # corrupt history: a merge that re-read it would show it
        conn.execute("UPDATE src SET v = 1000 WHERE _partition = ?", (DAYS[0],))
    refresh(wh, "totals")
    assert stored(wh, "totals") == [
        ["a", 2, 12, "t1", "t2"],
        ["b", 2, 1, "t3", "t3"],
        ["c", 1, 1, "t5", "t5"],
    ]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_each_consumer_in_any_layer_sees_every_change_once(backend, tmp_path):
    wh = make(backend, tmp_path)
    write_day(wh, DAYS[0], [("a", 1, 1, "t1")])
    refresh(wh, "totals")
    refresh(wh, "totals", layer="silver")  # a second consumer, in the source's layer
    write_day(wh, DAYS[1], [("a", 1, 2, "t2")])
    refresh(wh, "totals")
    assert log_rows(wh) == 1  # the silver consumer has not absorbed it yet: kept for it
    write_day(wh, DAYS[1], [("a", 1, 4, "t2")])
    refresh(wh, "totals", layer="silver")
    refresh(wh, "totals")
    for layer in ("gold", "silver"):
        assert stored(wh, "totals", layer) == [["a", 2, 5, "t1", "t2"]]
    assert log_rows(wh) == 0


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_log_that_started_over_rebuilds_its_consumers_whole(backend, tmp_path):
    wh = make(backend, tmp_path)
    write_day(wh, DAYS[0], [("a", 1, 1, "t1"), ("b", 1, 1, "t1")])
    write_day(wh, DAYS[1], [("a", 1, 2, "t2")])
    refresh(wh, "totals")
    with wh.connect("silver") as conn:  # the source dropped (e.g. to change a dtype) and rebuilt
        conn.execute("DROP TABLE src")
        conn.execute("DELETE FROM _medallion_columns WHERE table_name = 'src'")
    write_day(wh, DAYS[0], [("a", 1, 1, "t1")])  # b is gone; day 2 is not written again
    refresh(wh, "totals")
    assert stored(wh, "totals") == [["a", 1, 1, "t1", "t1"]]
    # a new column: the log cannot hold old and new rows alike, so it starts over too
    wide = source_frame(DAYS[1], [("c", 1, 3, "t3")]).assign(extra="x")
    wh.write("silver", "src", wide, [DAYS[1]], changes_key=("k",))
    refresh(wh, "totals")
    assert stored(wh, "totals") == whole(wh, "totals")


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_changed_definition_or_merge_rebuilds_whole(backend, tmp_path):
    wh = make(backend, tmp_path)
    write_day(wh, DAYS[0], [("a", 1, 1, "t1")])
    write_day(wh, DAYS[1], [("b", 1, 2, "t2")])
    refresh(wh, "totals")
    doubled = TOTALS.replace("sum(v) AS v", "2 * sum(v) AS v")
    write_day(wh, DAYS[1], [("b", 1, 2, "t2")])  # only b changed
    with pytest.raises(WarehouseError, match="exactly one of the roles"):
        wh.write_query(
            "gold", "totals", doubled, TOTALS_DTYPES, incremental_from="silver.src",
            merge=Merge(keys=("k",), sums=("n",), mins=("lo",), maxs=("hi",), count="n"),
        )  # fmt: skip
    wh.write_query(
        "gold", "totals", doubled, TOTALS_DTYPES, incremental_from="silver.src", merge=TOTALS_MERGE
    )
    assert [r[2] for r in stored(wh, "totals")] == [2, 4]  # a was recomputed too


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_merge_that_does_not_fit_is_refused_and_nothing_changes(backend, tmp_path):
    wh = make(backend, tmp_path)
    write_day(wh, DAYS[0], [("a", 1, 1, "t1")])
    refresh(wh, "totals")
    bad = {
        "are not the changes_key": Merge(
            keys=("lo",), sums=("n", "v"), mins=("k",), maxs=("hi",), count="n"
        ),
        "count must name one of the sums": Merge(
            keys=("k",), sums=("n", "v"), mins=("lo",), maxs=("hi",), count="v2"
        ),
        "exclusive": Merge(
            keys=("k",), sums=("n", "v"), mins=("lo",), maxs=("hi",), latest=("hi",)
        ),
    }
    for message, merge in bad.items():
        with pytest.raises(WarehouseError, match=message):
            wh.write_query(
                "gold", "totals", TOTALS, TOTALS_DTYPES, incremental_from="silver.src", merge=merge
            )
    with pytest.raises(WarehouseError, match="incremental_from needs"):
        wh.write_query("gold", "totals", TOTALS.replace("{source}", "silver.src"), TOTALS_DTYPES,
                       incremental_from="silver.src", merge=TOTALS_MERGE)  # fmt: skip
    assert stored(wh, "totals") == [["a", 1, 1, "t1", "t1"]]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_null_key_is_refused_and_the_partition_kept(backend, tmp_path):
    wh = make(backend, tmp_path)
    write_day(wh, DAYS[0], [("a", 1, 1, "t1")])
    nulls = source_frame(DAYS[0], [("a", 1, 1, "t1")]).assign(k=pd.Series([None], dtype="str"))
    with pytest.raises(WarehouseError, match="NULL in a changes_key"):
        wh.write("silver", "src", nulls, [DAYS[0]], changes_key=("k",))
    assert wh.read("silver", "src")["k"].tolist() == ["a"]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_sums_that_overflow_fail_the_merge_and_keep_the_table(backend, tmp_path):
    wh = make(backend, tmp_path)
    big = 2**62
    write_day(wh, DAYS[0], [("a", 1, big, "t1")])
    refresh(wh, "totals")
    write_day(wh, DAYS[1], [("a", 1, big, "t1")])
    with pytest.raises(Exception, match=r"(?i)overflow|out of range"):
        refresh(wh, "totals")
    assert stored(wh, "totals") == [["a", 1, big, "t1", "t1"]]


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("name", ["totals", "latest"])
def test_a_rerun_of_unchanged_data_recomputes_nothing(backend, name, tmp_path):
    """Re-running a day with the same rows replaces its extremes and latest rows by identical
    ones: the changes net out, so no key is recomputed from the source (made unreadable here
    by corrupting it: a recomputation would show it), while a real change still lands."""
    wh = make(backend, tmp_path)
    write_day(wh, DAYS[0], [("a", 1, 5, "t2"), ("b", 2, 1, "t3")])
    write_day(wh, DAYS[1], [("a", 1, 7, "t4")])
    refresh(wh, name)
    before = stored(wh, name, "gold")
    write_day(wh, DAYS[1], [("a", 1, 7, "t4")])  # the re-run: the same rows again
    with wh.connect("silver") as conn:
        conn.execute("UPDATE src SET v = 1000, hi = 'z9' WHERE _partition = ?", (DAYS[0],))
    refresh(wh, name)
    assert stored(wh, name) == before
    write_day(wh, DAYS[1], [("a", 1, 8, "t4")])  # a real change of the same day
    refresh(wh, name)
    assert stored(wh, name) != before
