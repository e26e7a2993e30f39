from datetime import date

import pandas as pd

from medallion_dagster.assets.gold import build_customer_summary, build_daily_revenue
from medallion_dagster.assets.silver import TYPE_SIGNS


def silver(rows) -> pd.DataFrame:
    df = pd.DataFrame(
        rows,
        columns=[
            "transaction_id",
            "customer_id",
            "occurred_at",
            "amount_minor",
            "currency",
            "transaction_type",
        ],
    )
    df["occurred_at"] = pd.to_datetime(df["occurred_at"], utc=True)
    df["amount_minor"] = df["amount_minor"].astype("Int64")
    df["revenue_minor"] = df["amount_minor"] * df["transaction_type"].map(TYPE_SIGNS).astype(
        "Int64"
    )
    return df


TX = silver(
    [
        ("1", "C1", "2026-03-01T10:00:00Z", 1000, "USD", "purchase"),
        ("2", "C1", "2026-03-01T11:00:00Z", 501, "USD", "subscription"),
        ("3", "C1", "2026-03-02T09:00:00Z", 300, "USD", "refund"),
        ("4", "C1", "2026-03-02T09:30:00Z", 200, "USD", "chargeback"),
        ("5", "C1", "2026-03-02T23:59:59Z", 7000, "USD", "transfer"),
        ("6", "C1", "2026-03-01T00:00:00Z", 1500, "JPY", "purchase"),
        ("7", "C2", "2026-02-28T23:00:00Z", 1, "EUR", "purchase"),
        ("8", "C9", "2026-03-01T12:00:00Z", 2, "EUR", "purchase"),
    ]
)
CUSTOMERS = pd.DataFrame(
    {"customer_id": ["C1", "C2"], "name": ["Ann", "Bob"], "email": ["a@x.io", "b@x.io"]}
)


def test_customer_summary_per_customer_and_currency():
    out = build_customer_summary(TX, CUSTOMERS).set_index(["customer_id", "currency"])
    c1 = out.loc[("C1", "USD")]
    assert c1["transaction_count"] == 5
    assert c1["gross_revenue_minor"] == 1501  # purchase + subscription
    assert c1["refunded_minor"] == 500  # refund + chargeback
    assert c1["net_revenue_minor"] == 1001  # transfer is not revenue
    assert c1["avg_amount_minor"] == 1800  # (1000+501+300+200+7000)/5 = 1800.2 -> 1800
    assert c1["customer_name"] == "Ann"
    assert out.loc[("C1", "JPY"), "net_revenue_minor"] == 1500  # currencies never mixed
    assert pd.isna(out.loc[("C9", "EUR"), "customer_name"])  # unknown customer still counted
    assert str(out["net_revenue_minor"].dtype) == "Int64"


def test_average_rounds_half_up_exactly():
    tx = silver(
        [
            ("1", "C1", "2026-03-01T10:00:00Z", 1, "USD", "purchase"),
            ("2", "C1", "2026-03-01T10:00:00Z", 2, "USD", "purchase"),
        ]
    )
    assert build_customer_summary(tx, CUSTOMERS)["avg_amount_minor"].tolist() == [2]  # 1.5 -> 2


def test_daily_revenue_by_occurred_day_currency_type():
    out = build_daily_revenue(TX)
    keyed = {
        (r.occurred_date, r.currency, r.transaction_type): (
            r.transaction_count,
            r.amount_minor,
            r.revenue_minor,
        )
        for r in out.itertuples()
    }
    assert keyed[(date(2026, 3, 1), "USD", "purchase")] == (1, 1000, 1000)
    assert keyed[(date(2026, 3, 2), "USD", "refund")] == (1, 300, -300)
    assert keyed[(date(2026, 3, 2), "USD", "transfer")] == (1, 7000, 0)
    assert keyed[(date(2026, 2, 28), "EUR", "purchase")] == (1, 1, 1)  # late event, its own day
    assert out["transaction_count"].sum() == len(TX)
    assert out["revenue_minor"].sum() == TX["revenue_minor"].sum()


