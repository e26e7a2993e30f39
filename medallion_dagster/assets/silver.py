"""Silver: typed, validated, deduplicated entities; every rejected record quarantined with a reason.

- `silver/transactions` (daily): one row per transaction_id; within a partition the last
  occurrence (by arrival: file name, then line) wins; an id another partition already holds is
  rejected as `duplicate_transaction_id`. Money in integer minor units, parsed exactly.
- `silver/customer_updates` (daily): each batch's valid customer records, typed, the latest per
  customer within the batch; `silver/customers`: the current state (latest `updated_at`, then
  latest arrival wins) over all batches, merged in the warehouse from the updates' change log.
- `silver/transaction_types`: current state (latest arrival wins), rebuilt from all of bronze
  (a handful of rows).
- `silver/<entity>_quarantine`: the rejected records, the rule they broke, where they came from
  (daily for transactions and customers).
"""

import json
from datetime import UTC, datetime

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lambda_src.contract import (
    CURRENCY_EXPONENTS,
    ENTITY_COLUMNS,
    MAX_AMOUNT_MINOR,
    TYPE_SIGNS,
    AmountError,
    to_minor_units,
)
from medallion_dagster.assets.bronze import LINEAGE_COLUMNS
from medallion_dagster.assets.common import OWNERS, SINGLE_RUN, landing_columns, layer_tags, schema
from medallion_dagster.changes import Merge
from medallion_dagster.partitions import daily_partitions
from medallion_dagster.table_types import (
    PartitionChunk,
    PartitionChunks,
    PartitionedTable,
    SQLQuery,
)
from medallion_dagster.warehouse import PARTITION_COLUMN, Warehouse

ARRIVAL_ORDER = [PARTITION_COLUMN, "_source_key", "_line"]
#: ISO-8601 date or date-time with an optional offset: 2026-03-01, 2026-03-01T10:00,
#: 2026-03-01 10:00:00.123456+02:00, 2026-03-01T10:00:00Z. Words such as "now" are not dates.
ISO_TIMESTAMP = (
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:[zZ]|[+-]\d{2}(?::?\d{2})?)?"
)
BAD_TIMESTAMP = (
    "is not an ISO-8601 timestamp (YYYY-MM-DD[THH:MM[:SS[.ffffff]]][Z|+HH:MM]) "
    "between the years 1677 and 2262"
)
QUARANTINE_COLUMNS = {
    "rule": "The rule the record broke (see docs/ARCHITECTURE.md)",
    "detail": "What exactly was wrong",
    "_source_key": "Landing key of the file",
    "_line": "Record number in the file (0 = the whole file)",
    "record": "The record as received, as JSON",
    "record_key": "Its key (transaction_id, customer_id or type_id) with surrounding spaces "
    "removed, as silver would hold it; NULL when absent",
    "quarantined_at": "When the run rejected it (UTC; audit column)",
}


TRANSACTION_COLUMNS = {
    **landing_columns(
        ("transaction_id", "customer_id"), transaction_id="Transaction key (one row per id)"
    ),
    "occurred_at": "When the transaction happened (UTC)",
    "amount_minor": "Amount in integer minor units (1999 = 19.99 USD; JPY has none, KWD 3)",
    **landing_columns(("currency", "transaction_type")),
    "revenue_minor": "amount_minor times the type's sign (+1, -1, or 0 for transfers)",
    **{c: LINEAGE_COLUMNS[c] for c in ("_source_key", "_source_etag", "_line", "_ingested_at")},
}
CUSTOMER_COLUMNS = {
    **landing_columns(("customer_id", "name", "email", "location")),
    "created_at": "When the customer was created (UTC)",
    "updated_at": "When this record was last changed (UTC); the latest wins",
    "_source_key": LINEAGE_COLUMNS["_source_key"],
    "_line": LINEAGE_COLUMNS["_line"],
    "_batch_date": "Batch date of the record that won",
}
TYPE_COLUMNS = {
    **landing_columns(("type_id", "type_name")),
    "revenue_sign": "Sign the type gives revenue (the contract's)",
    "_batch_date": "Batch date of the record that won",
}
#: The key column of each entity: a quarantined record is resolved once its key is in silver.
RECORD_KEYS = {
    "transactions": "transaction_id",
    "customers": "customer_id",
    "transaction_types": "type_id",
}
QUARANTINE_SCHEMA = QUARANTINE_COLUMNS | {"_batch_date": "Batch date of the rejected record"}
CUSTOMER_DTYPES = {
    **dict.fromkeys(["customer_id", "name", "email", "location"], "str"),
    "created_at": "datetime64[us, UTC]",
    "updated_at": "datetime64[us, UTC]",
    "_source_key": "str",
    "_line": "Int64",
    "_batch_date": "str",
}
#: The customer record that wins: greatest by these columns (a later update, then a later arrival).
CUSTOMER_LATEST = ("updated_at", "_batch_date", "_source_key", "_line")
CURRENT_CUSTOMERS = f"""
SELECT {", ".join(CUSTOMER_DTYPES)}
FROM (SELECT *, row_number() OVER (
          PARTITION BY customer_id
          ORDER BY {", ".join(c + " DESC NULLS LAST" for c in CUSTOMER_LATEST)}) AS rank
      FROM {{source}}) AS r
WHERE rank = 1 ORDER BY customer_id
"""


