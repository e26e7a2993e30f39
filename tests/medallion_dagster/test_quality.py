"""Asset checks on every silver and gold table: they pass on the real pipeline's data, each fails
on the fault it guards against (with masked examples), and a failed blocking check stops gold."""

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest

from lambda_src.handler import handler
from medallion_dagster.definitions import build_definitions
from medallion_dagster.demo import run_sensor_once
from medallion_dagster.masking import mask_email, mask_name
from medallion_dagster.quality import EXPECTATIONS
from tests.conftest import WIDE


@pytest.fixture
def days(recent_days):
    return [d.isoformat() for d in recent_days]


@pytest.fixture
def loaded(landing_dir, local_zone, warehouse, instance, days):
    """Three days landed by the Lambda (10 % dirty records) and run through the pipeline."""
    for i, day in enumerate(days):
        handler({"batch_date": day, "batch_id": f"q{i}", "batch_size": 60, "dirty_rate": 0.1}, None)
    defs = build_definitions(landing_zone=local_zone, warehouse=warehouse, discovery=WIDE)
    results, _, _ = run_sensor_once(defs, instance, log_level="ERROR")
    assert len(results) == 3 and all(r.success for r in results)
    return defs, results


def evaluations(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {
        f"{e.asset_key.to_user_string()}:{e.check_name}": e
        for e in result.get_asset_check_evaluations()
    }


def run_checks(defs, instance) -> dict[str, dg.AssetCheckEvaluation]:
    """The checks-only job over the whole warehouse."""
    result = defs.resolve_job_def("medallion_checks").execute_in_process(
        instance=instance, raise_on_error=False
    )
    return evaluations(result)


def sql(warehouse, layer: str, statement: str, params=()) -> None:
    with sqlite3.connect(warehouse.layer_file(layer)) as conn:
        changed = conn.execute(statement, params).rowcount
    assert changed, f"the fault was not injected: {statement}"


def test_every_silver_and_gold_table_has_checks(local_defs):
    checked = {e.asset_key for e in EXPECTATIONS}
    tables = {k for k in local_defs.resolve_all_asset_keys() if k.path[0] in ("silver", "gold")}
    assert tables <= checked
    severities = {e.severity for e in EXPECTATIONS}
    assert severities == {dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN}


def test_the_checks_pass_on_the_pipelines_own_data(loaded):
    _, results = loaded
    for result in results:
        found = evaluations(result)
        assert len(found) == len(EXPECTATIONS) + 1  # + the freshness check
        failed = {k: e.metadata for k, e in found.items() if not e.passed}
        # freshness may warn while earlier days are still queued in the same sensor tick
        assert set(failed) <= {"silver/transactions:recent_partitions_fresh"}, failed


def test_the_checks_job_passes_on_a_consistent_warehouse(loaded, instance):
    defs, _ = loaded
    found = run_checks(defs, instance)
    found.pop("silver/transactions:recent_partitions_fresh")  # clock-dependent: tested below
    assert all(e.passed for e in found.values()), [k for k, e in found.items() if not e.passed]


FAULTS = {
    "silver/transactions:transaction_id_unique": (
        "silver",
        "INSERT INTO transactions SELECT * FROM transactions LIMIT 1",
    ),
    "silver/transactions:required_columns_present": (
        "silver",
        "UPDATE transactions SET customer_id = NULL "
        "WHERE rowid = (SELECT min(rowid) FROM transactions)",
    ),
    "silver/transactions:accepted_values": (
        "silver",
        "UPDATE transactions SET currency = 'XXX' "
        "WHERE rowid = (SELECT min(rowid) FROM transactions)",
    ),
    "silver/transactions:amounts_positive_signed_by_type": (
        "silver",
        "UPDATE transactions SET revenue_minor = -revenue_minor "
        "WHERE rowid = (SELECT min(rowid) FROM transactions WHERE revenue_minor != 0)",
    ),
    "silver/transactions:customer_exists": (
        "silver",
        "UPDATE transactions SET customer_id = 'C-NEVER-SEEN' "
        "WHERE rowid = (SELECT min(rowid) FROM transactions)",
    ),
    "silver/transactions_quarantine:every_rejection_explained": (
        "silver",
        "UPDATE transactions_quarantine SET rule = '' "
        "WHERE rowid = (SELECT min(rowid) FROM transactions_quarantine)",
    ),
    "silver/customers:email_has_at_sign": (
        "silver",
        "UPDATE customers SET email = 'jane.doe.example.com' "
        "WHERE rowid = (SELECT min(rowid) FROM customers)",
    ),
    "silver/customer_updates:_partition_customer_id_unique": (
        "silver",
        "INSERT INTO customer_updates SELECT * FROM customer_updates LIMIT 1",
    ),
    "silver/customers:latest_of_the_updates": (
        "silver",
        "UPDATE customers SET location = 'Nowhere' "
        "WHERE rowid = (SELECT min(rowid) FROM customers)",
    ),
    "silver/transaction_types:contract_types_and_signs": (
        "silver",
        "UPDATE transaction_types SET revenue_sign = 1 WHERE type_name = 'refund'",
    ),
    "gold/daily_revenue:reconciles_with_silver": (
        "gold",
        "UPDATE daily_revenue SET amount_minor = amount_minor + 1 "
        "WHERE rowid = (SELECT min(rowid) FROM daily_revenue)",
    ),
    "gold/customer_summary:reconciles_with_silver": (
        "gold",
        "UPDATE customer_summary SET net_revenue_minor = net_revenue_minor + 1 "
        "WHERE rowid = (SELECT max(rowid) FROM customer_summary)",
    ),
    "gold/daily_revenue_partials:reconciles_with_silver": (
        "gold",
        "UPDATE daily_revenue_partials SET revenue_minor = revenue_minor - 1 "
        "WHERE rowid = (SELECT max(rowid) FROM daily_revenue_partials)",
    ),
    "gold/customer_totals_partials:reconciles_with_silver": (
        "gold",
        "UPDATE customer_totals_partials SET last_occurred_at = '2000-01-01T00:00:00.000000Z' "
        "WHERE rowid = (SELECT max(rowid) FROM customer_totals_partials)",
    ),
    "gold/customer_totals:customer_id_currency_unique": (
        "gold",
        "INSERT INTO customer_totals SELECT * FROM customer_totals LIMIT 1",
    ),
    "gold/quarantine_summary:reconciles_with_quarantine": (
        "gold",
        "UPDATE quarantine_summary SET rejected = rejected + 1 "
        "WHERE rowid = (SELECT min(rowid) FROM quarantine_summary)",
    ),
}


@pytest.mark.parametrize("check", sorted(FAULTS))
def test_each_check_fails_on_the_fault_it_guards(loaded, instance, warehouse, check):
    defs, _ = loaded
    layer, statement = FAULTS[check]
    sql(warehouse, layer, statement)
    found = run_checks(defs, instance)
    failing = found[check]
    assert not failing.passed
    assert failing.metadata["failing_rows"].value >= 1
    assert "examples" in failing.metadata


def test_one_corrupted_gold_row_fails_reconciliation(loaded, instance, warehouse):
    """Issue: corrupt one gold row and see the reconciliation fail, to the cent."""
    defs, _ = loaded
    sql(
        warehouse,
        "gold",
        "UPDATE daily_revenue SET revenue_minor = revenue_minor + 1 "
        "WHERE rowid = (SELECT min(rowid) FROM daily_revenue WHERE transaction_type = 'purchase')",
    )
    found = run_checks(defs, instance)
    check = found["gold/daily_revenue:reconciles_with_silver"]
    assert not check.passed and check.metadata["failing_rows"].value == 1
    assert found["gold/customer_summary:reconciles_with_silver"].passed


@pytest.mark.parametrize(
    ("check", "statement"),
    [
        (
            "gold.daily_revenue:reconciles_with_silver",
            "UPDATE daily_revenue SET amount_minor = amount_minor + 1 "
            "WHERE rowid = (SELECT max(rowid) FROM daily_revenue)",
        ),
        (
            "gold.customer_summary:reconciles_with_silver",
            "UPDATE customer_summary SET avg_amount_minor = avg_amount_minor + 1 "
            "WHERE rowid = (SELECT min(rowid) FROM customer_summary)",
        ),
        (
            "gold.customer_summary:reconciles_with_silver",
            "UPDATE customer_summary SET email = 'x@y.z' "
            "WHERE rowid = (SELECT min(rowid) FROM customer_summary)",
        ),
    ],
)
def test_a_partitioned_run_checks_the_gold_rows_of_its_days(
    loaded, warehouse, local_zone, days, check, statement
):
    """Scoped to the run's partitions, the all-history tables are checked against the partials
    for the keys the run touched: a corrupted row among them fails the check."""
    expectation = {f"{e.table}:{e.name}": e for e in EXPECTATIONS}[check]
    assert expectation.failing_rows(warehouse, local_zone, days).empty
    sql(warehouse, "gold", statement)
    assert len(expectation.failing_rows(warehouse, local_zone, days)) == 1
    assert len(expectation.failing_rows(warehouse, local_zone, None)) == 1  # and on its own


#: a customer updated on the last day
LAST_DAY_CUSTOMER = (
    "(SELECT customer_id FROM customer_updates WHERE _partition = "
    "(SELECT max(_partition) FROM customer_updates) ORDER BY customer_id LIMIT 1)"
)


@pytest.mark.parametrize(
    ("statement", "problems"),
    [
        (
            f"UPDATE customers SET location = 'Nowhere' WHERE customer_id = {LAST_DAY_CUSTOMER}",
            ["current row is not a stored update"],
        ),
        (
            f"DELETE FROM customers WHERE customer_id = {LAST_DAY_CUSTOMER}",
            ["no current row"],
        ),
        (
            "UPDATE customer_updates SET updated_at = '2999-01-01T00:00:00.000000Z' "
            f"WHERE customer_id = {LAST_DAY_CUSTOMER} "
            "AND _partition = (SELECT max(_partition) FROM customer_updates)",
            # the current row was that update: it now differs from it, and it is later
            ["a later update of the run is not current", "current row is not a stored update"],
        ),
    ],
)
def test_a_partitioned_run_checks_the_customers_it_updated(
    loaded, warehouse, local_zone, days, statement, problems
):
    """Scoped to the run's batches, silver.customers is checked for the customers they updated,
    at the cost of those batches' rows; on its own, against all updates."""
    expectation = {f"{e.table}:{e.name}": e for e in EXPECTATIONS}[
        "silver.customers:latest_of_the_updates"
    ]
    assert expectation.failing_rows(warehouse, local_zone, days).empty
    sql(warehouse, "silver", statement)
    found = expectation.failing_rows(warehouse, local_zone, days[-1:])
    assert sorted(found["problem"]) == problems
    assert len(expectation.failing_rows(warehouse, local_zone, None)) == 1  # and on its own


def test_one_dropped_silver_row_fails_against_manifests_and_gold(loaded, instance, warehouse):
    """Issue: drop one silver row and see the checks fail (manifests, and gold built before)."""
    defs, _ = loaded
    sql(
        warehouse,
        "silver",
        "DELETE FROM transactions WHERE rowid = (SELECT min(rowid) FROM transactions)",
    )
    found = run_checks(defs, instance)
    manifests = found["silver/transactions:reconciles_with_manifests"]
    assert not manifests.passed
    examples = manifests.metadata["examples"].value
    assert "transactions.valid" in examples and "transactions.accounted" in examples
    # The blocking failure on silver stops the checks that read it; evaluated anyway, gold (its
    # per-batch partials, and all-history tables) no longer matches silver.
    assert "gold/daily_revenue_partials:reconciles_with_silver" not in found
    expectations = {f"{e.table}:{e.name}": e for e in EXPECTATIONS}
    for check in (
        "gold.daily_revenue_partials:reconciles_with_silver",
        "gold.customer_totals_partials:reconciles_with_silver",
        "gold.daily_revenue:reconciles_with_silver",
        "gold.customer_summary:reconciles_with_silver",
    ):
        assert len(expectations[check].failing_rows(warehouse, None, None)) == 1, check


def test_examples_mask_emails_and_names(loaded, instance, warehouse):
    defs, _ = loaded
    with sqlite3.connect(warehouse.layer_file("silver")) as conn:
        name, email = conn.execute("SELECT name, email FROM customers LIMIT 1").fetchone()
    sql(
        warehouse,
        "silver",
        "UPDATE customers SET email = replace(email, '@', ' at ') WHERE email = ?",
        (email,),
    )
    examples = (
        run_checks(defs, instance)["silver/customers:email_has_at_sign"].metadata["examples"].value
    )
    assert email.split("@")[0] not in examples and name not in examples
    assert mask_name(name) in examples


def test_masking():
    assert mask_email("jane.doe@example.com") == "j***@example.com"
    assert mask_email("no-at-sign") == "n***"
    assert mask_name("Jane Q. Doe") == "J*** Q*** D***"
    assert mask_email(None) is None and mask_name(None) is None


def test_a_failed_blocking_check_stops_gold(landing_dir, local_zone, warehouse, instance, days):
    """The producer's control totals disagree with what arrived: silver's blocking
    reconciliation fails, the run fails, and gold is not written from that silver."""
    handler({"batch_date": days[0], "batch_id": "good", "batch_size": 40}, None)
    defs = build_definitions(landing_zone=local_zone, warehouse=warehouse, discovery=WIDE)
    results, cursor, _ = run_sensor_once(defs, instance, log_level="CRITICAL")
    assert all(r.success for r in results)
    gold_before = warehouse.query("SELECT * FROM gold.daily_revenue")
    result = handler({"batch_date": days[1], "batch_id": "tampered", "batch_size": 40}, None)
    manifest_path = landing_dir / result["manifest_key"]
    manifest = json.loads(manifest_path.read_text())
    manifest["control_totals"]["transactions"]["valid"] += 1  # the producer claims one more
    manifest_path.write_text(json.dumps(manifest))
    results, _, _ = run_sensor_once(defs, instance, cursor, log_level="CRITICAL")
    [run] = results
    assert not run.success
    found = evaluations(run)
    assert not found["silver/transactions:reconciles_with_manifests"].passed
    materialized = {e.asset_key.to_user_string() for e in run.get_asset_materialization_events()}
    assert "silver/transactions" in materialized
    assert not {k for k in materialized if k.startswith("gold/")}
    assert warehouse.query("SELECT * FROM gold.daily_revenue").equals(gold_before)


def test_partitioned_runs_check_their_own_partitions(loaded, instance, warehouse, days):
    """A fault in another partition is not this run's: the run's scoped checks pass; the
    checks job over the whole warehouse fails."""
    defs, _ = loaded
    sql(
        warehouse,
        "silver",
        "UPDATE transactions SET currency = 'XXX' WHERE rowid = "
        "(SELECT min(rowid) FROM transactions WHERE _partition = ?)",
        (days[0],),
    )
    rerun = defs.resolve_job_def("medallion_daily").execute_in_process(
        instance=instance, partition_key=days[2]
    )
    check = evaluations(rerun)["silver/transactions:accepted_values"]
    assert check.passed and check.metadata["scope"].value == days[2]
    everything = run_checks(defs, instance)["silver/transactions:accepted_values"]
    assert not everything.passed and everything.metadata["scope"].value == "all partitions"


def test_freshness_names_the_missing_days_since_the_first_one(instance):
    from medallion_dagster.quality import FRESH_DAYS, missing_recent_partitions

    now = datetime.now(UTC).replace(hour=12)
    due = [(now.date() - timedelta(days=n)).isoformat() for n in range(1, FRESH_DAYS + 1)]
    assert missing_recent_partitions(instance, now) == sorted(due)  # nothing ran yet

    def materialized(day):
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=["silver", "transactions"], partition=day)
        )

    materialized(due[1])  # the pipeline started the day before yesterday
    assert missing_recent_partitions(instance, now) == [due[0]]  # yesterday is late
    materialized(due[0])
    assert missing_recent_partitions(instance, now) == []  # days before the start are not late
    materialized(due[2])
    assert missing_recent_partitions(instance, now.replace(hour=1)) == []  # deadline not passed


