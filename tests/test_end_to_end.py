"""The whole path: Lambda handler -> landing zone -> sensor -> bronze -> silver -> gold."""

import json
from collections import Counter

import pandas as pd
import pytest

from lambda_src.handler import handler
from medallion_dagster.definitions import build_definitions
from medallion_dagster.demo import main as demo_main
from medallion_dagster.demo import run_sensor_once
from tests.conftest import TX_HEADER, WIDE, put_local

pytestmark = pytest.mark.e2e
AUDIT = ["_ingested_at", "quarantined_at"]


def expected_from_manifests(manifests):
    """(count, amount) per (currency, type), rows valid, rows dirty, from the control totals."""
    per_type, valid, dirty = Counter(), 0, 0
    for m in manifests:
        t = m["control_totals"]["transactions"]
        valid += t["valid"]
        dirty += t["dirty"]
        for currency, types in t["by_currency_type"].items():
            for ttype, cell in types.items():
                per_type[(currency, ttype, "count")] += cell["count"]
                per_type[(currency, ttype, "amount")] += cell["amount_minor"]
    return per_type, valid, dirty


def gold_per_type(warehouse):
    daily = warehouse.read("gold", "daily_revenue")
    out = Counter()
    for r in daily.itertuples():
        out[(r.currency, r.transaction_type, "count")] += int(r.transaction_count)
        out[(r.currency, r.transaction_type, "amount")] += int(r.amount_minor)
    return out


def snapshot(warehouse):
    return {
        (layer, table): warehouse.read(layer, table).drop(columns=AUDIT, errors="ignore")
        for layer, table in [
            ("bronze", "transactions"),
            ("silver", "transactions"),
            ("silver", "transactions_quarantine"),
            ("silver", "customers"),
            ("gold", "customer_summary"),
            ("gold", "daily_revenue"),
        ]
    }


def test_lambda_to_gold_on_s3_equals_the_manifests(
    s3_bucket, s3_zone, warehouse, instance, recent_days
):
    outs = [
        handler(
            {
                "batch_date": d.isoformat(),
                "batch_id": f"b{i}",
                "batch_size": 400,
                "dirty_rate": 0.05,
            }
        )
        for i, d in enumerate(recent_days)
    ]
    # a second batch on the last day: one partition, two files per entity
    outs.append(
        handler(
            {
                "batch_date": recent_days[-1].isoformat(),
                "batch_id": "late",
                "batch_size": 150,
                "dirty_rate": 0.05,
            }
        )
    )
    defs = build_definitions(landing_zone=s3_zone, warehouse=warehouse, discovery=WIDE)

    results, cursor, requests = run_sensor_once(defs, instance)
    assert sorted(r.partition_key for r in requests) == [d.isoformat() for d in recent_days]
    assert len(results) == 3 and all(r.success for r in results)

    manifests = [json.loads(s3_zone.read(o["manifest_key"])) for o in outs]
    expected, valid, dirty = expected_from_manifests(manifests)
    assert gold_per_type(warehouse) == expected
    assert len(warehouse.read("silver", "transactions")) == valid
    assert len(warehouse.read("silver", "transactions_quarantine")) == dirty
    records = sum(m["control_totals"]["transactions"]["records"] for m in manifests)
    assert len(warehouse.read("bronze", "transactions")) == records

    summary = warehouse.read("gold", "customer_summary")
    for currency in {k[0] for k in expected}:
        gross = sum(
            v
            for (c, t, kind), v in expected.items()
            if c == currency and kind == "amount" and t in ("purchase", "subscription")
        )
        refunded = sum(
            v
            for (c, t, kind), v in expected.items()
            if c == currency and kind == "amount" and t in ("refund", "chargeback")
        )
        mine = summary[summary["currency"] == currency]
        assert mine["net_revenue_minor"].sum() == gross - refunded
    assert summary["customer_name"].notna().all()  # every customer known from silver.customers

    # nothing new: the next tick requests nothing
    again, _, requests = run_sensor_once(defs, instance, cursor)
    assert again == [] and requests == []


def test_rematerializing_a_partition_leaves_identical_tables(
    local_defs, instance, landing_dir, warehouse, recent_days
):
    for i, d in enumerate(recent_days):
        handler(
            {
                "batch_date": d.isoformat(),
                "batch_id": f"r{i}",
                "batch_size": 200,
                "dirty_rate": 0.05,
            }
        )
    run_sensor_once(local_defs, instance)
    before = snapshot(warehouse)
    job = local_defs.resolve_job_def("medallion_daily")
    for _ in range(2):
        assert job.execute_in_process(
            partition_key=recent_days[1].isoformat(), instance=instance
        ).success
    after = snapshot(warehouse)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(
            frame.sort_values(list(frame.columns)).reset_index(drop=True),
            after[name].sort_values(list(frame.columns)).reset_index(drop=True),
            obj=str(name),
        )