def _out(key: str, description: str, columns: dict[str, str], **metadata) -> dg.AssetOut:
    return dg.AssetOut(
        key=["silver", key],
        description=description,
        kinds={"sqlite", "pandas"},
        owners=OWNERS,
        tags=layer_tags("silver"),
        metadata={"dagster/column_schema": schema(columns), **metadata},
    )


def _quarantine_out(entity: str, columns: dict[str, str] = QUARANTINE_SCHEMA) -> dg.AssetOut:
    return _out(
        f"{entity}_quarantine",
        f"Rejected {entity} records with the rule they broke, file and line.",
        columns,
    )


class Validation:
    """Collects, per row, the first rule it breaks."""

    def __init__(self, df: pd.DataFrame):
        self.df = df
        self.rule = pd.Series(None, index=df.index, dtype=object)
        self.detail = pd.Series(None, index=df.index, dtype=object)

    def flag(self, mask: pd.Series, rule: str, detail) -> None:
        new = mask & self.rule.isna()
        self.rule[new] = rule
        self.detail[new] = detail[new] if isinstance(detail, pd.Series) else detail

    def blank(self, column: str) -> pd.Series:
        values = self.df[column]
        return values.isna() | values.astype(str).str.strip().eq("")

    def require(self, *columns: str) -> None:
        for column in columns:
            self.flag(self.blank(column), f"{column}_missing", f"{column} is empty")

    def unparseable(self) -> None:
        self.flag(self.df["_parse_error"].notna(), "unparseable_record", self.df["_parse_error"])

    @property
    def ok(self) -> pd.Series:
        return self.rule.isna()

    def quarantine(self, entity: str, extra: pd.DataFrame | None = None) -> pd.DataFrame:
        bad = self.df[~self.ok]
        q = pd.DataFrame(
            {
                "rule": self.rule[~self.ok].astype("str"),
                "detail": self.detail[~self.ok].astype("str"),
            }
        )
        if extra is not None and not extra.empty:
            bad = pd.concat([bad, extra.drop(columns=["rule", "detail"])])
            q = pd.concat([q, extra[["rule", "detail"]].astype("str")])
        return quarantine_frame(entity, bad, q["rule"], q["detail"])


def quarantine_frame(entity, bad: pd.DataFrame, rule, detail) -> pd.DataFrame:
    columns = ENTITY_COLUMNS[entity]
    values = {
        c: [None if pd.isna(v) else v for v in bad[c]]
        for c in [*columns, *(["_raw"] if "_raw" in bad else [])]
    }

    def record(i: int) -> str:
        rec = {c: values[c][i] for c in columns}
        if "_raw" in values and values["_raw"][i] is not None:
            rec["_raw"] = values["_raw"][i]
        return json.dumps(rec, ensure_ascii=False)

    out = pd.DataFrame(
        {
            "rule": pd.Series(list(rule), dtype="str"),
            "detail": pd.Series(list(detail), dtype="str"),
            "_source_key": pd.Series(list(bad["_source_key"]), dtype="str"),
            "_line": pd.Series(list(bad["_line"]), dtype="Int64"),
            "record": pd.Series([record(i) for i in range(len(bad))], dtype="str"),
            "record_key": pd.Series(
                [v.strip() if isinstance(v, str) else None for v in values[RECORD_KEYS[entity]]],
                dtype="str",
            ),
            "quarantined_at": pd.Series(
                [datetime.now(UTC)] * len(bad), dtype="datetime64[us, UTC]"
            ),
        }
    )
    out[PARTITION_COLUMN] = pd.Series(list(bad[PARTITION_COLUMN]), dtype="str")
    return out