def test_sums_fail_loudly_instead_of_wrapping_around():
    import pytest

    big = 10**15
    tx = silver(
        [(str(i), "C1", "2026-03-01T10:00:00Z", big, "USD", "purchase") for i in range(9300)]
    )
    with pytest.raises(OverflowError, match="exceeds the 64-bit integer range"):
        build_daily_revenue(tx)


def test_a_fixed_and_relanded_record_is_summarised_as_resolved(
    local_defs, instance, landing_dir, warehouse, today
):
    """Quarantine with reasons, replaced with its partition; the gold summary per day and rule
    shows a record that was fixed and re-landed later as resolved."""
    from medallion_dagster.demo import run_sensor_once
    from tests.conftest import TX_HEADER, put_local

    day = today.isoformat()
    bad = f"t1,c1,{day}T10:00:00Z,12.5.0,USD,purchase\nt2,c1,{day}T11:00:00Z,5.00,USD,purchase\n"
    put_local(landing_dir, f"transactions/dt={day}/20260101T000000000000Z-a.csv", TX_HEADER + bad)
    assert all(r.success for r in run_sensor_once(local_defs, instance, log_level="ERROR")[0])
    summary = warehouse.query("SELECT * FROM gold.quarantine_summary")
    assert summary.to_dict("records") == [
        {
            "batch_date": day,
            "entity": "transactions",
            "rule": "amount_invalid",
            "rejected": 1,
            "resolved": 0,
            "open": 1,
        }
    ]
    quarantined = warehouse.query("SELECT * FROM silver.transactions_quarantine")
    row = quarantined.iloc[0]
    assert (row["rule"], row["_line"], row["_source_key"]) == (
        "amount_invalid",
        1,
        f"transactions/dt={day}/20260101T000000000000Z-a.csv",
    )
    assert row["quarantined_at"] and "12.5.0" in row["record"] and row["record_key"] == "t1"

    fixed = f"t1,c1,{day}T10:00:00Z,12.50,USD,purchase\n"
    put_local(landing_dir, f"transactions/dt={day}/20260101T010000000000Z-b.csv", TX_HEADER + fixed)
    assert all(r.success for r in run_sensor_once(local_defs, instance, log_level="ERROR")[0])
    summary = warehouse.query("SELECT rejected, resolved, open FROM gold.quarantine_summary")
    assert summary.to_dict("records") == [{"rejected": 1, "resolved": 1, "open": 0}]
    # the partition's quarantine was replaced with it, not appended to
    assert warehouse.row_count("silver", "transactions_quarantine") == 1
    amounts = warehouse.query("SELECT transaction_id, amount_minor FROM silver.transactions")
    assert sorted(map(tuple, amounts.values.tolist())) == [("t1", 1250), ("t2", 500)]
    # rows quarantined before record_key existed (NULL there) are resolved from their record
    from medallion_dagster.reconciliation import QUARANTINE_SUMMARY

    with warehouse.connect("silver") as conn:
        conn.execute("UPDATE transactions_quarantine SET record_key = NULL")
    assert warehouse.query(QUARANTINE_SUMMARY)["resolved"].tolist() == [1]


def assert_gold_is_the_pandas_reference(warehouse) -> None:
    """The SQL gold tables equal the pandas formulation over the same silver, exactly."""
    tx = warehouse.read("silver", "transactions")
    customers = warehouse.read("silver", "customers")
    for table, expected, key in (
        ("customer_summary", build_customer_summary(tx, customers), ["customer_id", "currency"]),
        (
            "daily_revenue",
            build_daily_revenue(tx),
            ["occurred_date", "currency", "transaction_type"],
        ),
    ):
        got = warehouse.read("gold", table).sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, expected.sort_values(key).reset_index(drop=True))


def test_sql_gold_equals_the_pandas_reference_on_dirty_lambda_batches(
    local_defs, instance, warehouse, recent_days
):
    from lambda_src.handler import handler
    from medallion_dagster.demo import run_sensor_once

    for i, day in enumerate(recent_days):
        handler({"batch_date": day.isoformat(), "batch_id": f"g{i}", "batch_size": 300,
                 "dirty_rate": 0.1}, None)  # fmt: skip
    assert all(r.success for r in run_sensor_once(local_defs, instance, log_level="ERROR")[0])
    assert warehouse.row_count("gold", "customer_summary") > 10
    assert_gold_is_the_pandas_reference(warehouse)


