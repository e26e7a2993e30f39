"""Independent recomputations the checks compare the tables with.

Written as SQL over the warehouse (and the producers' manifests), never by calling the pandas code
that built silver and gold, so a fault in that code cannot hide itself.
"""

import json

import pandas as pd

from lambda_src.contract import TYPE_SIGNS
from medallion_dagster.landing_zone import LandingZone
from medallion_dagster.warehouse import Warehouse

#: The contract's sign of each transaction type, as a SQL expression over `transaction_type`.
SIGN_SQL = (
    "CASE transaction_type "
    + " ".join(f"WHEN '{name}' THEN {sign}" for name, sign in TYPE_SIGNS.items())
    + " END"
)

DAILY_REVENUE_MISMATCHES = f"""
WITH s AS (
    SELECT substr(occurred_at, 1, 10) AS occurred_date, currency, transaction_type,
           count(*) AS n, sum(amount_minor) AS amount, sum(amount_minor * {SIGN_SQL}) AS revenue
    FROM silver.transactions GROUP BY 1, 2, 3
)
SELECT coalesce(s.occurred_date, g.occurred_date) AS occurred_date,
       coalesce(s.currency, g.currency) AS currency,
       coalesce(s.transaction_type, g.transaction_type) AS transaction_type,
       s.n AS silver_count, g.transaction_count AS gold_count,
       s.amount AS silver_amount_minor, g.amount_minor AS gold_amount_minor,
       s.revenue AS silver_revenue_minor, g.revenue_minor AS gold_revenue_minor
FROM s FULL OUTER JOIN gold.daily_revenue AS g
  ON g.occurred_date = s.occurred_date AND g.currency = s.currency
 AND g.transaction_type = s.transaction_type
WHERE s.n IS NOT g.transaction_count OR s.amount IS NOT g.amount_minor
   OR s.revenue IS NOT g.revenue_minor
"""

CUSTOMER_SUMMARY_MISMATCHES = f"""
WITH s AS (
    SELECT customer_id, currency, count(*) AS n,
           sum(CASE WHEN {SIGN_SQL} = 1 THEN amount_minor ELSE 0 END) AS gross,
           sum(CASE WHEN {SIGN_SQL} = -1 THEN amount_minor ELSE 0 END) AS refunded,
           sum(amount_minor) AS total,
           min(occurred_at) AS first_at, max(occurred_at) AS last_at
    FROM silver.transactions GROUP BY 1, 2
), j AS (
    SELECT coalesce(s.customer_id, g.customer_id) AS customer_id,
           coalesce(s.currency, g.currency) AS currency,
           s.n, s.gross, s.refunded, s.gross - s.refunded AS net,
           (2 * s.total + s.n) / (2 * s.n) AS avg_amount, s.first_at, s.last_at,
           g.transaction_count, g.gross_revenue_minor, g.refunded_minor, g.net_revenue_minor,
           g.avg_amount_minor, g.first_occurred_at, g.last_occurred_at,
           g.customer_name, g.email
    FROM s FULL OUTER JOIN gold.customer_summary AS g
      ON g.customer_id = s.customer_id AND g.currency = s.currency
)
SELECT j.customer_id, j.currency,
       j.n AS silver_count, j.transaction_count AS gold_count,
       j.gross AS silver_gross_minor, j.gross_revenue_minor AS gold_gross_minor,
       j.refunded AS silver_refunded_minor, j.refunded_minor AS gold_refunded_minor,
       j.net AS silver_net_minor, j.net_revenue_minor AS gold_net_minor,
       j.avg_amount AS silver_avg_minor, j.avg_amount_minor AS gold_avg_minor,
       j.customer_name AS gold_name, c.name AS silver_name,
       j.email AS gold_email, c.email AS silver_email
FROM j LEFT JOIN silver.customers AS c ON c.customer_id = j.customer_id
WHERE j.n IS NOT j.transaction_count OR j.gross IS NOT j.gross_revenue_minor
   OR j.refunded IS NOT j.refunded_minor OR j.net IS NOT j.net_revenue_minor
   OR j.avg_amount IS NOT j.avg_amount_minor
   OR j.first_at IS NOT j.first_occurred_at OR j.last_at IS NOT j.last_occurred_at
   OR c.name IS NOT j.customer_name OR c.email IS NOT j.email
"""

