import json
import shutil

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambda_src.contract import CURRENCY_EXPONENTS, AmountError, to_minor_units
from medallion_dagster.assets.bronze import bronze_frame
from medallion_dagster.assets.silver import (
    CUSTOMER_COLUMNS,
    current_customers,
    current_transaction_types,
    customer_updates,
    minor_units,
    silver_customers_current,
    split_transactions,
)
from medallion_dagster.landing_zone import LandingObject
from medallion_dagster.warehouse import Warehouse
from tests.conftest import TX_HEADER

T0 = pd.Timestamp("2026-03-01T12:00:00Z")


def bronze(entity: str, csv_text: str, partition="2026-03-01", key=None) -> pd.DataFrame:
    obj = LandingObject(key or f"{entity}/dt={partition}/f.csv", "etag", 0, T0)
    return bronze_frame(entity, [(obj, csv_text.encode())], partition, T0)


def test_valid_rows_are_typed_exactly(warehouse):
    silver, quarantine, _ = split_transactions(
        bronze(
            "transactions",
            TX_HEADER
            + "t1,C1,2026-03-01T10:00:00+02:00,12.30,usd,Purchase\n"
            + "t2,C1,2026-03-01 23:59:59,1500,JPY,refund\n"
            + "t3,C2,2026-02-27T00:00:00Z,0.125,KWD,transfer\n",
        ),
        warehouse,
    )
    assert quarantine.empty
    assert silver["amount_minor"].tolist() == [1230, 1500, 125]
    assert silver["revenue_minor"].tolist() == [1230, -1500, 0]
    assert silver["currency"].tolist() == ["USD", "JPY", "KWD"]
    assert silver["transaction_type"].tolist() == ["purchase", "refund", "transfer"]
    assert str(silver["occurred_at"].dtype) == "datetime64[us, UTC]"
    assert silver["occurred_at"][0] == pd.Timestamp("2026-03-01T08:00:00Z")  # converted to UTC
    assert silver["occurred_at"][1] == pd.Timestamp("2026-03-01T23:59:59Z")  # naive = UTC


def test_every_rule_quarantines_with_reason_file_and_line(warehouse):
    rows = [
        "ok,C1,2026-03-01T10:00:00Z,1.00,USD,purchase",
        ",C1,2026-03-01T10:00:00Z,1.00,USD,purchase",
        "a,,2026-03-01T10:00:00Z,1.00,USD,purchase",
        "b,C1,yesterday,1.00,USD,purchase",
        "c,C1,2026-03-01T10:00:00Z,-1.00,USD,purchase",
        "d,C1,2026-03-01T10:00:00Z,1.001,USD,purchase",
        "e,C1,2026-03-01T10:00:00Z,12,50,USD,purchase",
        "f,C1,2026-03-01T10:00:00Z,1.00,XTS,purchase",
        "g,C1,2026-03-01T10:00:00Z,1.00,USD,gift",
        "h,C1,2026-03-01T10:00:00Z,NaN,USD,purchase",
    ]
    silver, q, _ = split_transactions(
        bronze("transactions", TX_HEADER + "\n".join(rows) + "\n"), warehouse
    )
    assert silver["transaction_id"].tolist() == ["ok"]
    by_line = dict(zip(q["_line"], q["rule"], strict=True))
    assert by_line == {
        2: "transaction_id_missing",
        3: "customer_id_missing",
        4: "occurred_at_invalid",
        5: "amount_invalid",
        6: "amount_invalid",
        7: "unparseable_record",  # 7 fields where the header has 6
        8: "currency_not_allowed",
        9: "type_not_allowed",
        10: "amount_invalid",
    }
    assert set(q["_source_key"]) == {"transactions/dt=2026-03-01/f.csv"}
    assert json.loads(q.loc[q["_line"] == 5, "record"].item())["amount"] == "-1.00"
    assert "more decimals than USD" in q.loc[q["_line"] == 6, "detail"].item()
    assert q["quarantined_at"].notna().all() and set(q["_partition"]) == {"2026-03-01"}


def test_last_occurrence_in_a_batch_wins(warehouse):
    first = bronze(
        "transactions",
        TX_HEADER + "t1,C1,2026-03-01T10:00:00Z,1.00,USD,purchase\n",
        key="transactions/dt=2026-03-01/20260301T01-a.csv",
    )
    later = bronze(
        "transactions",
        TX_HEADER + "t1,C1,2026-03-01T10:00:00Z,2.00,USD,purchase\n",
        key="transactions/dt=2026-03-01/20260301T02-b.csv",
    )
    silver, q, stats = split_transactions(pd.concat([later, first], ignore_index=True), warehouse)
    assert silver["amount_minor"].tolist() == [200]
    assert q.empty and stats["superseded_in_batch"] == 1


