"""Data-quality checks on every silver and gold table (docs/ARCHITECTURE.md lists them all).

Each expectation is a SQL query over the warehouse that selects the rows breaking it — written
apart from the pandas code that built the tables, so a bug there cannot hide itself. A check
passes when the query selects nothing; its metadata gives the failing row count and a few
examples, with emails and names masked. ERROR checks are blocking: downstream assets do not
materialize on data that would make them wrong. WARN checks report and let the run go on.

On a partitioned run the checks of `silver/transactions` look at the run's partitions (and, for
uniqueness, at every partition holding the same ids); run on their own they check everything.
One `multi_asset_check` per table keeps a run to one extra step per table.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd

from lambda_src.contract import CURRENCY_EXPONENTS, MAX_AMOUNT_MINOR, TYPE_SIGNS
from medallion_dagster import reconciliation
from medallion_dagster.io_manager import markdown_preview
from medallion_dagster.landing_zone import LandingZone
from medallion_dagster.masking import mask
from medallion_dagster.partitions import daily_partitions
from medallion_dagster.warehouse import Warehouse

ERROR = dg.AssetCheckSeverity.ERROR
WARN = dg.AssetCheckSeverity.WARN
EXAMPLES = 5
SCOPE = "_partition IN (SELECT value FROM json_each(:partitions))"


def _sql_list(values) -> str:
    assert all(str(v).isidentifier() for v in values)  # contract constants, never user input
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


TYPES = _sql_list(TYPE_SIGNS)
CURRENCIES = _sql_list(CURRENCY_EXPONENTS)


@dataclass(frozen=True)
class Expectation:
    """One check: `failing` is SQL selecting the rows that break it (`{scope}` = the run's
    partitions), or a function (warehouse, landing zone, partitions) -> those rows."""

    table: str
    name: str
    description: str
    failing: str | Callable[[Warehouse, LandingZone, list[str] | None], pd.DataFrame]
    severity: dg.AssetCheckSeverity = ERROR
    reads: tuple[str, ...] = ()

    @property
    def asset_key(self) -> dg.AssetKey:
        return dg.AssetKey(self.table.split("."))

    def spec(self) -> dg.AssetCheckSpec:
        return dg.AssetCheckSpec(
            self.name,
            asset=self.asset_key,
            description=f"[{self.severity.value}] {self.description}",
            blocking=self.severity == ERROR,
            additional_deps=[dg.AssetKey(t.split(".")) for t in self.reads],
            metadata={"medallion/severity": self.severity.value},
        )

    def failing_rows(
        self, warehouse: Warehouse, zone: LandingZone, partitions: list[str] | None
    ) -> pd.DataFrame:
        if callable(self.failing):
            return self.failing(warehouse, zone, partitions)
        scope = SCOPE if partitions is not None else "1"
        sql = self.failing.replace("{scope}", scope)
        params = {"partitions": json.dumps(partitions)} if partitions is not None else {}
        return warehouse.query(sql, params)


def _full_or_run(full: str, run: str):
    """Failing rows from `full` when checked on its own, from `run` (scoped) on a partitioned
    run: a day's checks then cost what the day costs, however long the history."""

    def failing(warehouse: Warehouse, zone: LandingZone, partitions) -> pd.DataFrame:
        if partitions is None:
            return warehouse.query(full)
        return warehouse.query(
            run.replace("{scope}", SCOPE), {"partitions": json.dumps(partitions)}
        )

    return failing


def unique(table: str, *columns: str, scoped: bool = False) -> Expectation:
    cols = ", ".join(columns)
    sql = f"SELECT {cols}, count(*) AS copies FROM {table} GROUP BY {cols} HAVING count(*) > 1"
    if scoped:  # the run's rows, each looked up in the key's index: the run's cost, not history's
        same = " AND ".join(f"u.{c} = t.{c}" for c in columns)
        sql = (
            f"SELECT {', '.join('t.' + c for c in columns)}, 1 + (SELECT count(*) FROM {table} "
            f"AS u WHERE {same} AND u.rowid != t.rowid) AS copies FROM {table} AS t "
            f"WHERE {{scope}} AND EXISTS (SELECT 1 FROM {table} AS u WHERE {same} "
            "AND u.rowid != t.rowid)"
        )
    return Expectation(
        table,
        "_".join(columns) + "_unique",
        f"One row per ({cols}): a second row would be counted twice downstream.",
        sql,
    )