def test_a_rerun_batch_updates_only_its_keys_and_drops_keys_that_vanished(
    local_defs, instance, landing_dir, warehouse, recent_days
):
    """Incremental maintenance: a re-landed day whose old rows disappear (a customer, a
    currency, a type on a day) leaves gold as a full recomputation would."""
    from medallion_dagster.demo import run_sensor_once
    from tests.conftest import TX_HEADER, put_local

    a, b = (d.isoformat() for d in recent_days[:2])
    first = put_local(
        landing_dir,
        f"transactions/dt={a}/20260101T000000000000Z-a.csv",
        TX_HEADER
        + f"t1,C1,{a}T10:00:00Z,10.00,USD,purchase\nt2,C2,{a}T11:00:00Z,5.00,EUR,refund\n",
    )
    put_local(
        landing_dir,
        f"transactions/dt={b}/20260101T000000000000Z-b.csv",
        TX_HEADER + f"t3,C1,{a}T23:00:00Z,1.00,USD,purchase\n",  # a late event for day a
    )
    assert all(r.success for r in run_sensor_once(local_defs, instance, log_level="ERROR")[0])
    assert_gold_is_the_pandas_reference(warehouse)
    assert warehouse.row_count("gold", "customer_summary") == 2

    first.unlink()
    put_local(
        landing_dir,
        f"transactions/dt={a}/20260101T010000000000Z-c.csv",
        TX_HEADER + f"t4,C3,{a}T09:00:00Z,1500,JPY,purchase\n",
    )
    result = local_defs.resolve_job_def("medallion_daily").execute_in_process(
        instance=instance,
        partition_key=a,
        run_config={"ops": {"bronze__transactions": {"config": {"allow_missing_files": True}}}},
    )
    assert result.success
    assert_gold_is_the_pandas_reference(warehouse)
    summary = warehouse.read("gold", "customer_summary")
    assert sorted(zip(summary["customer_id"], summary["transaction_count"], strict=True)) == [
        ("C1", 1),
        ("C3", 1),
    ]
    revenue = warehouse.read("gold", "daily_revenue")
    assert set(revenue["currency"]) == {"USD", "JPY"}  # a's EUR refund is gone
    # every consumer absorbed the changes: the logs were pruned
    for log in ("customer_totals_partials__delta", "daily_revenue_partials__delta"):
        assert warehouse.query(f"SELECT count(*) AS n FROM gold.{log}")["n"][0] == 0


def test_the_average_of_amounts_near_the_limit_does_not_overflow(warehouse):
    """4,700 amounts of 10^15 minor units (the contract's maximum): doubling their total would
    leave 64 bits; the average is computed without doing so, in pandas and in SQL."""
    from medallion_dagster.assets import gold

    n, big = 4700, 10**15
    tx = silver([(str(i), "C1", "2026-03-01T10:00:00Z", big, "USD", "purchase") for i in range(n)])
    tx.loc[0, "amount_minor"] = big - 1  # total = n * big - 1: the mean rounds up to big
    assert build_customer_summary(tx, CUSTOMERS)["avg_amount_minor"].tolist() == [big]
    warehouse.write("silver", "transactions", tx.assign(_partition="2026-03-01"), ["2026-03-01"])
    warehouse.write("silver", "customers", CUSTOMERS)
    for asset in (gold.customer_totals_partials, gold.customer_totals, gold.customer_summary):
        q = asset()
        keys = ["2026-03-01"] if asset.partitions_def else None
        warehouse.write_query(
            "gold", asset.key.path[-1], q.sql, q.dtypes, keys,
            changes_key=q.changes_key, incremental_from=q.incremental_from, merge=q.merge,
        )  # fmt: skip
    assert warehouse.read("gold", "customer_summary")["avg_amount_minor"].tolist() == [big]
