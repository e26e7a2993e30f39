"""Gold: business metrics over all of silver, exact in integer minor units, per currency.

Revenue signs come from the transaction type (the contract): purchase and subscription add,
refund and chargeback subtract, transfer is counted but is not revenue.
"""

import dagster as dg
import pandas as pd

from lambda_src.contract import TYPE_SIGNS
from medallion_dagster.assets.common import OWNERS, SINGLE_RUN, layer_tags, schema
from medallion_dagster.changes import Merge
from medallion_dagster.partitions import daily_partitions
from medallion_dagster.reconciliation import QUARANTINE_SUMMARY
from medallion_dagster.table_types import SQLQuery
from medallion_dagster.warehouse import Warehouse

CUSTOMER_SUMMARY_COLUMNS = {
    "customer_id": "Customer",
    "currency": "ISO 4217 currency; nothing is converted",
    "customer_name": "Name from silver.customers (NULL if the customer is unknown)",
    "email": "Email from silver.customers",
    "transaction_count": "All transactions of this customer in this currency, transfers included",
    "gross_revenue_minor": "Sum of purchase and subscription amounts (minor units)",
    "refunded_minor": "Sum of refund and chargeback amounts (minor units, positive)",
    "net_revenue_minor": "gross_revenue_minor - refunded_minor",
    "avg_amount_minor": "Mean transaction amount, rounded half up to a whole minor unit",
    "first_occurred_at": "Earliest transaction (UTC)",
    "last_occurred_at": "Latest transaction (UTC)",
}
DAILY_REVENUE_COLUMNS = {
    "occurred_date": "UTC day of occurred_at (not the batch date)",
    "currency": "ISO 4217 currency",
    "transaction_type": "One of the five types",
    "transaction_count": "Transactions of that day, currency and type",
    "amount_minor": "Sum of amounts (minor units, positive)",
    "revenue_minor": "Signed contribution to revenue (0 for transfers)",
}


def checked_sums(grouped, column: str) -> pd.Series:
    """Exact Int64 sums per group that fail loudly instead of wrapping around on overflow."""
    sums = grouped[column].sum().astype("Int64")
    shadow = grouped[column].apply(lambda s: float(s.astype("float64").sum()))
    if (shadow.abs() >= 2.0**63 * 0.99).any():
        raise OverflowError(f"a sum of {column} exceeds the 64-bit integer range")
    return sums


def _round_half_up_div(total: pd.Series, count: pd.Series) -> pd.Series:
    """Exact integer mean, rounded half up (amounts are positive, so totals are too), without
    doubling the total (2 x a total near the 64-bit limit would overflow)."""
    return total // count + (2 * (total % count) >= count).astype("Int64")