def required(table: str, *columns: str, scoped: bool = False) -> Expectation:
    empty = " OR ".join(f"{c} IS NULL OR trim(CAST({c} AS TEXT)) = ''" for c in columns)
    where = "{scope} AND " if scoped else ""
    return Expectation(
        table,
        "required_columns_present",
        f"{', '.join(columns)} are never empty: downstream joins and sums need them.",
        f"SELECT * FROM {table} WHERE {where}({empty})",
    )


def explained(table: str, scoped: bool = False) -> Expectation:
    columns = ("rule", "detail", "_source_key", "record", "quarantined_at")
    check = required(table, *columns, scoped=scoped)
    return Expectation(
        table,
        "every_rejection_explained",
        "Every rejected record says which rule it broke, what was wrong, its file and when.",
        check.failing,
    )


def _manifest_mismatches(warehouse, zone, partitions) -> pd.DataFrame:
    days = partitions
    if days is None:  # everything: every day with data or with a manifest (data never arrived)
        held = warehouse.query("SELECT DISTINCT _partition AS d FROM silver.transactions")["d"]
        days = sorted(set(held) | reconciliation.manifest_days(zone))
    return reconciliation.manifest_mismatches(zone, warehouse, list(days))


EXPECTATIONS: tuple[Expectation, ...] = (
    # --- silver.transactions -------------------------------------------------------------------
    unique("silver.transactions", "transaction_id", scoped=True),
    required(
        "silver.transactions",
        "transaction_id",
        "customer_id",
        "occurred_at",
        "amount_minor",
        "currency",
        "transaction_type",
        "revenue_minor",
        scoped=True,
    ),
    Expectation(
        "silver.transactions",
        "accepted_values",
        f"transaction_type is one of {TYPES}; currency is one of {CURRENCIES}.",
        f"SELECT transaction_id, transaction_type, currency FROM silver.transactions "
        f"WHERE {{scope}} AND (transaction_type NOT IN {TYPES} OR currency NOT IN {CURRENCIES})",
    ),
    Expectation(
        "silver.transactions",
        "amounts_positive_signed_by_type",
        "amount_minor is positive (as landed) and at most 10^15; revenue_minor is amount_minor "
        "times the contract's sign of the type (+1 purchase/subscription, -1 refund/chargeback, "
        "0 transfer).",
        f"SELECT transaction_id, transaction_type, amount_minor, revenue_minor "
        f"FROM silver.transactions WHERE {{scope}} AND (amount_minor <= 0 "
        f"OR amount_minor > {MAX_AMOUNT_MINOR} "
        f"OR revenue_minor IS DISTINCT FROM amount_minor * {reconciliation.SIGN_SQL})",
    ),
    Expectation(
        "silver.transactions",
        "customer_exists",
        "Every transaction's customer is in silver.customers (gold shows an unknown customer "
        "without name or email; the amounts stay right, so this warns).",
        "SELECT t.transaction_id, t.customer_id FROM silver.transactions AS t "
        "WHERE {scope} AND NOT EXISTS "
        "(SELECT 1 FROM silver.customers AS c WHERE c.customer_id = t.customer_id)",
        severity=WARN,
        reads=("silver.customers",),
    ),
    Expectation(
        "silver.transactions",
        "transaction_type_exists",
        "Every transaction's type is in silver.transaction_types (signs come from the contract, "
        "so this warns).",
        "SELECT t.transaction_id, t.transaction_type FROM silver.transactions AS t "
        "WHERE {scope} AND NOT EXISTS "
        "(SELECT 1 FROM silver.transaction_types AS y WHERE y.type_name = t.transaction_type)",
        severity=WARN,
        reads=("silver.transaction_types",),
    ),
    Expectation(
        "silver.transactions",
        "reconciles_with_manifests",
        "Against the producers' manifests of each day: bronze holds every record sent; records "
        "= silver + quarantined + re-sent duplicates; valid ids are in silver; quarantined = "
        "dirty; counts and amounts per currency and type = the control totals.",
        _manifest_mismatches,
        reads=("silver.transactions_quarantine",),
    ),
    # --- silver quarantine tables --------------------------------------------------------------
    explained("silver.transactions_quarantine", scoped=True),
    explained("silver.customers_quarantine", scoped=True),
    explained("silver.transaction_types_quarantine"),
    # --- silver.customers, silver.transaction_types --------------------------------------------
    unique("silver.customer_updates", "_partition", "customer_id", scoped=True),
    required("silver.customer_updates", "customer_id", "updated_at", scoped=True),
    unique("silver.customers", "customer_id"),
    required("silver.customers", "customer_id", "updated_at"),
    Expectation(
        "silver.customers",
        "latest_of_the_updates",
        "Each customer's row is its latest update over all batches (latest updated_at, then "
        "the later batch, file, line), recomputed from silver.customer_updates: from all of "
        "them when checked on its own; on a partitioned run, for the customers it updated.",
        _full_or_run(reconciliation.CUSTOMERS_MISMATCHES, reconciliation.CUSTOMERS_RUN_MISMATCHES),
        reads=("silver.customer_updates",),
    ),
    Expectation(
        "silver.customers",
        "email_has_at_sign",
        "An email, when given, contains '@'.",
        "SELECT customer_id, name, email FROM silver.customers "
        "WHERE email IS NOT NULL AND trim(email) != '' AND instr(email, '@') = 0",
        severity=WARN,
    ),
    unique("silver.transaction_types", "type_id"),
    Expectation(
        "silver.transaction_types",
        "contract_types_and_signs",
        f"type_name is one of {TYPES} and revenue_sign is the contract's sign for it.",
        "SELECT type_id, type_name, revenue_sign FROM silver.transaction_types "
        f"WHERE type_name NOT IN {TYPES} OR revenue_sign IS DISTINCT FROM "
        + reconciliation.SIGN_SQL.replace("transaction_type", "type_name"),
    ),
    # --- gold ----------------------------------------------------------------------------------
    Expectation(
        "gold.daily_revenue_partials",
        "reconciles_with_silver",
        "Recomputed from the batch's silver rows in SQL (signs from the contract by type): count, "
        "amount and signed revenue per batch, UTC day, currency and type are equal.",
        reconciliation.DAILY_REVENUE_PARTIALS_MISMATCHES,
        reads=("silver.transactions",),
    ),
    Expectation(
        "gold.customer_totals_partials",
        "reconciles_with_silver",
        "Recomputed from the batch's silver rows in SQL: count, gross, refunded, total, first and "
        "last transaction per batch, customer and currency are equal.",
        reconciliation.CUSTOMER_TOTALS_PARTIALS_MISMATCHES,
        reads=("silver.transactions",),
    ),
    unique("gold.daily_revenue", "occurred_date", "currency", "transaction_type"),
    Expectation(
        "gold.daily_revenue",
        "reconciles_with_silver",
        "Equal to the cent to a recomputation: from all of silver.transactions when checked on "
        "its own; on a partitioned run, for the days the run touched, from the checked partials.",
        _full_or_run(
            reconciliation.DAILY_REVENUE_MISMATCHES, reconciliation.DAILY_REVENUE_RUN_MISMATCHES
        ),
        reads=("gold.daily_revenue_partials",),
    ),
    unique("gold.customer_totals", "customer_id", "currency"),
    unique("gold.customer_summary", "customer_id", "currency"),
    Expectation(
        "gold.customer_summary",
        "reconciles_with_silver",
        "Every column (count, gross, refunded, net, average half up, first and last transaction, "
        "name, email) equals a recomputation: from all of silver when checked on its own; on a "
        "partitioned run, for the customers the run touched, from the checked partials.",
        _full_or_run(
            reconciliation.CUSTOMER_SUMMARY_MISMATCHES,
            reconciliation.CUSTOMER_SUMMARY_RUN_MISMATCHES,
        ),
        reads=("silver.customers", "gold.customer_totals_partials"),
    ),
    Expectation(
        "gold.customer_summary",
        "customer_known",
        "Every customer with transactions has a name (warns: late customer records).",
        "SELECT customer_id, currency FROM gold.customer_summary WHERE customer_name IS NULL",
        severity=WARN,
    ),
    unique("gold.quarantine_summary", "batch_date", "entity", "rule"),
    Expectation(
        "gold.quarantine_summary",
        "reconciles_with_quarantine",
        "Rejections per day, entity and rule equal the quarantine tables; resolved <= rejected.",
        """
        WITH q AS (
            SELECT _partition AS d, 'transactions' AS e, rule, count(*) AS n
            FROM silver.transactions_quarantine GROUP BY 1, 2, 3
            UNION ALL SELECT _partition, 'customers', rule, count(*)
            FROM silver.customers_quarantine GROUP BY 1, 2, 3
            UNION ALL SELECT _batch_date, 'transaction_types', rule, count(*)
            FROM silver.transaction_types_quarantine GROUP BY 1, 2, 3
        ), sides AS (  -- one pass over each side, keys matched by GROUP BY (NULLs equal)
            SELECT d, e, rule, n AS quarantined, NULL AS rejected, NULL AS resolved FROM q
            UNION ALL SELECT batch_date, entity, rule, NULL, rejected, resolved
            FROM gold.quarantine_summary
        )
        SELECT d AS batch_date, e AS entity, rule, max(quarantined) AS quarantined,
               max(rejected) AS rejected, max(resolved) AS resolved
        FROM sides GROUP BY d, e, rule
        HAVING max(quarantined) IS DISTINCT FROM max(rejected) OR max(resolved) < 0
            OR max(resolved) > max(rejected)
        """,
        reads=("silver.transactions", "silver.customers", "silver.transaction_types"),
    ),
)