def test_a_gap_in_recent_days_is_reported(instance):
    from medallion_dagster.quality import missing_recent_partitions

    now = datetime.now(UTC).replace(hour=12)
    days = [(now.date() - timedelta(days=n)).isoformat() for n in (1, 2, 3)]
    for day in (days[0], days[2]):
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=["silver", "transactions"], partition=day)
        )
    assert missing_recent_partitions(instance, now) == [days[1]]


def test_architecture_lists_every_check_with_its_severity():
    from tests.terraform.conftest import ROOT

    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    rows = [
        line
        for line in doc.splitlines()
        if line.startswith("| `silver.") or line.startswith("| `gold.")
    ]
    for e in EXPECTATIONS:
        table = "silver.<entity>_quarantine" if e.table.endswith("_quarantine") else e.table
        assert any(
            f"`{table}`" in row and f"`{e.name}`" in row and f"| {e.severity.value} |" in row
            for row in rows
        ), f"docs/ARCHITECTURE.md does not list {e.table}:{e.name} ({e.severity.value})"


def test_checks_on_an_empty_warehouse_say_not_checked_and_do_not_crash(local_defs, instance):
    result = local_defs.resolve_job_def("medallion_checks").execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert result.success
    found = evaluations(result)
    found.pop("silver/transactions:recent_partitions_fresh")
    assert found and all(
        not e.passed and e.severity == dg.AssetCheckSeverity.WARN for e in found.values()
    )
    assert all("not checked" in (e.description or "") for e in found.values())


