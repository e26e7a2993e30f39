"""Independent recomputations the checks compare the tables with.

Written as SQL over the warehouse (and the producers' manifests), never by calling the pandas code
that built silver and gold, so a fault in that code cannot hide itself.
"""

import json
import re

import pandas as pd

from lambda_src.contract import MANIFEST_DIR, TYPE_SIGNS, parse_key
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
WHERE s.n IS DISTINCT FROM g.transaction_count OR s.amount IS DISTINCT FROM g.amount_minor
   OR s.revenue IS DISTINCT FROM g.revenue_minor
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
           s.total / s.n + CAST(2 * (s.total % s.n) >= s.n AS INTEGER) AS avg_amount,
           s.first_at, s.last_at,
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
WHERE j.n IS DISTINCT FROM j.transaction_count OR j.gross IS DISTINCT FROM j.gross_revenue_minor
   OR j.refunded IS DISTINCT FROM j.refunded_minor OR j.net IS DISTINCT FROM j.net_revenue_minor
   OR j.avg_amount IS DISTINCT FROM j.avg_amount_minor
   OR j.first_at IS DISTINCT FROM j.first_occurred_at
   OR j.last_at IS DISTINCT FROM j.last_occurred_at
   OR c.name IS DISTINCT FROM j.customer_name OR c.email IS DISTINCT FROM j.email
"""

#: The queries below compare two sides key by key as one `UNION ALL` + `GROUP BY` (one pass over
#: each side, whatever their sizes), not a join: a key on one side only shows as NULLs.

#: The per-batch partials of the run's partitions ({scope}) against silver, recomputed here with
#: the contract's signs by type (gold derives them from revenue_minor's sign).
DAILY_REVENUE_PARTIALS_MISMATCHES = f"""
SELECT _partition AS batch_date, occurred_date, currency, transaction_type,
       max(s_n) AS silver_count, max(g_n) AS gold_count,
       max(s_amount) AS silver_amount_minor, max(g_amount) AS gold_amount_minor,
       max(s_revenue) AS silver_revenue_minor, max(g_revenue) AS gold_revenue_minor
FROM (
    SELECT _partition, substr(occurred_at, 1, 10) AS occurred_date, currency, transaction_type,
           count(*) AS s_n, sum(amount_minor) AS s_amount,
           sum(amount_minor * {SIGN_SQL}) AS s_revenue,
           NULL AS g_n, NULL AS g_amount, NULL AS g_revenue
    FROM silver.transactions WHERE {{scope}} GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT _partition, occurred_date, currency, transaction_type, NULL, NULL, NULL,
           transaction_count, amount_minor, revenue_minor
    FROM gold.daily_revenue_partials WHERE {{scope}}
)
GROUP BY 1, 2, 3, 4
HAVING count(*) != 2 OR max(s_n) IS DISTINCT FROM max(g_n)
   OR max(s_amount) IS DISTINCT FROM max(g_amount)
    OR max(s_revenue) IS DISTINCT FROM max(g_revenue)
"""

CUSTOMER_TOTALS_PARTIALS_MISMATCHES = f"""
SELECT _partition AS batch_date, customer_id, currency,
       max(s_n) AS silver_count, max(g_n) AS gold_count,
       max(s_gross) AS silver_gross_minor, max(g_gross) AS gold_gross_minor,
       max(s_refunded) AS silver_refunded_minor, max(g_refunded) AS gold_refunded_minor
FROM (
    SELECT _partition, customer_id, currency, count(*) AS s_n,
           sum(CASE WHEN {SIGN_SQL} = 1 THEN amount_minor ELSE 0 END) AS s_gross,
           sum(CASE WHEN {SIGN_SQL} = -1 THEN amount_minor ELSE 0 END) AS s_refunded,
           sum(amount_minor) AS s_total, min(occurred_at) AS s_first, max(occurred_at) AS s_last,
           NULL AS g_n, NULL AS g_gross, NULL AS g_refunded, NULL AS g_total, NULL AS g_first,
           NULL AS g_last
    FROM silver.transactions WHERE {{scope}} GROUP BY 1, 2, 3
    UNION ALL
    SELECT _partition, customer_id, currency, NULL, NULL, NULL, NULL, NULL, NULL,
           transaction_count, gross_revenue_minor, refunded_minor, amount_total_minor,
           first_occurred_at, last_occurred_at
    FROM gold.customer_totals_partials WHERE {{scope}}
)
GROUP BY 1, 2, 3
HAVING count(*) != 2 OR max(s_n) IS DISTINCT FROM max(g_n)
   OR max(s_gross) IS DISTINCT FROM max(g_gross)
    OR max(s_refunded) IS DISTINCT FROM max(g_refunded)
    OR max(s_total) IS DISTINCT FROM max(g_total)
    OR max(s_first) IS DISTINCT FROM max(g_first) OR max(s_last) IS DISTINCT FROM max(g_last)