#: Rejections per batch date, entity and rule; `resolved` = the record's key is in silver now
#: (fixed and re-landed later, or — for duplicate_transaction_id — counted once elsewhere).
QUARANTINE_SUMMARY = """
WITH q AS (
    SELECT _partition AS batch_date, 'transactions' AS entity, rule,
           trim(json_extract(record, '$.transaction_id')) AS record_key
    FROM silver.transactions_quarantine
    UNION ALL
    SELECT _batch_date, 'customers', rule, trim(json_extract(record, '$.customer_id'))
    FROM silver.customers_quarantine
    UNION ALL
    SELECT _batch_date, 'transaction_types', rule, trim(json_extract(record, '$.type_id'))
    FROM silver.transaction_types_quarantine
)
SELECT batch_date, entity, rule, count(*) AS rejected,
       sum(CASE
           WHEN entity = 'transactions' AND EXISTS (
                SELECT 1 FROM silver.transactions t WHERE t.transaction_id = q.record_key) THEN 1
           WHEN entity = 'customers' AND EXISTS (
                SELECT 1 FROM silver.customers c WHERE c.customer_id = q.record_key) THEN 1
           WHEN entity = 'transaction_types' AND EXISTS (
                SELECT 1 FROM silver.transaction_types y WHERE y.type_id = q.record_key) THEN 1
           ELSE 0 END) AS resolved
FROM q
GROUP BY batch_date, entity, rule
ORDER BY batch_date, entity, rule
"""


def manifests(zone: LandingZone, day: str) -> list[tuple[str, dict]]:
    """(key, manifest) for every readable manifest of a batch date; unreadable ones are skipped
    (the manifest is the producer's claim, not data)."""
    out = []
    for obj in zone.list_objects(f"_manifests/dt={day}/"):
        if not obj.key.endswith(".json"):
            continue
        try:
            manifest = json.loads(zone.read(obj.key))
            if isinstance(manifest, dict) and isinstance(manifest.get("files"), list):
                out.append((obj.key, manifest))
        except (ValueError, OSError):
            continue
    return out