# --- regressions from the adversarial review: no blocking false alarm, no crash, no miss -------


def one_day(local_zone, warehouse, instance, cursor=None):
    defs = build_definitions(landing_zone=local_zone, warehouse=warehouse, discovery=WIDE)
    results, cursor, _ = run_sensor_once(defs, instance, cursor, log_level="CRITICAL")
    return defs, results, cursor


def mismatches(local_zone, warehouse, day):
    from medallion_dagster.reconciliation import manifest_mismatches

    return manifest_mismatches(local_zone, warehouse, [day]).to_dict("records")


def test_a_dirty_record_fixed_and_relanded_without_manifest_is_no_alarm(
    landing_dir, local_zone, warehouse, instance, days
):
    result = handler({"batch_date": days[0], "batch_id": "A", "batch_size": 80, "dirty_rate": 0.1})
    _, results, cursor = one_day(local_zone, warehouse, instance)
    tx_file = landing_dir / next(k for k in result["keys"] if k.startswith("transactions/"))
    lines = [json.loads(line) for line in tx_file.read_text().splitlines()]
    quarantined = warehouse.query(
        "SELECT _line FROM silver.transactions_quarantine WHERE rule = 'amount_invalid'"
    )
    fixed = dict(lines[int(quarantined["_line"].iloc[0]) - 1], amount="12.50")
    for day in (days[0], days[1]):  # the fix lands on the same day, then on a later day
        fix = landing_dir / f"transactions/dt={day}/20990101T000000000000Z-fix.jsonl"
        fix.parent.mkdir(parents=True, exist_ok=True)
        fix.write_text(json.dumps(fixed) + "\n")
        _, results, cursor = one_day(local_zone, warehouse, instance, cursor)
        assert all(r.success for r in results)
        assert mismatches(local_zone, warehouse, days[0]) == []
        if day == days[0]:
            fix.unlink()