"""

#: On a partitioned run: the all-history rows of the keys the run's partials touch, against the
#: sum of every batch's partials for those keys (the partials themselves are checked above).
DAILY_REVENUE_RUN_MISMATCHES = """
WITH k AS (
    SELECT DISTINCT occurred_date, currency, transaction_type
    FROM gold.daily_revenue_partials WHERE {scope}
)
SELECT occurred_date, currency, transaction_type,
       max(p_n) AS partials_count, max(g_n) AS gold_count,
       max(p_amount) AS partials_amount_minor, max(g_amount) AS gold_amount_minor,
       max(p_revenue) AS partials_revenue_minor, max(g_revenue) AS gold_revenue_minor
FROM (
    SELECT occurred_date, currency, transaction_type, sum(transaction_count) AS p_n,
           sum(amount_minor) AS p_amount, sum(revenue_minor) AS p_revenue,
           NULL AS g_n, NULL AS g_amount, NULL AS g_revenue
    FROM gold.daily_revenue_partials
    WHERE (occurred_date, currency, transaction_type) IN (SELECT * FROM k)
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT occurred_date, currency, transaction_type, NULL, NULL, NULL,
           transaction_count, amount_minor, revenue_minor
    FROM gold.daily_revenue
    WHERE (occurred_date, currency, transaction_type) IN (SELECT * FROM k)
)
GROUP BY 1, 2, 3
HAVING count(*) != 2 OR max(p_n) IS DISTINCT FROM max(g_n)
   OR max(p_amount) IS DISTINCT FROM max(g_amount)
    OR max(p_revenue) IS DISTINCT FROM max(g_revenue)
"""

CUSTOMER_SUMMARY_RUN_MISMATCHES = """
WITH k AS (
    SELECT DISTINCT customer_id, currency FROM gold.customer_totals_partials WHERE {scope}
), s AS (
    SELECT p.customer_id, p.currency, sum(p.transaction_count) AS n,
           sum(p.gross_revenue_minor) AS gross, sum(p.refunded_minor) AS refunded,
           sum(p.amount_total_minor) AS total,
           min(p.first_occurred_at) AS first_at, max(p.last_occurred_at) AS last_at
    FROM gold.customer_totals_partials AS p
    WHERE (p.customer_id, p.currency) IN (SELECT * FROM k)
    GROUP BY 1, 2
), g AS (
    SELECT * FROM gold.customer_summary WHERE (customer_id, currency) IN (SELECT * FROM k)
)
SELECT s.customer_id, s.currency, s.n AS partials_count, g.transaction_count AS gold_count,
       s.gross - s.refunded AS partials_net_minor, g.net_revenue_minor AS gold_net_minor,
       c.name AS silver_name, g.customer_name AS gold_name
FROM s LEFT JOIN g ON g.customer_id = s.customer_id AND g.currency = s.currency
LEFT JOIN silver.customers AS c ON c.customer_id = s.customer_id
WHERE s.n IS DISTINCT FROM g.transaction_count OR s.gross IS DISTINCT FROM g.gross_revenue_minor
   OR s.refunded IS DISTINCT FROM g.refunded_minor
   OR s.gross - s.refunded IS DISTINCT FROM g.net_revenue_minor
   OR s.total / s.n + CAST(2 * (s.total % s.n) >= s.n AS INTEGER)
      IS DISTINCT FROM g.avg_amount_minor
   OR s.first_at IS DISTINCT FROM g.first_occurred_at
   OR s.last_at IS DISTINCT FROM g.last_occurred_at
   OR c.name IS DISTINCT FROM g.customer_name OR c.email IS DISTINCT FROM g.email