def test_id_in_an_earlier_partition_is_a_duplicate(warehouse):
    day1 = bronze("transactions", TX_HEADER + "t1,C1,2026-03-01T10:00:00Z,1.00,USD,purchase\n")
    s1, _, _ = split_transactions(day1, warehouse)
    warehouse.write("silver", "transactions", s1, ["2026-03-01"])
    day2 = bronze(
        "transactions",
        TX_HEADER
        + "t1,C1,2026-03-02T10:00:00Z,1.00,USD,purchase\n"
        + "t2,C1,2026-03-02T10:00:00Z,1.00,USD,purchase\n",
        partition="2026-03-02",
    )
    s2, q2, stats = split_transactions(day2, warehouse)
    assert s2["transaction_id"].tolist() == ["t2"]
    assert q2["rule"].tolist() == ["duplicate_transaction_id"]
    assert "2026-03-01" in q2["detail"][0] and stats["duplicates_elsewhere"] == 1
    # re-running day 1 itself is not a duplicate of itself
    again, q1, _ = split_transactions(day1, warehouse)
    assert again["transaction_id"].tolist() == ["t1"] and q1.empty


def test_late_file_for_an_earlier_day_does_not_duplicate_a_later_days_id(warehouse):
    later = bronze(
        "transactions",
        TX_HEADER + "t1,C1,2026-03-05T10:00:00Z,1.00,USD,purchase\n",
        partition="2026-03-05",
    )
    s5, _, _ = split_transactions(later, warehouse)
    warehouse.write("silver", "transactions", s5, ["2026-03-05"])
    late = bronze(
        "transactions",
        TX_HEADER
        + "t1,C1,2026-03-01T10:00:00Z,1.00,USD,purchase\n"
        + "t0,C1,2026-03-01T10:00:00Z,3.00,USD,purchase\n",
    )
    s1, q1, _ = split_transactions(late, warehouse)
    assert s1["transaction_id"].tolist() == ["t0"]
    assert q1["rule"].tolist() == ["duplicate_transaction_id"]
    assert "2026-03-05" in q1["detail"][0]


def test_duplicates_across_partitions_in_one_run_keep_the_earliest(warehouse):
    both = pd.concat(
        [
            bronze(
                "transactions",
                TX_HEADER + "t1,C1,2026-03-02T10:00:00Z,1.00,USD,purchase\n",
                partition="2026-03-02",
            ),
            bronze("transactions", TX_HEADER + "t1,C1,2026-03-01T10:00:00Z,1.00,USD,purchase\n"),
        ],
        ignore_index=True,
    )
    silver, q, _ = split_transactions(both, warehouse)
    assert silver["_partition"].tolist() == ["2026-03-01"]
    assert q["_partition"].tolist() == ["2026-03-02"]


CUSTOMER_HEADER = "customer_id,name,email,location,created_at,updated_at\n"


def test_customers_latest_updated_at_wins():
    df = pd.concat(
        [
            bronze(
                "customers",
                CUSTOMER_HEADER + "C1,Ann,a@x.io,Oslo,2025-01-01T00:00:00Z,2026-03-02T00:00:00Z\n"
                "C2,Bob,bob-at-x,Rome,,2026-03-01T00:00:00Z\n"
                "C1,Ann,a@x.io,Bergen,2025-01-01T00:00:00Z,2026-03-01T00:00:00Z\n",
            ),
            bronze(
                "customers",
                CUSTOMER_HEADER + "C1,Ann,a@x.io,Bergen,2025-01-01T00:00:00Z,2026-03-01T00:00:00Z\n"
                ",Nobody,n@x.io,X,,2026-03-01T00:00:00Z\n",
                partition="2026-03-03",
            ),
        ],
        ignore_index=True,
    )
    updates, q = customer_updates(df)
    # one per customer and batch: within 03-01 the later updated_at wins over the later line
    assert updates[["_partition", "location"]].values.tolist() == [
        ["2026-03-01", "Oslo"],
        ["2026-03-03", "Bergen"],
    ]
    current = current_customers(updates)
    assert current["customer_id"].tolist() == ["C1"]
    assert current["location"].tolist() == ["Oslo"]  # later batch but older updated_at loses
    assert sorted(q["rule"]) == ["customer_id_missing", "email_invalid"]
    assert sorted(q["_partition"]) == ["2026-03-01", "2026-03-03"]


