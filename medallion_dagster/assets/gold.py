"""Gold: business metrics over all of silver, exact in integer minor units, per currency.

Revenue signs come from the transaction type (the contract): purchase and subscription add,
refund and chargeback subtract, transfer is counted but is not revenue.
"""

import dagster as dg
import pandas as pd

from lambda_src.contract import TYPE_SIGNS
from medallion_dagster.assets.common import OWNERS, SINGLE_RUN, layer_tags, schema
from medallion_dagster.io_manager import markdown_preview
from medallion_dagster.masking import mask
from medallion_dagster.reconciliation import QUARANTINE_SUMMARY
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
    """Exact integer mean, rounded half up (amounts are positive, so totals are too)."""
    return (total * 2 + count) // (count * 2)


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


@dg.asset(
    key=["gold", "customer_summary"],
    group_name="gold",
    owners=OWNERS,
    tags=layer_tags("gold"),
    backfill_policy=SINGLE_RUN,
    kinds={"sqlite", "pandas"},
    ins={
        "transactions": dg.AssetIn(key=["silver", "transactions"]),
        "customers": dg.AssetIn(key=["silver", "customers"]),
    },
    description="Per customer and currency: counts, gross and net revenue, average amount.",
    metadata={"dagster/column_schema": schema(CUSTOMER_SUMMARY_COLUMNS)},
)
def customer_summary(
    transactions: pd.DataFrame, customers: pd.DataFrame
) -> dg.Output[pd.DataFrame]:
    summary = build_customer_summary(transactions, customers)
    return dg.Output(
        summary, metadata={"top_customers": dg.MetadataValue.md(top_customers(summary))}
    )


def top_customers(summary: pd.DataFrame, n: int = 5) -> str:
    """Markdown: the top customers by net revenue in each currency, emails and names masked."""
    if summary.empty:
        return "_no transactions yet_"
    parts = []
    for currency, group in summary.groupby("currency", sort=True):
        top = group.nlargest(n, "net_revenue_minor")[
            ["customer_id", "customer_name", "email", "transaction_count", "net_revenue_minor"]
        ]
        parts.append(f"**{currency}**\n\n" + markdown_preview(mask(top), n))
    return "\n\n".join(parts)


@dg.asset(
    key=["gold", "daily_revenue"],
    group_name="gold",
    owners=OWNERS,
    tags=layer_tags("gold"),
    backfill_policy=SINGLE_RUN,
    kinds={"sqlite", "pandas"},
    ins={"transactions": dg.AssetIn(key=["silver", "transactions"])},
    description="Per occurred_at day (UTC), currency and type: count, amount and signed revenue.",
    metadata={"dagster/column_schema": schema(DAILY_REVENUE_COLUMNS)},
)
def daily_revenue(transactions: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    revenue = build_daily_revenue(transactions)
    return dg.Output(
        revenue, metadata={"revenue_by_type": dg.MetadataValue.md(revenue_by_type(revenue))}
    )


def revenue_by_type(revenue: pd.DataFrame) -> str:
    """Markdown: count and signed revenue (minor units) per currency and type, all days."""
    if revenue.empty:
        return "_no transactions yet_"
    table = (
        revenue.groupby(["currency", "transaction_type"], sort=True)[
            ["transaction_count", "revenue_minor"]
        ]
        .sum()
        .reset_index()
    )
    return markdown_preview(table, len(table))


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


gold_assets = [customer_summary, daily_revenue, quarantine_summary]