# --- the checks ----------------------------------------------------------------------------------


def run_partitions(context) -> list[str] | None:
    """The daily partitions the run covers; None for an unpartitioned run (check everything)."""
    tags = context.run.tags
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        return daily_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(start, end))
    return None


def evaluate(
    expectation: Expectation, warehouse: Warehouse, zone: LandingZone, partitions
) -> dg.AssetCheckResult:
    try:
        failing = expectation.failing_rows(warehouse, zone, partitions)
    except Exception as e:
        if not warehouse.is_missing_table(e):
            raise
        # Checks run on their own before the pipeline ever ran: nothing to check yet.
        return dg.AssetCheckResult(
            asset_key=expectation.asset_key,
            check_name=expectation.name,
            passed=False,
            severity=WARN,
            description=f"not checked: {e} (materialize the assets first)",
            metadata={"failing_rows": dg.MetadataValue.int(0)},
        )
    metadata = {
        "failing_rows": dg.MetadataValue.int(len(failing)),
        "scope": dg.MetadataValue.text(
            "all partitions" if partitions is None else ", ".join(partitions)
        ),
    }
    if len(failing):
        metadata["examples"] = dg.MetadataValue.md(markdown_preview(mask(failing), EXAMPLES))
    return dg.AssetCheckResult(
        asset_key=expectation.asset_key,
        check_name=expectation.name,
        passed=failing.empty,
        severity=expectation.severity,
        metadata=metadata,
    )