DAYS = ["2026-03-01", "2026-03-02", "2026-03-03"]
customer_record = st.tuples(
    st.sampled_from(["C1", "C2", "C3"]),
    st.sampled_from(["Oslo", "Rome", "Lima"]),
    st.sampled_from(["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"]),
    st.sampled_from(["a.csv", "b.csv"]),
)


def write_customer_batch(wh, day: str, records) -> pd.DataFrame:
    """Land `records` (customer, location, updated_at, file) as bronze files of `day`, then
    run what silver_customers and silver/customers do: the updates, and the merged current state."""
    files = {}
    for customer, location, updated, file in records:
        files.setdefault(file, []).append(f"{customer},N,n@x.io,{location},,{updated}")
    frames = [
        bronze(
            "customers", CUSTOMER_HEADER + "\n".join(lines) + "\n", day, f"customers/dt={day}/{f}"
        )
        for f, lines in sorted(files.items())
    ]
    empty = bronze("customers", CUSTOMER_HEADER, day)
    updates, _ = customer_updates(pd.concat(frames, ignore_index=True) if frames else empty)
    wh.write("silver", "customer_updates", updates, [day], changes_key=["customer_id"])
    asset = silver_customers_current.op.compute_fn.decorated_fn()
    wh.write_query(
        "silver",
        "customers",
        asset.sql,
        asset.dtypes,
        indexes=asset.indexes,
        incremental_from=asset.incremental_from,
        merge=asset.merge,
    )
    return updates


@pytest.mark.parametrize(("backend", "examples"), [("sqlite", 40), ("duckdb", 6)])
def test_current_customers_merged_in_the_warehouse_equal_the_latest_of_all_batches(
    backend, examples, tmp_path_factory
):
    """Batches landed and re-landed in any order (a re-run replaces its batch: the winning record
    may vanish, ties in updated_at go to the later batch, file, line): silver.customers after
    each run equals the pandas formulation over every batch's updates stored now."""
    from medallion_dagster.warehouse_duckdb import DuckDBWarehouse

    backends = {"sqlite": Warehouse, "duckdb": DuckDBWarehouse}

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
        derandomize=True,
    )
    @given(
        runs=st.lists(
            st.tuples(st.sampled_from(DAYS), st.lists(customer_record, max_size=4)),
            min_size=1,
            max_size=6,
        )
    )
    def check(runs):
        wh = backends[backend](path=str(tmp_path_factory.mktemp("wh")))
        latest_updates: dict[str, pd.DataFrame] = {}
        for day, records in runs:
            latest_updates[day] = write_customer_batch(wh, day, records)
            stored = pd.concat(latest_updates.values(), ignore_index=True)
            # the contract, spelled out apart from the code: latest updated_at, then the later
            # batch, file, line
            expected = (
                stored.sort_values(["updated_at", "_batch_date", "_source_key", "_line"])
                .drop_duplicates("customer_id", keep="last")
                .sort_values("customer_id")[list(CUSTOMER_COLUMNS)]
            )
            assert current_customers(stored).values.tolist() == expected.values.tolist()
            got = wh.read("silver", "customers").sort_values("customer_id")
            assert got.astype(str).values.tolist() == expected.astype(str).values.tolist(), runs

    check()


def test_transaction_types_reject_unknown_names():
    df = bronze("transaction_types", "type_id,type_name\n1,purchase\n2,Refund\n9,gift\n")
    types, q = current_transaction_types(df)
    assert types["type_name"].tolist() == ["purchase", "refund"]
    assert types["revenue_sign"].tolist() == [1, -1]
    assert q["rule"].tolist() == ["type_not_allowed"]


def test_hostile_values_are_quarantined_not_crashing(warehouse):
    rows = [
        "n1,C1,now,1.00,USD,purchase",  # a word pandas would turn into the clock's time
        "n2,C1,today,1.00,USD,purchase",
        "z1,C1,2026-03-01T10:00:00z,1.00,USD,purchase",  # lower-case z is valid ISO-8601
        "o1,C1,2026-03-01T10:00:00Z,1e400,USD,purchase",  # would overflow int64
        "o2,C1,2026-03-01T10:00:00Z,123456789012345678901234567890,JPY,purchase",
        "u1,C1,2026-03-01T10:00:00Z,1.00,u\u017fd,purchase",  # long s: upper() gives S
        "u2,C1,2026-03-01T10:00:00Z,1.00,usd,purchase",
    ]
    silver, q, _ = split_transactions(
        bronze("transactions", TX_HEADER + "\n".join(rows) + "\n"), warehouse
    )
    assert silver["transaction_id"].tolist() == ["z1", "u2"]
    assert dict(zip(q["_line"], q["rule"], strict=True)) == {
        1: "occurred_at_invalid",
        2: "occurred_at_invalid",
        4: "amount_invalid",
        5: "amount_invalid",
        6: "currency_not_allowed",
    }
    assert "exceeds the maximum" in q.loc[q["_line"] == 4, "detail"].item()