"""

#: silver.customers against the latest update of each customer, recomputed from all of
#: silver.customer_updates (the asset merges them incrementally): `{where}` narrows the customers.
_CUSTOMERS_LATEST = """
WITH u AS (
    SELECT * FROM (
        SELECT *, row_number() OVER (
            PARTITION BY customer_id
            ORDER BY updated_at DESC, _batch_date DESC, _source_key DESC, _line DESC) AS r
        FROM silver.customer_updates {where}) AS x
    WHERE r = 1
), c AS (SELECT * FROM silver.customers {where})
SELECT coalesce(u.customer_id, c.customer_id) AS customer_id,
       u._batch_date AS latest_batch, c._batch_date AS current_batch,
       u.updated_at AS latest_updated_at, c.updated_at AS current_updated_at
FROM u FULL OUTER JOIN c ON c.customer_id = u.customer_id
WHERE u.customer_id IS NULL OR c.customer_id IS NULL
   OR """ + "\n   OR ".join(
    f"u.{c} IS DISTINCT FROM c.{c}"
    for c in (
        "name",
        "email",
        "location",
        "created_at",
        "updated_at",
        "_source_key",
        "_line",
        "_batch_date",
    )
)
CUSTOMERS_MISMATCHES = _CUSTOMERS_LATEST.replace("{where}", "")
_LATER = " OR ".join(
    "("
    + " AND ".join(f"u.{a} = c.{a}" for a in ("updated_at", "_batch_date", "_source_key")[:i])
    + (" AND " if i else "")
    + f"u.{col} > c.{col})"
    for i, col in enumerate(("updated_at", "_batch_date", "_source_key", "_line"))
)
_SAME = " AND ".join(
    f"u.{col} IS NOT DISTINCT FROM c.{col}"
    for col in ("name", "email", "location", "created_at", "updated_at", "_source_key", "_line")
)
#: On a partitioned run, what the run's batches can have broken, at the cost of the run's rows
#: (each customer's earlier updates were checked when their batches ran): each customer updated
#: by the run has a current row; that row is one of its stored updates; no update of the run's
#: batches is later than it.
CUSTOMERS_RUN_MISMATCHES = f"""
WITH run AS (
    SELECT * FROM silver.customer_updates WHERE {{scope}}
), s AS (
    SELECT DISTINCT customer_id FROM run
), c AS (
    SELECT c.* FROM silver.customers AS c JOIN s ON s.customer_id = c.customer_id
)
SELECT s.customer_id, 'no current row' AS problem, NULL AS current_batch
FROM s WHERE NOT EXISTS (SELECT 1 FROM c WHERE c.customer_id = s.customer_id)
UNION ALL
SELECT c.customer_id, 'current row is not a stored update', c._batch_date FROM c
WHERE NOT EXISTS (
    SELECT 1 FROM silver.customer_updates AS u
    WHERE u.customer_id = c.customer_id AND u._partition = c._batch_date
      AND {_SAME})