def _table_checks(table: str, expectations: list[Expectation]) -> dg.AssetChecksDefinition:
    by_key = {e.spec().key: e for e in expectations}

    @dg.multi_asset_check(
        name="checks_" + table.replace(".", "_"),
        specs=[e.spec() for e in expectations],
        can_subset=True,
        description=f"Data-quality checks of {table}.",
    )
    def _checks(
        context: dg.AssetCheckExecutionContext, warehouse: Warehouse, landing_zone: LandingZone
    ):
        partitions = run_partitions(context)
        for key in context.selected_asset_check_keys:
            yield evaluate(by_key[key], warehouse, landing_zone, partitions)

    return _checks


def _checks_by_table() -> list[dg.AssetChecksDefinition]:
    tables: dict[str, list[Expectation]] = {}
    for e in EXPECTATIONS:
        tables.setdefault(e.table, []).append(e)
    return [_table_checks(table, expectations) for table, expectations in tables.items()]


#: Freshness: the last FRESH_DAYS complete days (UTC) — from the first day ever materialized on —
#: must be materialized, each by 02:00 UTC the next day. Evaluated by every run of the job: the
#: daily schedule runs it even when no file arrived, so a day that never ran shows up.
FRESH_DAYS = 3
FRESH_DEADLINE_HOUR = 2


def missing_recent_partitions(instance: dg.DagsterInstance, now: datetime) -> list[str]:
    """Recent complete days whose deadline passed but whose silver partition never ran."""
    last_due = (now - timedelta(hours=FRESH_DEADLINE_HOUR)).date() - timedelta(days=1)
    first = daily_partitions.start.date()
    due = [
        (last_due - timedelta(days=n)).isoformat()
        for n in range(FRESH_DAYS)
        if last_due - timedelta(days=n) >= first
    ]
    done = instance.get_materialized_partitions(dg.AssetKey(["silver", "transactions"]))
    # Days before the pipeline's first day are not late: a new deployment starts somewhere.
    first_done = min(done, default=None)
    return sorted(d for d in due if d not in done and (first_done is None or d >= first_done))


@dg.asset_check(
    asset=dg.AssetKey(["silver", "transactions"]),
    name="recent_partitions_fresh",
    description=f"[WARN] The last {FRESH_DAYS} complete days (UTC) have been materialized, each "
    f"by {FRESH_DEADLINE_HOUR:02d}:00 UTC the next day (warns: a late day is not wrong data).",
)
def recent_partitions_fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
    missing = missing_recent_partitions(context.instance, datetime.now(UTC))
    return dg.AssetCheckResult(
        passed=not missing,
        severity=WARN,
        metadata={
            "failing_rows": dg.MetadataValue.int(len(missing)),
            "missing_partitions": dg.MetadataValue.json(missing),
        },
    )


quality_checks = [*_checks_by_table(), recent_partitions_fresh]