AMOUNT_TEXT = st.one_of(
    st.from_regex(r"\A[+-]?[0-9]{0,17}(\.[0-9]{0,5})?([eE][+-]?[0-9]{1,2})?\Z"),
    st.sampled_from(["", " 12.30 ", "0", "0.000", "NaN", "1e400", "١٢", "12,30", "1_000", "."]),
    st.text(max_size=8),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(AMOUNT_TEXT, st.sampled_from(sorted(CURRENCY_EXPONENTS))), max_size=30))
def test_vectorised_amounts_agree_with_the_contract_parser(rows):
    """The fast path gives the same minor units, and every amount it cannot take goes to the
    contract's parser with its exact error."""
    amount = pd.Series([a for a, _ in rows], dtype="str")
    currency = pd.Series([c for _, c in rows], dtype="str")
    minor, errors = minor_units(amount, currency, pd.Series(True, index=amount.index))
    for i, (a, c) in enumerate(rows):
        try:
            expected, error = to_minor_units(a, c), None
        except AmountError as e:
            expected, error = None, str(e)
        assert (None if pd.isna(minor[i]) else int(minor[i])) == expected, (a, c)
        assert (None if pd.isna(errors[i]) else errors[i]) == error, (a, c)


def test_rows_not_to_check_are_left_alone():
    amount = pd.Series(["12.34", "bad", "1"], dtype="str")
    currency = pd.Series(["USD", "USD", "JPY"], dtype="str")
    minor, errors = minor_units(amount, currency, pd.Series([False, False, True]))
    assert minor.isna().tolist() == [True, True, False] and minor[2] == 1
    assert errors.isna().all()


def _range_run(defs, instance, first: str, last: str) -> None:
    tags = {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }
    result = defs.resolve_job_def("medallion_daily").execute_in_process(
        instance=instance, tags=tags
    )
    assert result.success


def _snapshot(warehouse) -> dict[str, pd.DataFrame]:
    audit = ["_ingested_at", "quarantined_at", "_source_etag"]  # run- and copy-specific
    out = {}
    for layer, table in [
        ("silver", "transactions"),
        ("silver", "transactions_quarantine"),
        ("gold", "daily_revenue"),
        ("gold", "customer_summary"),
    ]:
        df = warehouse.read(layer, table)
        df = df.drop(columns=[c for c in audit if c in df.columns])
        out[table] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return out


def test_a_range_written_in_small_chunks_equals_one_chunk(
    tmp_path, landing_dir, instance, recent_days
):
    """Streaming: every partition its own chunk (chunk_rows=1) gives what one chunk gives, ids
    re-sent on other days included — in a first run, when the range runs again, and when an
    earlier day later receives an id a later day held (the earliest day keeps it)."""
    from lambda_src.handler import handler
    from medallion_dagster.definitions import build_definitions
    from medallion_dagster.landing_zone import LocalLandingZone
    from medallion_dagster.warehouse import Warehouse
    from tests.conftest import WIDE, put_local

    days = [d.isoformat() for d in recent_days]
    rows = [
        "x1,C1,{d}T01:00:00Z,1.00,USD,purchase\nx2,C1,{d}T02:00:00Z,2.00,USD,refund\n",
        "x2,C2,{d}T03:00:00Z,3.00,EUR,purchase\nx3,C2,{d}T04:00:00Z,4.00,EUR,purchase\n"
        "x4,C2,{d}T05:00:00Z,7.00,EUR,purchase\n",
        "x1,C3,{d}T05:00:00Z,5.00,GBP,purchase\nx3,C3,{d}T06:00:00Z,6.00,GBP,purchase\n",
    ]
    for i, day in enumerate(days):  # the Lambda writes to LANDING_DIR (the fixture's)
        handler({"batch_date": day, "batch_id": f"s{i}", "batch_size": 80, "dirty_rate": 0.1}, None)
        key = f"transactions/dt={day}/20260101T000000000000Z-x.csv"
        put_local(landing_dir, key, TX_HEADER + rows[i].format(d=day))
    snapshots = []
    for chunk_rows in (1, 1_000_000):
        landing = tmp_path / f"landing-{chunk_rows}"
        shutil.copytree(landing_dir, landing)
        warehouse = Warehouse(path=str(tmp_path / f"wh-{chunk_rows}"), chunk_rows=chunk_rows)
        defs = build_definitions(
            landing_zone=LocalLandingZone(root=str(landing)), warehouse=warehouse, discovery=WIDE
        )
        _range_run(defs, instance, days[0], days[-1])
        first = _snapshot(warehouse)
        _range_run(defs, instance, days[0], days[-1])
        for name, df in _snapshot(warehouse).items():
            pd.testing.assert_frame_equal(first[name], df)
        key = f"transactions/dt={days[0]}/20260101T010000000000Z-y.csv"
        put_local(landing, key, TX_HEADER + f"x4,C2,{days[0]}T05:00:00Z,7.00,EUR,purchase\n")
        _range_run(defs, instance, days[0], days[-1])
        snapshots.append(_snapshot(warehouse))
        held = warehouse.query(
            "SELECT transaction_id, _partition FROM silver.transactions "
            "WHERE transaction_id LIKE 'x_' ORDER BY 1"
        )
        assert held.values.tolist() == [
            ["x1", days[0]],
            ["x2", days[0]],
            ["x3", days[1]],
            ["x4", days[0]],
        ]
    for name in snapshots[0]:
        pd.testing.assert_frame_equal(snapshots[0][name], snapshots[1][name])