def _count_by_key(warehouse: Warehouse, table: str, keys: list[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = warehouse.query(
        f"SELECT _source_key AS k, count(*) AS n FROM {table} "
        "WHERE _source_key IN (SELECT value FROM json_each(?)) GROUP BY _source_key",
        (json.dumps(keys),),
    )
    return dict(zip(rows["k"], rows["n"], strict=True))


def manifest_mismatches(zone: LandingZone, warehouse: Warehouse, days: list[str]) -> pd.DataFrame:
    """Every measure where the warehouse disagrees with the producers' manifests of `days`.

    Per file: `<entity>.received` — bronze holds as many rows as the manifest says it sent.
    Per day, over its batches (a batch delivered twice — a retried Lambda — counts once where
    ids are concerned, every copy where rows are):
    - `transactions.valid`: distinct valid transactions = the batches' ids found in silver
      (in any partition: an id re-sent on a later day is counted where it first arrived);
    - `transactions.quarantined`: rows quarantined for a rule other than duplicate_transaction_id
      = the dirty records sent;
    - `transactions.accounted`: records sent = silver rows from the day's files + quarantined
      rows + exact re-sends within a batch + the rows of repeated deliveries;
    - `<currency>/<type>.count` and `.amount_minor` = the producers' control totals.
    """
    rows = []
    for day in days:
        found = manifests(zone, day)
        if not found:
            continue
        batches: dict[tuple, list[dict]] = {}
        for _, m in found:
            totals = m.get("control_totals", {}).get("transactions", {})
            identity = (m.get("batch_id"), json.dumps(totals, sort_keys=True, default=str))
            batches.setdefault(identity, []).append(m)
        files = [f for _, m in found for f in m["files"] if isinstance(f, dict) and "key" in f]
        keys = [f["key"] for f in files]
        received = {}
        for entity in ("transactions", "customers", "transaction_types"):
            received |= _count_by_key(warehouse, f"bronze.{entity}", keys)
        for f in files:
            if received.get(f["key"], 0) != int(f.get("records", 0)):
                rows.append(
                    (
                        day,
                        f"{f.get('entity')}.received",
                        f.get("records"),
                        received.get(f["key"], 0),
                        f["key"],
                    )
                )
        tx_keys = json.dumps([f["key"] for f in files if f.get("entity") == "transactions"])
        silver = warehouse.query(
            "SELECT currency, transaction_type, count(*) AS n, sum(amount_minor) AS amount "
            "FROM silver.transactions WHERE transaction_id IN ("
            "  SELECT trim(transaction_id) FROM bronze.transactions"
            "  WHERE _partition = ? AND _source_key IN (SELECT value FROM json_each(?))"
            ") GROUP BY 1, 2",
            (day, tx_keys),
        )
        counts = warehouse.query(
            "SELECT (SELECT count(*) FROM silver.transactions WHERE _partition = :day "
            "        AND _source_key IN (SELECT value FROM json_each(:keys))) AS from_files, "
            "       (SELECT count(*) FROM silver.transactions_quarantine WHERE _partition = :day "
            "        AND _source_key IN (SELECT value FROM json_each(:keys))) AS quarantined, "
            "       (SELECT count(*) FROM silver.transactions_quarantine WHERE _partition = :day "
            "        AND _source_key IN (SELECT value FROM json_each(:keys)) "
            "        AND rule != 'duplicate_transaction_id') AS invalid",
            {"day": day, "keys": tx_keys},
        ).iloc[0]
        first = [
            copies[0].get("control_totals", {}).get("transactions", {})
            for copies in batches.values()
        ]
        every = [m.get("control_totals", {}).get("transactions", {}) for _, m in found]
        repeats = [
            c.get("control_totals", {}).get("transactions", {})
            for copies in batches.values()
            for c in copies[1:]
        ]
        records = sum(int(f.get("records", 0)) for f in files if f.get("entity") == "transactions")
        valid = int(silver["n"].sum())
        measures = [
            ("transactions.valid", _sum(first, "valid"), valid),
            ("transactions.quarantined", _sum(every, "dirty"), int(counts["invalid"])),
            (
                "transactions.accounted",
                records,
                int(counts["from_files"])
                + int(counts["quarantined"])
                + (_sum(every, "duplicates") or 0)
                + (_sum(repeats, "valid") or 0),
            ),
        ]
        expected: dict[tuple[str, str], list[int]] = {}
        for totals in first:
            for currency, by_type in (totals.get("by_currency_type") or {}).items():
                for ttype, cell in by_type.items():
                    acc = expected.setdefault((currency, ttype), [0, 0])
                    acc[0] += int(cell.get("count", 0))
                    acc[1] += int(cell.get("amount_minor", 0))
        got = {
            (r.currency, r.transaction_type): (int(r.n), int(r.amount)) for r in silver.itertuples()
        }
        for cell in sorted(set(expected) | set(got)):
            (n_exp, a_exp), (n, a) = expected.get(cell, (0, 0)), got.get(cell, (0, 0))
            measures.append((f"{cell[0]}/{cell[1]}.count", n_exp, n))
            measures.append((f"{cell[0]}/{cell[1]}.amount_minor", a_exp, a))
        rows += [(day, n, exp, act, "") for n, exp, act in measures if exp not in (None, act)]
    return pd.DataFrame(rows, columns=["batch_date", "measure", "expected", "actual", "file"])


def _sum(totals: list[dict], field: str) -> int | None:
    """Sum of a control total over batches; None when no batch states it."""
    values = [int(t[field]) for t in totals if t.get(field) is not None]
    return sum(values) if values else None