def parse_utc(values: pd.Series) -> pd.Series:
    """ISO-8601 text -> UTC timestamps (microseconds); NaT where the text is not one.
    Offsets are converted to UTC; a timestamp without an offset is taken as UTC."""
    text = values.astype("str").str.strip()
    iso = text.str.fullmatch(ISO_TIMESTAMP, na=False)
    cleaned = text.where(iso).str.replace(r"z$", "Z", regex=True)
    parsed = pd.to_datetime(cleaned, utc=True, format="ISO8601", errors="coerce")
    return parsed.astype("datetime64[us, UTC]")


#: Plain amounts the vectorised path handles: up to 15 integer digits, an optional fraction.
PLAIN_AMOUNT = r"^(?P<whole>[0-9]{1,15})(?:\.(?P<fraction>[0-9]{0,3}))?$"


def minor_units(
    amount: pd.Series, currency: pd.Series, todo: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """(minor units, error) per row where `todo`, exactly as `contract.to_minor_units` says.

    Plain amounts ("12.34", "1500") that fit the currency's decimals are converted with vectorised
    integer arithmetic; everything else (signs, exponents, extra decimals, zero, huge values,
    words) goes through `to_minor_units` one by one, which gives the precise error."""
    minor = pd.Series(pd.NA, index=amount.index, dtype="Int64")
    errors = pd.Series(None, index=amount.index, dtype=object)
    if not todo.any():
        return minor, errors
    text = pa.array(amount.astype("str").str.strip(), type=pa.large_string(), from_pandas=True)
    parts = pc.extract_regex(text, PLAIN_AMOUNT)  # Arrow: one C++ pass, null where no match
    whole_text = pd.Series(pc.struct_field(parts, "whole"), index=amount.index, dtype="str").astype(
        "str"
    )
    fraction = pd.Series(
        pc.struct_field(parts, "fraction"), index=amount.index, dtype="str"
    ).fillna("")
    exponent = currency.map(CURRENCY_EXPONENTS)
    digits = fraction.str.len()
    fast = todo & whole_text.notna() & exponent.notna() & digits.le(exponent.fillna(-1))
    if fast.any():
        e = exponent[fast].astype("int64")
        whole = whole_text[fast].astype("int64")
        frac = fraction[fast].str.ljust(3, "0").astype("int64") // 10 ** (3 - e)
        value = whole * 10**e + frac
        ok = value.gt(0) & value.le(MAX_AMOUNT_MINOR)
        fast.loc[fast] = ok
        minor[fast] = value[ok].astype("Int64")
    for i in amount.index[todo & ~fast]:
        try:
            minor[i] = to_minor_units(amount[i], currency[i])
        except AmountError as exc:
            errors[i] = str(exc)
    return minor, errors


# --- transactions --------------------------------------------------------------------------------


def validate_transactions(bronze: pd.DataFrame) -> tuple[pd.DataFrame, Validation]:
    """Type and check bronze transactions. Returns the typed frame (all rows) and the verdicts."""
    df = bronze.reset_index(drop=True)
    v = Validation(df)
    v.unparseable()
    v.require("transaction_id", "customer_id", "occurred_at", "amount", "currency")
    v.require("transaction_type")
    occurred = parse_utc(df["occurred_at"])
    v.flag(occurred.isna(), "occurred_at_invalid", "occurred_at " + BAD_TIMESTAMP)
    raw_currency = df["currency"].astype("str").str.strip()
    currency = raw_currency.str.upper()
    v.flag(
        ~raw_currency.str.fullmatch("[A-Za-z]{3}", na=False)
        | ~currency.isin(list(CURRENCY_EXPONENTS)),
        "currency_not_allowed",
        "currency " + df["currency"].astype("str") + " is not in the allowed set",
    )
    ttype = df["transaction_type"].astype("str").str.strip().str.lower()
    v.flag(
        ~ttype.isin(list(TYPE_SIGNS)),
        "type_not_allowed",
        "transaction_type " + df["transaction_type"].astype("str") + " is not one of the five",
    )
    minor, amount_errors = minor_units(df["amount"], currency, v.ok)
    v.flag(amount_errors.notna(), "amount_invalid", amount_errors)
    sign = ttype.map(TYPE_SIGNS).astype("Int64")
    typed = pd.DataFrame(
        {
            "transaction_id": df["transaction_id"].astype("str").str.strip(),
            "customer_id": df["customer_id"].astype("str").str.strip(),
            "occurred_at": occurred,
            "amount_minor": minor,
            "currency": currency,
            "transaction_type": ttype,
            "revenue_minor": minor * sign,
            "_source_key": df["_source_key"],
            "_source_etag": df["_source_etag"],
            "_line": df["_line"],
            "_ingested_at": df["_ingested_at"],
            PARTITION_COLUMN: df[PARTITION_COLUMN],
        }
    )
    return typed, v


def ids_held_elsewhere(
    warehouse: Warehouse, ids: pd.Series, partition_keys: list[str]
) -> dict[str, str]:
    """transaction_id -> partition, for ids silver holds in partitions not in `partition_keys`
    (those the run is about to replace). One query: each id is looked up in the id index."""
    if ids.empty or not warehouse.table_exists("silver", "transactions"):
        return {}
    with warehouse.connect("silver") as conn:
        rows = conn.execute(
            "SELECT t.transaction_id, min(t._partition) FROM main.transactions AS t "
            "WHERE t.transaction_id IN (SELECT value FROM json_each(?)) "
            "AND t._partition NOT IN (SELECT value FROM json_each(?)) "
            "GROUP BY t.transaction_id",
            (json.dumps(ids.drop_duplicates().tolist()), json.dumps(list(partition_keys))),
        ).fetchall()
    return dict(rows)


def split_transactions(
    bronze: pd.DataFrame,
    warehouse: Warehouse,
    partition_keys: list[str] | None = None,
    replacing: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(silver rows, quarantine rows, stats) for the partitions being written.

    One row per transaction_id across all of silver: within a partition the last occurrence
    wins; an id another partition already holds is a duplicate (a run writes only its own
    partitions, so it cannot take an id back from a partition that published it); within one
    multi-day run the earliest day keeps it. `replacing`: the partitions whose stored rows do not
    count as holding ids, because the run is replacing them (default: `partition_keys`; a run
    written in chunks passes this chunk's partitions and the later ones)."""
    if partition_keys is None:
        partition_keys = sorted(set(bronze[PARTITION_COLUMN]))
    if replacing is None:
        replacing = partition_keys
    bronze = bronze.sort_values(ARRIVAL_ORDER, kind="stable").reset_index(drop=True)
    typed, v = validate_transactions(bronze)
    good = typed[v.ok]
    deduped = good.drop_duplicates([PARTITION_COLUMN, "transaction_id"], keep="last")
    superseded = len(good) - len(deduped)
    first = deduped.drop_duplicates("transaction_id", keep="first")
    owner = dict(zip(first["transaction_id"], first[PARTITION_COLUMN], strict=True))
    owner |= ids_held_elsewhere(warehouse, deduped["transaction_id"], replacing)
    is_dup = deduped[PARTITION_COLUMN].ne(deduped["transaction_id"].map(owner))
    silver = deduped[~is_dup].reset_index(drop=True)
    dups = deduped[is_dup]
    dup_rows = bronze.loc[dups.index].assign(
        rule="duplicate_transaction_id",
        detail="transaction_id already in partition " + dups["transaction_id"].map(owner),
    )
    quarantine = v.quarantine("transactions", dup_rows)
    stats = {"superseded_in_batch": superseded, "duplicates_elsewhere": len(dups)}
    return silver, quarantine, stats


@dg.multi_asset(
    outs={
        "transactions": _out(
            "transactions",
            "Valid transactions, one row per transaction_id, amounts in integer minor units, "
            "timestamps in UTC.",
            TRANSACTION_COLUMNS,
            **{"medallion/indexes": ["transaction_id"]},
        ),
        "transactions_quarantine": _quarantine_out("transactions"),
    },
    ins={"bronze_transactions": dg.AssetIn(key=["bronze", "transactions"])},
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN,
    group_name="silver",
)
def silver_transactions(
    context: dg.AssetExecutionContext,
    bronze_transactions: PartitionedTable,
    warehouse: Warehouse,
):
    run_keys = list(context.partition_keys)
    quarantines: list[pd.DataFrame] = []
    stats = {"superseded_in_batch": 0, "duplicates_elsewhere": 0, "valid": 0}

    def chunks():
        # Chunks come in key order and each is committed before the next is computed: the ids
        # of earlier chunks count as held (the earliest day keeps an id), those of this and
        # later chunks' old rows do not (they are being replaced).
        for keys, bronze in bronze_transactions.chunks():
            replacing = [k for k in run_keys if k >= keys[0]]
            silver, quarantine, counts = split_transactions(bronze, warehouse, keys, replacing)
            for name, n in counts.items():
                stats[name] += n
            stats["valid"] += len(silver)
            quarantines.append(quarantine)
            yield PartitionChunk(keys, silver)

    transactions = PartitionChunks(chunks())
    transactions.metadata = stats
    yield dg.Output(transactions, "transactions")
    quarantine = pd.concat(quarantines, ignore_index=True)
    context.log.info(
        f"{stats['valid']} valid, {len(quarantine)} quarantined, "
        f"{stats['superseded_in_batch']} superseded within their batch"
    )
    yield dg.Output(
        quarantine,
        "transactions_quarantine",
        metadata={"by_rule": dg.MetadataValue.json(quarantine["rule"].value_counts().to_dict())},
    )


# --- reference data: current state over all partitions -------------------------------------------


def customer_updates(bronze: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The valid customer records of each batch date, typed, the latest per customer within its
    batch (latest `updated_at`, ties to the latest arrival), and the rejected ones; both keep
    `_partition`. `silver.customers` keeps the latest of these over all batches."""
    df = bronze.sort_values(ARRIVAL_ORDER, kind="stable").reset_index(drop=True)
    v = Validation(df)
    v.unparseable()
    v.require("customer_id", "updated_at")
    updated = parse_utc(df["updated_at"])
    v.flag(updated.isna(), "updated_at_invalid", "updated_at " + BAD_TIMESTAMP)
    created = parse_utc(df["created_at"])
    v.flag(
        created.isna() & ~v.blank("created_at"), "created_at_invalid", "created_at " + BAD_TIMESTAMP
    )
    email = df["email"].astype("str").str.strip()
    v.flag(
        ~v.blank("email") & ~email.str.contains("@", regex=False),
        "email_invalid",
        "email has no @",
    )
    typed = pd.DataFrame(
        {
            "customer_id": df["customer_id"].astype("str").str.strip(),
            "name": df["name"].astype("str"),
            "email": email,
            "location": df["location"].astype("str"),
            "created_at": created,
            "updated_at": updated,
            "_source_key": df["_source_key"],
            "_line": df["_line"],
            "_batch_date": df[PARTITION_COLUMN].astype("str"),
            PARTITION_COLUMN: df[PARTITION_COLUMN].astype("str"),
        }
    )[v.ok]
    # Latest updated_at wins; ties go to the latest arrival (stable sort keeps arrival order).
    latest = typed.sort_values("updated_at", kind="stable").drop_duplicates(
        [PARTITION_COLUMN, "customer_id"], keep="last"
    )
    return latest.sort_values([PARTITION_COLUMN, "customer_id"]).reset_index(
        drop=True
    ), v.quarantine("customers")


def current_customers(updates: pd.DataFrame) -> pd.DataFrame:
    """The pandas formulation of `CURRENT_CUSTOMERS` (the tests hold the SQL to it)."""
    latest = updates.sort_values(list(CUSTOMER_LATEST), kind="stable").drop_duplicates(
        "customer_id", keep="last"
    )
    return latest.sort_values("customer_id").reset_index(drop=True)[list(CUSTOMER_COLUMNS)]


def current_transaction_types(bronze: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = bronze.sort_values(ARRIVAL_ORDER, kind="stable").reset_index(drop=True)
    v = Validation(df)
    v.unparseable()
    v.require("type_id", "type_name")
    name = df["type_name"].astype("str").str.strip().str.lower()
    v.flag(~name.isin(list(TYPE_SIGNS)), "type_not_allowed", "type_name is not one of the five")
    typed = pd.DataFrame(
        {
            "type_id": df["type_id"].astype("str").str.strip(),
            "type_name": name,
            "revenue_sign": name.map(TYPE_SIGNS).astype("Int64"),
            "_batch_date": df[PARTITION_COLUMN].astype("str"),
        }
    )[v.ok]
    latest = typed.drop_duplicates("type_id", keep="last").sort_values("type_id")
    return latest.reset_index(drop=True), _unpartitioned(v.quarantine("transaction_types"))


def _unpartitioned(quarantine: pd.DataFrame) -> pd.DataFrame:
    return quarantine.rename(columns={PARTITION_COLUMN: "_batch_date"})


def _reference_outs(entity: str, description: str, columns: dict[str, str], **metadata):
    return {
        entity: _out(entity, description, columns, **metadata),
        f"{entity}_quarantine": _quarantine_out(entity),
    }


@dg.multi_asset(
    name="silver_customers",
    outs={
        "customer_updates": _out(
            "customer_updates",
            "The valid customer records of each batch date, typed; the latest per customer "
            "within its batch. silver/customers is maintained from this table's changes.",
            CUSTOMER_COLUMNS,
            **{
                "medallion/changes_key": ["customer_id"],
                # a customer's updates, and one of them by batch: merges and checks look them up
                "medallion/indexes": [["customer_id", PARTITION_COLUMN]],
            },
        ),
        # partitioned: its batch date is `_partition`, described by the IO manager
        "customers_quarantine": _quarantine_out("customers", QUARANTINE_COLUMNS),
    },
    ins={"bronze": dg.AssetIn(key=["bronze", "customers"])},
    partitions_def=daily_partitions,
    backfill_policy=SINGLE_RUN,
    group_name="silver",
)
def silver_customers(context: dg.AssetExecutionContext, bronze: pd.DataFrame):
    updates, quarantine = customer_updates(bronze)
    context.log.info(f"{len(updates)} customer updates, {len(quarantine)} quarantined")
    yield dg.Output(updates, "customer_updates")
    yield dg.Output(quarantine, "customers_quarantine")


@dg.asset(
    key=["silver", "customers"],
    group_name="silver",
    owners=OWNERS,
    tags=layer_tags("silver"),
    kinds={"sqlite", "sql"},
    backfill_policy=SINGLE_RUN,
    deps=[dg.AssetKey(["silver", "customer_updates"])],
    description="Current state per customer over all batches (latest updated_at wins; ties go "
    "to the latest arrival). Maintained from silver/customer_updates' changes: a run merges the "
    "customers its batches changed.",
    metadata={"dagster/column_schema": schema(CUSTOMER_COLUMNS)},
)
def silver_customers_current() -> SQLQuery:
    return SQLQuery(
        CURRENT_CUSTOMERS,
        CUSTOMER_DTYPES,
        indexes=("customer_id",),
        incremental_from="silver.customer_updates",
        merge=Merge(keys=("customer_id",), latest=CUSTOMER_LATEST),
    )


def _reference_asset(
    entity: str, build, description: str, columns: dict[str, str], key: str
) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name=f"silver_{entity}",
        outs=_reference_outs(entity, description, columns, **{"medallion/indexes": [key]}),
        ins={"bronze": dg.AssetIn(key=["bronze", entity])},
        backfill_policy=SINGLE_RUN,
        group_name="silver",
    )
    def _asset(context: dg.AssetExecutionContext, bronze: pd.DataFrame):
        current, quarantine = build(bronze)
        context.log.info(f"{len(current)} current {entity}, {len(quarantine)} quarantined")
        yield dg.Output(current, entity)
        yield dg.Output(quarantine, f"{entity}_quarantine")

    return _asset


silver_transaction_types = _reference_asset(
    "transaction_types",
    current_transaction_types,
    "The transaction types and the sign each applies to revenue.",
    TYPE_COLUMNS,
    key="type_name",
)
silver_assets = [
    silver_transactions,
    silver_customers,
    silver_customers_current,
    silver_transaction_types,
]