def test_empty_batches_odd_whitespace_and_partial_retries_are_no_alarm(
    landing_dir, local_zone, warehouse, instance, days
):
    handler({"batch_date": days[0], "batch_id": "empty", "batch_size": 0})
    result = handler({"batch_date": days[0], "batch_id": "ws", "batch_size": 30})
    tx_file = landing_dir / next(k for k in result["keys"] if k.startswith("transactions/"))
    records = [json.loads(line) for line in tx_file.read_text().splitlines()]
    records[0]["transaction_id"] += "\t\u00a0"  # silver strips Unicode whitespace
    tx_file.write_text("".join(json.dumps(r) + "\n" for r in records))
    retry = tx_file.with_name("20990101T000000000000Z-ws.jsonl")  # a retry died after this file
    retry.write_text(tx_file.read_text())
    _, results, _ = one_day(local_zone, warehouse, instance)
    assert all(r.success for r in results)
    assert mismatches(local_zone, warehouse, days[0]) == []


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.pop("control_totals"),
        lambda m: m["control_totals"]["transactions"].pop("by_currency_type"),
        lambda m: m["files"][0].pop("records"),
        lambda m: m["files"][0].update(records=None),
        lambda m: m["files"][0].update(records="abc"),
        lambda m: m.update(control_totals=[]),
        lambda m: m["control_totals"]["transactions"].update(valid="n/a"),
        lambda m: m["files"].append("not a file entry"),
    ],
)
def test_hand_written_or_malformed_manifests_check_what_they_state(
    landing_dir, local_zone, warehouse, instance, days, edit
):
    result = handler({"batch_date": days[0], "batch_id": "m", "batch_size": 30})
    path = landing_dir / result["manifest_key"]
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    _, results, _ = one_day(local_zone, warehouse, instance)
    assert all(r.success for r in results)
    assert mismatches(local_zone, warehouse, days[0]) == []


def test_a_manifest_whose_files_never_arrived_is_flagged(
    landing_dir, local_zone, warehouse, instance, days
):
    handler({"batch_date": days[0], "batch_id": "here", "batch_size": 20})
    result = handler({"batch_date": days[1], "batch_id": "lost", "batch_size": 20})
    for key in result["keys"]:
        (landing_dir / key).unlink()
    defs, results, _ = one_day(local_zone, warehouse, instance)
    assert len(results) == 1 and results[0].success  # no run for a day without data
    check = run_checks(defs, instance)["silver/transactions:reconciles_with_manifests"]
    assert not check.passed and days[1] in check.metadata["examples"].value