def build_customer_summary(transactions: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    tx = transactions
    sign = tx["transaction_type"].map(TYPE_SIGNS)
    tx = tx.assign(
        gross=tx["amount_minor"].where(sign.eq(1), 0),
        refunded=tx["amount_minor"].where(sign.eq(-1), 0),
    )
    g = tx.groupby(["customer_id", "currency"], sort=True)
    out = pd.DataFrame(
        {
            "transaction_count": g.size().astype("Int64"),
            "gross_revenue_minor": checked_sums(g, "gross"),
            "refunded_minor": checked_sums(g, "refunded"),
            "amount_total": checked_sums(g, "amount_minor"),
            "first_occurred_at": g["occurred_at"].min(),
            "last_occurred_at": g["occurred_at"].max(),
        }
    ).reset_index()
    out["net_revenue_minor"] = out["gross_revenue_minor"] - out["refunded_minor"]
    out["avg_amount_minor"] = _round_half_up_div(out["amount_total"], out["transaction_count"])
    people = customers[["customer_id", "name", "email"]].rename(columns={"name": "customer_name"})
    out = out.merge(people, on="customer_id", how="left")
    return out[list(CUSTOMER_SUMMARY_COLUMNS)].astype(
        {"customer_id": "str", "currency": "str", "customer_name": "str", "email": "str"}
    )


def build_daily_revenue(transactions: pd.DataFrame) -> pd.DataFrame:
    tx = transactions.assign(occurred_date=transactions["occurred_at"].dt.date)
    g = tx.groupby(["occurred_date", "currency", "transaction_type"], sort=True)
    out = pd.DataFrame(
        {
            "transaction_count": g.size().astype("Int64"),
            "amount_minor": checked_sums(g, "amount_minor"),
            "revenue_minor": checked_sums(g, "revenue_minor"),
        }
    ).reset_index()
    out["occurred_date"] = out["occurred_date"].astype(object)
    return out[list(DAILY_REVENUE_COLUMNS)].astype({"currency": "str", "transaction_type": "str"})


# --- in the warehouse: per-batch partial aggregates, then the all-history tables ------------------
#
# A run writes the partials of its own batch dates only (reading just those silver partitions);
# the all-history tables recompute only the keys whose partials changed (Warehouse.write_query).
# `build_customer_summary` / `build_daily_revenue` above are the pandas formulation of the same
# tables: the tests and `bench/gold.py` hold the SQL to them.

TIMESTAMP = "datetime64[us, UTC]"
DAILY_REVENUE_DTYPES = {
    "occurred_date": "date",
    "currency": "str",
    "transaction_type": "str",
    "transaction_count": "Int64",
    "amount_minor": "Int64",
    "revenue_minor": "Int64",
}
CUSTOMER_TOTALS_COLUMNS = {
    "customer_id": "Customer",
    "currency": "ISO 4217 currency",
    "transaction_count": "Transactions, transfers included",
    "gross_revenue_minor": "Sum of amounts with a positive revenue sign (minor units)",
    "refunded_minor": "Sum of amounts with a negative revenue sign (minor units, positive)",
    "amount_total_minor": "Sum of all amounts (minor units), for the average",
    "first_occurred_at": "Earliest transaction (UTC)",
    "last_occurred_at": "Latest transaction (UTC)",
}
CUSTOMER_TOTALS_DTYPES = {
    "customer_id": "str",
    "currency": "str",
    **dict.fromkeys(
        ["transaction_count", "gross_revenue_minor", "refunded_minor", "amount_total_minor"],
        "Int64",
    ),
    "first_occurred_at": TIMESTAMP,
    "last_occurred_at": TIMESTAMP,
}
CUSTOMER_SUMMARY_DTYPES = {
    "customer_id": "str",
    "currency": "str",
    "customer_name": "str",
    "email": "str",
    **dict.fromkeys(
        [
            "transaction_count",
            "gross_revenue_minor",
            "refunded_minor",
            "net_revenue_minor",
            "avg_amount_minor",
        ],
        "Int64",
    ),
    "first_occurred_at": TIMESTAMP,
    "last_occurred_at": TIMESTAMP,
}
DAILY_REVENUE_KEY = ("occurred_date", "currency", "transaction_type")
CUSTOMER_TOTALS_KEY = ("customer_id", "currency")
PARTIAL = "Partial aggregate of one batch date's silver rows; summed over all batches by "

DAILY_REVENUE_PARTIALS = """
SELECT substr(occurred_at, 1, 10) AS occurred_date, currency, transaction_type,
       count(*) AS transaction_count, sum(amount_minor) AS amount_minor,
       sum(revenue_minor) AS revenue_minor, _partition
FROM silver.transactions WHERE _partition IN {partitions}
GROUP BY _partition, 1, 2, 3
"""
DAILY_REVENUE = """
SELECT occurred_date, currency, transaction_type, sum(transaction_count) AS transaction_count,
       sum(amount_minor) AS amount_minor, sum(revenue_minor) AS revenue_minor
FROM {source} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
CUSTOMER_TOTALS_PARTIALS = """
SELECT customer_id, currency, count(*) AS transaction_count,
       sum(CASE WHEN revenue_minor > 0 THEN amount_minor ELSE 0 END) AS gross_revenue_minor,
       sum(CASE WHEN revenue_minor < 0 THEN amount_minor ELSE 0 END) AS refunded_minor,
       sum(amount_minor) AS amount_total_minor,
       min(occurred_at) AS first_occurred_at, max(occurred_at) AS last_occurred_at, _partition
FROM silver.transactions WHERE _partition IN {partitions}
GROUP BY _partition, 1, 2
"""
CUSTOMER_TOTALS = """
SELECT customer_id, currency, sum(transaction_count) AS transaction_count,
       sum(gross_revenue_minor) AS gross_revenue_minor, sum(refunded_minor) AS refunded_minor,
       sum(amount_total_minor) AS amount_total_minor,
       min(first_occurred_at) AS first_occurred_at, max(last_occurred_at) AS last_occurred_at
FROM {source} GROUP BY 1, 2 ORDER BY 1, 2
"""
#: Names come from silver.customers as it is now: one row per customer and currency, rebuilt
#: whole (its size is the number of customers, not the history).
CUSTOMER_SUMMARY = """
SELECT t.customer_id, t.currency, c.name AS customer_name, c.email,
       t.transaction_count, t.gross_revenue_minor, t.refunded_minor,
       t.gross_revenue_minor - t.refunded_minor AS net_revenue_minor,
       t.amount_total_minor / t.transaction_count
           + CAST(2 * (t.amount_total_minor % t.transaction_count) >= t.transaction_count
                  AS INTEGER) AS avg_amount_minor,
       t.first_occurred_at, t.last_occurred_at
FROM gold.customer_totals AS t LEFT JOIN silver.customers AS c ON c.customer_id = t.customer_id
ORDER BY t.customer_id, t.currency
"""
TOP_CUSTOMERS = """
SELECT currency, customer_id, customer_name, email, transaction_count, net_revenue_minor
FROM (SELECT *, row_number() OVER (PARTITION BY currency
                                   ORDER BY net_revenue_minor DESC, customer_id) AS rank
      FROM {table})
WHERE rank <= 5 ORDER BY currency, rank
"""
REVENUE_BY_TYPE = """
SELECT currency, transaction_type, sum(transaction_count) AS transaction_count,
       sum(revenue_minor) AS revenue_minor
FROM {table} GROUP BY 1, 2 ORDER BY 1, 2
"""


def _gold(name: str, description: str, columns: dict[str, str], deps, **kwargs):
    return dg.asset(
        key=["gold", name],
        group_name="gold",
        owners=OWNERS,
        tags=layer_tags("gold"),
        backfill_policy=SINGLE_RUN,
        kinds={"sqlite", "sql"},
        deps=deps,
        description=description,
        metadata={"dagster/column_schema": schema(columns)},
        **kwargs,
    )


@_gold(
    "daily_revenue_partials",
    PARTIAL + "gold/daily_revenue.",
    {**DAILY_REVENUE_COLUMNS, "occurred_date": "UTC day of occurred_at"},
    deps=[dg.AssetKey(["silver", "transactions"])],
    partitions_def=daily_partitions,
)
def daily_revenue_partials() -> SQLQuery:
    return SQLQuery(
        DAILY_REVENUE_PARTIALS,
        DAILY_REVENUE_DTYPES,
        changes_key=DAILY_REVENUE_KEY,
    )


@_gold(
    "daily_revenue",
    "Per occurred_at day (UTC), currency and type: count, amount and signed revenue. "
    "Maintained from the partials' changes: a run adds what its batches changed.",
    DAILY_REVENUE_COLUMNS,
    deps=[daily_revenue_partials],
)
def daily_revenue() -> SQLQuery:
    return SQLQuery(
        DAILY_REVENUE,
        DAILY_REVENUE_DTYPES,
        incremental_from="gold.daily_revenue_partials",
        merge=Merge(
            keys=DAILY_REVENUE_KEY,
            sums=("transaction_count", "amount_minor", "revenue_minor"),
            count="transaction_count",
        ),
        previews={"revenue_by_type": REVENUE_BY_TYPE},
    )


@_gold(
    "customer_totals_partials",
    PARTIAL + "gold/customer_totals.",
    CUSTOMER_TOTALS_COLUMNS,
    deps=[dg.AssetKey(["silver", "transactions"])],
    partitions_def=daily_partitions,
)
def customer_totals_partials() -> SQLQuery:
    return SQLQuery(
        CUSTOMER_TOTALS_PARTIALS,
        CUSTOMER_TOTALS_DTYPES,
        changes_key=CUSTOMER_TOTALS_KEY,
        # covering: a changed customer's partials are read from the index alone, in key order
        indexes=(tuple(CUSTOMER_TOTALS_DTYPES),),
    )


@_gold(
    "customer_totals",
    "Per customer and currency over all history, maintained from the partials' changes (sums "
    "added, first/last combined; a customer whose first or last transaction was replaced is "
    "recomputed).",
    CUSTOMER_TOTALS_COLUMNS,
    deps=[customer_totals_partials],
)
def customer_totals() -> SQLQuery:
    return SQLQuery(
        CUSTOMER_TOTALS,
        CUSTOMER_TOTALS_DTYPES,
        incremental_from="gold.customer_totals_partials",
        merge=Merge(
            keys=CUSTOMER_TOTALS_KEY,
            sums=(
                "transaction_count",
                "gross_revenue_minor",
                "refunded_minor",
                "amount_total_minor",
            ),
            mins=("first_occurred_at",),
            maxs=("last_occurred_at",),
            count="transaction_count",
        ),
    )


@_gold(
    "customer_summary",
    "Per customer and currency: counts, gross and net revenue, average amount, with the "
    "customer's current name and email.",
    CUSTOMER_SUMMARY_COLUMNS,
    deps=[customer_totals, dg.AssetKey(["silver", "customers"])],
)
def customer_summary() -> SQLQuery:
    return SQLQuery(
        CUSTOMER_SUMMARY, CUSTOMER_SUMMARY_DTYPES, previews={"top_customers": TOP_CUSTOMERS}
    )


QUARANTINE_SUMMARY_COLUMNS = {
    "batch_date": "Batch date (partition) of the rejected records",
    "entity": "transactions, customers or transaction_types",
    "rule": "The rule they broke (docs/ARCHITECTURE.md)",
    "rejected": "Records rejected for this rule on this day",
    "resolved": "Of those, records whose key is in silver now (fixed and re-landed, or a "
    "duplicate counted once elsewhere)",
    "open": "rejected - resolved: still to be fixed at the source",
}


@dg.asset(
    key=["gold", "quarantine_summary"],
    group_name="gold",
    owners=OWNERS,
    tags=layer_tags("gold"),
    backfill_policy=SINGLE_RUN,
    kinds={"sqlite", "sql"},
    deps=[
        dg.AssetKey(["silver", name])
        for name in (
            "transactions",
            "transactions_quarantine",
            "customers",
            "customers_quarantine",
            "transaction_types",
            "transaction_types_quarantine",
        )
    ],
    description="Rejections per batch date, entity and rule, and how many are resolved "
    "(their key reached silver later). Computed in SQL inside the warehouse.",
    metadata={"dagster/column_schema": schema(QUARANTINE_SUMMARY_COLUMNS)},
)
def quarantine_summary(warehouse: Warehouse) -> pd.DataFrame:
    df = warehouse.query(QUARANTINE_SUMMARY)
    df = df.astype({"rejected": "Int64", "resolved": "Int64"})
    df["open"] = df["rejected"] - df["resolved"]
    return df.astype({"batch_date": "str", "entity": "str", "rule": "str"})[
        list(QUARANTINE_SUMMARY_COLUMNS)
    ]


gold_assets = [
    daily_revenue_partials,
    daily_revenue,
    customer_totals_partials,
    customer_totals,
    customer_summary,
    quarantine_summary,
]