def test_hand_written_csv_flows_to_gold(local_defs, instance, landing_dir, warehouse):
    day = "2026-06-15"
    put_local(
        landing_dir,
        f"transactions/dt={day}/my-export-001.csv",
        TX_HEADER
        + "ord-1,cust-a,2026-06-15T09:00:00Z,19.99,USD,purchase\n"
        + "ord-2,cust-a,2026-06-15T10:00:00+02:00,5.00,USD,refund\n"
        + "ord-3,cust-b,2026-06-14T22:00:00Z,1200,JPY,subscription\n"
        + "ord-4,cust-b,2026-06-15T11:00:00Z,100.00,EUR,transfer\n"
        + "ord-5,cust-b,2026-06-15T12:00:00Z,abc,EUR,purchase\n",
    )
    put_local(
        landing_dir,
        f"customers/dt={day}/my-export-001.csv",
        "customer_id,name,email,location,created_at,updated_at\n"
        "cust-a,Ada Lovelace,ada@example.com,London,2026-01-01T00:00:00Z,2026-06-15T00:00:00Z\n",
    )
    results, _, _ = run_sensor_once(local_defs, instance)
    assert [r.success for r in results] == [True]

    daily = warehouse.read("gold", "daily_revenue")
    rows = {
        (str(r.occurred_date), r.currency, r.transaction_type): (
            r.transaction_count,
            r.amount_minor,
            r.revenue_minor,
        )
        for r in daily.itertuples()
    }
    assert rows == {
        ("2026-06-15", "USD", "purchase"): (1, 1999, 1999),
        ("2026-06-15", "USD", "refund"): (1, 500, -500),  # 10:00+02:00 is 08:00 UTC
        ("2026-06-14", "JPY", "subscription"): (1, 1200, 1200),  # late event: its own day
        ("2026-06-15", "EUR", "transfer"): (1, 10000, 0),
    }
    summary = warehouse.read("gold", "customer_summary").set_index(["customer_id", "currency"])
    assert summary.loc[("cust-a", "USD"), "net_revenue_minor"] == 1499
    assert summary.loc[("cust-a", "USD"), "customer_name"] == "Ada Lovelace"
    assert pd.isna(summary.loc[("cust-b", "JPY"), "customer_name"])
    quarantine = warehouse.read("silver", "transactions_quarantine")
    assert quarantine[["rule", "_line"]].values.tolist() == [["amount_invalid", 5]]


def test_demo_command_prints_gold_and_is_idempotent(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    assert demo_main(["--days", "9", "--batch-size", "60"]) == 0  # more days than the window
    first = capsys.readouterr().out
    assert "sensor requested 9 run(s); executed 9" in first
    assert "gold.daily_revenue" in first and "USD:" in first
    assert (tmp_path / "data/warehouse/gold.db").exists()
    assert demo_main(["--days", "9", "--batch-size", "60"]) == 0
    second = capsys.readouterr().out
    assert "landed batches for no new days" in second
    assert (
        "sensor requested 0 run(s); executed 0 (every landing file is already in bronze)" in second
    )
    assert " - DEBUG - " not in second


def test_an_id_is_counted_once_even_when_an_earlier_day_arrives_late(
    local_defs, instance, landing_dir, warehouse
):
    row = "dup-1,C1,{day}T10:00:00Z,10.00,USD,purchase\n"
    put_local(
        landing_dir, "transactions/dt=2026-06-20/a.csv", TX_HEADER + row.format(day="2026-06-20")
    )
    results, cursor, _ = run_sensor_once(local_defs, instance)
    assert [r.success for r in results] == [True]
    # a late file for an earlier day re-sends the same transaction
    put_local(
        landing_dir,
        "transactions/dt=2026-06-19/late.csv",
        TX_HEADER
        + row.format(day="2026-06-19")
        + "own-1,C1,2026-06-19T09:00:00Z,1.00,USD,purchase\n",
    )
    results, _, _ = run_sensor_once(local_defs, instance, cursor)
    assert [r.success for r in results] == [True]
    silver = warehouse.read("silver", "transactions")
    assert sorted(silver["transaction_id"]) == ["dup-1", "own-1"]
    assert warehouse.read("gold", "daily_revenue")["transaction_count"].sum() == 2
    q = warehouse.read("silver", "transactions_quarantine")
    assert q[["rule", "_partition"]].values.tolist() == [["duplicate_transaction_id", "2026-06-19"]]


def test_a_day_without_valid_transactions_does_not_break_later_days(
    local_defs, instance, landing_dir, warehouse
):
    put_local(landing_dir, "transactions/dt=2026-06-10/empty.csv", TX_HEADER)  # header only
    put_local(
        landing_dir, "customers/dt=2026-06-10/c.csv", "customer_id,updated_at\nC1,2026-06-10\n"
    )
    results, cursor, _ = run_sensor_once(local_defs, instance)
    assert [r.success for r in results] == [True]
    assert len(warehouse.read("gold", "daily_revenue")) == 0
    put_local(
        landing_dir,
        "transactions/dt=2026-06-11/a.csv",
        TX_HEADER + "T1,C1,2026-06-11T10:00:00Z,1.00,USD,purchase\n",
    )
    results, _, _ = run_sensor_once(local_defs, instance, cursor)
    assert [r.success for r in results] == [True]
    daily = warehouse.read("gold", "daily_revenue")
    assert daily["occurred_date"].map(str).tolist() == ["2026-06-11"]
    assert daily["revenue_minor"].tolist() == [100]