UNION ALL
SELECT c.customer_id, 'a later update of the run is not current', c._batch_date
FROM c JOIN run AS u ON u.customer_id = c.customer_id AND ({_LATER})
"""

#: Rejections per batch date, entity and rule; `resolved` = the record's key is in silver now
#: (fixed and re-landed later, or — for duplicate_transaction_id — counted once elsewhere).
#: The key is the stored `record_key`; rows quarantined before that column existed hold NULL
#: there and are read from their JSON record.
QUARANTINE_SUMMARY = """
WITH q AS (
    SELECT _partition AS batch_date, 'transactions' AS entity, rule,
           coalesce(record_key, medallion_strip(record ->> '$.transaction_id')) AS record_key
    FROM silver.transactions_quarantine
    UNION ALL
    SELECT _partition, 'customers', rule,
           coalesce(record_key, medallion_strip(record ->> '$.customer_id'))
    FROM silver.customers_quarantine
    UNION ALL
    SELECT _batch_date, 'transaction_types', rule,
           coalesce(record_key, medallion_strip(record ->> '$.type_id'))
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
    (the manifest is the producer's claim, not data). Fields of the wrong type read as absent."""
    out = []
    for obj in zone.list_objects(f"{MANIFEST_DIR}/dt={day}/"):
        if not obj.key.endswith(".json"):
            continue
        try:
            manifest = json.loads(zone.read(obj.key))
        except (ValueError, OSError):
            continue
        if isinstance(manifest, dict) and isinstance(manifest.get("files"), list):
            out.append((obj.key, manifest))
    return out


def manifest_days(zone: LandingZone) -> set[str]:
    """Batch dates that have manifests (a day whose data files never arrived included)."""
    days = set()
    for obj in zone.list_objects(f"{MANIFEST_DIR}/"):
        match = re.match(rf"{MANIFEST_DIR}/dt=(\d{{4}}-\d{{2}}-\d{{2}})/", obj.key)
        if match:
            days.add(match.group(1))
    return days


def _int(value) -> int | None:
    """A count from a manifest: an int (or integral text); anything else is absent."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()):
        return int(value)
    return None


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _tx_totals(manifest: dict) -> dict:
    return _dict(_dict(manifest.get("control_totals")).get("transactions"))


#: Bronze's marker row for an empty file: not a record anybody sent.
NOT_A_RECORD = "NOT (_line = 0 AND {error} = 'empty file')"


def _count_by_key(conn, table: str, days: list[str], keys: list[str], error: str) -> dict:
    """Records per file key. Bronze partitions a file by the batch date of its key, so the
    partition index narrows the scan to those days."""
    if not keys:
        return {}
    rows = conn.execute(
        f"SELECT _source_key, count(*) FROM {table} "
        "WHERE _partition IN (SELECT value FROM json_each(:days)) "
        "AND _source_key IN (SELECT value FROM json_each(:keys)) "
        f"AND {NOT_A_RECORD.format(error=error)} GROUP BY _source_key",
        {"days": json.dumps(days), "keys": json.dumps(keys)},
    ).fetchall()
    return dict(rows)


#: Per day, the ids of the day's manifest files that silver accepted (rows not quarantined for
#: breaking a rule; a duplicate of an id held elsewhere is accepted there), normalised as silver
#: does; then the silver rows holding them, wherever they are, summed per currency and type.
ACCEPTED_BY_DAY = """
WITH rejected AS MATERIALIZED (
    SELECT _source_key, _line FROM silver.transactions_quarantine
    WHERE _partition IN (SELECT value FROM json_each(:days))
      AND rule != 'duplicate_transaction_id'
), accepted AS (
    SELECT DISTINCT b._partition AS day, medallion_strip(b.transaction_id) AS id
    FROM bronze.transactions AS b
    LEFT JOIN rejected AS r ON r._source_key = b._source_key AND r._line = b._line
    WHERE b._partition IN (SELECT value FROM json_each(:days))
      AND b._source_key IN (SELECT value FROM json_each(:keys))
      AND r._source_key IS NULL
)
SELECT a.day, s.currency, s.transaction_type, count(*), sum(s.amount_minor)
FROM accepted AS a JOIN silver.transactions AS s ON s.transaction_id = a.id
GROUP BY 1, 2, 3
"""

QUARANTINED_BY_DAY = f"""
SELECT _partition, count(*) FROM silver.transactions_quarantine
WHERE _partition IN (SELECT value FROM json_each(:days))
  AND _source_key IN (SELECT value FROM json_each(:keys))
  AND rule != 'duplicate_transaction_id' AND {NOT_A_RECORD.format(error="detail")}
GROUP BY 1
"""


def manifest_mismatches(zone: LandingZone, warehouse: Warehouse, days: list[str]) -> pd.DataFrame:
    """Every measure where the warehouse disagrees with the producers' manifests of `days`.

    Per file: `<entity>.received` — bronze holds as many records as the manifest says it sent.
    Per day, over its batches (a batch delivered twice — a retried Lambda — counts once where
    ids are concerned, every time where rows are):
    - `transactions.valid`: the batches' accepted ids that silver holds (in any partition and
      file: a record re-sent on a later day, or by a retry, counts where silver keeps it);
    - `transactions.quarantined`: rows of the day's files quarantined for a rule other than
      duplicate_transaction_id = the dirty records sent;
    - `transactions.accounted`: records sent = valid + quarantined + exact re-sends within a
      batch + the valid records of repeated deliveries;
    - `<currency>/<type>.count` and `.amount_minor` = the producers' control totals.
    Measures a manifest does not state are not checked. The warehouse is asked once for all
    days (a few queries, whatever the range), the landing zone once per day.
    """
    found_by_day = {day: found for day in days if (found := manifests(zone, day))}
    files_by_day = {
        day: [
            f
            for _, m in found
            for f in m["files"]
            if isinstance(f, dict) and isinstance(f.get("key"), str)
        ]
        for day, found in found_by_day.items()
    }
    all_days = sorted(files_by_day)
    all_keys = [f["key"] for files in files_by_day.values() for f in files]
    tx_keys = [
        f["key"] for files in files_by_day.values() for f in files
        if f.get("entity") == "transactions"
    ]  # fmt: skip
    received: dict[str, int] = {}
    silver_cells: dict[str, dict[tuple[str, str], tuple[int, int]]] = {}
    quarantined: dict[str, int] = {}
    if all_days:
        with warehouse.connect() as conn:
            key_days = sorted(
                {p.batch_date.isoformat() for p in map(parse_key, all_keys) if p is not None}
            )
            for entity in ("transactions", "customers", "transaction_types"):
                received |= _count_by_key(
                    conn, f"bronze.{entity}", key_days, all_keys, "_parse_error"
                )
            params = {"days": json.dumps(all_days), "keys": json.dumps(tx_keys)}
            for day, currency, ttype, n, amount in conn.execute(ACCEPTED_BY_DAY, params):
                silver_cells.setdefault(day, {})[(currency, ttype)] = (n, amount)
            quarantined = dict(conn.execute(QUARANTINED_BY_DAY, params).fetchall())
    rows = []
    for day, found in found_by_day.items():
        batches: dict[tuple, list[dict]] = {}
        for _, m in found:
            identity = (
                str(m.get("batch_id")),
                json.dumps(_tx_totals(m), sort_keys=True, default=str),
            )
            batches.setdefault(identity, []).append(m)
        files = files_by_day[day]
        for f in files:
            expected = _int(f.get("records"))
            if expected is not None and received.get(f["key"], 0) != expected:
                rows.append(
                    (
                        day,
                        f"{f.get('entity')}.received",
                        expected,
                        received.get(f["key"], 0),
                        f["key"],
                    )
                )
        tx_files = [f for f in files if f.get("entity") == "transactions"]
        got = silver_cells.get(day, {})
        invalid = quarantined.get(day, 0)
        first = [_tx_totals(copies[0]) for copies in batches.values()]
        every = [_tx_totals(m) for _, m in found]
        repeats = [_tx_totals(c) for copies in batches.values() for c in copies[1:]]
        valid = sum(n for n, _ in got.values())
        records = [_int(f.get("records")) for f in tx_files]
        dirty, dups, repeated = (
            _sum(every, "dirty"),
            _sum(every, "duplicates"),
            _sum(repeats, "valid"),
        )
        measures = [
            ("transactions.valid", _sum(first, "valid"), valid),
            ("transactions.quarantined", dirty, int(invalid)),
        ]
        if None not in records and dirty is not None and dups is not None:
            accounted = valid + int(invalid) + dups + (repeated or 0)
            measures.append(("transactions.accounted", sum(records), accounted))
        stated = [_dict(t.get("by_currency_type")) for t in first if "by_currency_type" in t]
        if stated:
            expected_cells: dict[tuple[str, str], list[int]] = {}
            for by_currency in stated:
                for currency, by_type in by_currency.items():
                    for ttype, cell in _dict(by_type).items():
                        acc = expected_cells.setdefault((currency, ttype), [0, 0])
                        acc[0] += _int(_dict(cell).get("count")) or 0
                        acc[1] += _int(_dict(cell).get("amount_minor")) or 0
            for cell in sorted(set(expected_cells) | set(got)):
                (n_exp, a_exp), (n, a) = expected_cells.get(cell, (0, 0)), got.get(cell, (0, 0))
                measures.append((f"{cell[0]}/{cell[1]}.count", n_exp, n))
                measures.append((f"{cell[0]}/{cell[1]}.amount_minor", a_exp, a))
        rows += [(day, n, exp, act, "") for n, exp, act in measures if exp not in (None, act)]
    return pd.DataFrame(rows, columns=["batch_date", "measure", "expected", "actual", "file"])


def _sum(totals: list[dict], field: str) -> int | None:
    """Sum of a control total over batches; None when a batch does not state it."""
    values = [_int(t.get(field)) for t in totals]
    return None if not values or None in values else sum(values)