def test_a_range_that_fails_half_way_never_holds_an_id_twice(tmp_path, monkeypatch):
    """The first chunk's transaction empties the run's later partitions: when a later chunk
    fails, they are empty (re-run to fill them), never stale beside the new rows."""
    from datetime import UTC, datetime

    import dagster as dg

    from medallion_dagster.assets.bronze import bronze_assets
    from medallion_dagster.assets.silver import silver_transactions
    from medallion_dagster.io_manager import SQLiteIOManager
    from medallion_dagster.landing_zone import LandingObject, LocalLandingZone
    from medallion_dagster.warehouse import Warehouse

    d1, d2 = "2026-03-01", "2026-03-02"
    wh = Warehouse(path=str(tmp_path / "wh"), chunk_rows=1)  # one partition per chunk

    def land(day: str, csv: str) -> None:
        obj = LandingObject(f"transactions/dt={day}/a.csv", "e", 1, datetime.now(UTC))
        frame = bronze_frame("transactions", [(obj, csv.encode())], day, datetime.now(UTC))
        wh.write("bronze", "transactions", frame, [day])

    bronze_tx = next(a for a in bronze_assets if a.key.path[-1] == "transactions")
    resources = {
        "io_manager": SQLiteIOManager(warehouse=wh),
        "warehouse": wh,
        "landing_zone": LocalLandingZone(root=str(tmp_path / "landing")),
    }
    tags = {"dagster/asset_partition_range_start": d1, "dagster/asset_partition_range_end": d2}

    def run():
        return dg.materialize(
            [bronze_tx, silver_transactions],
            selection=[silver_transactions],
            resources=resources,
            tags=tags,
            raise_on_error=False,
        )

    land(d1, TX_HEADER + f"a,C1,{d1}T01:00:00Z,1.00,USD,purchase\n")
    land(d2, TX_HEADER + f"X,C1,{d2}T01:00:00Z,5.00,USD,purchase\n")
    assert run().success
    resent = f"X,C1,{d1}T01:00:00Z,5.00,USD,purchase\n"  # X re-sent on day 1: day 1 keeps it
    land(d1, TX_HEADER + f"a,C1,{d1}T01:00:00Z,1.00,USD,purchase\n" + resent)
    original, calls = Warehouse.write, []

    def second_chunk_fails(self, layer, table, *args, **kwargs):
        if (layer, table) == ("silver", "transactions"):
            calls.append(table)
            if len(calls) == 2:
                raise OSError("disk full (simulated)")
        return original(self, layer, table, *args, **kwargs)

    monkeypatch.setattr(Warehouse, "write", second_chunk_fails)
    assert not run().success
    held = wh.query("SELECT transaction_id, _partition FROM silver.transactions ORDER BY 1")
    assert held.values.tolist() == [["X", d1], ["a", d1]]  # day 2 empty, not stale
    monkeypatch.setattr(Warehouse, "write", original)
    assert run().success
    held = wh.query("SELECT transaction_id, _partition FROM silver.transactions ORDER BY 1")
    assert held.values.tolist() == [["X", d1], ["a", d1]]  # X is day 1's; day 2 has nothing
