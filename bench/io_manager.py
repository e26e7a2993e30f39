"""Benchmark: the SQLite IO manager against the standard library, on the same rows, in one run.

    python bench/io_manager.py [--rows 1000000] [--repeat 3]

- write: `SQLiteIOManager.handle_output` of a silver-like transactions DataFrame (one daily
  partition) vs. stdlib `sqlite3.executemany` of ready-made tuples in one transaction into an
  identical table (same columns, types, partition index and pragmas). Building the tuples is not
  timed.
- read: `SQLiteIOManager.load_input` of that partition (a DataFrame with the exact dtypes back)
  vs. stdlib `fetchall()` of the same rows (a list of tuples, no DataFrame).

Each repeat starts from a fresh, empty warehouse and database; the best time of each side over
`--repeat` rounds is compared (ratios > 1: the IO manager is faster). After each round the loaded
frame is checked equal to the written one, dtypes included (not timed).
Prints one `name: value` a line.
"""

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from medallion_dagster.codec import encode
from medallion_dagster.io_manager import SQLiteIOManager
from medallion_dagster.warehouse import Warehouse

PARTITION = "2026-06-15"


def transactions(rows: int, seed: int = 0) -> pd.DataFrame:
    """Silver-shaped rows: ids, UTC timestamps, integer minor units (some NULL), text."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-06-15", tz="UTC")
    amount = pd.array(rng.integers(1, 500_000, rows), dtype="Int64")
    revenue = amount * pd.array(rng.choice([1, -1, 0], rows), dtype="Int64")
    revenue[rng.random(rows) < 0.01] = pd.NA
    return pd.DataFrame(
        {
            "transaction_id": pd.Series(
                [f"{i:08x}-7d3c-4b1a-9e2f-{i:012x}" for i in range(rows)], dtype="str"
            ),
            "customer_id": pd.Series(
                [f"C{c:06d}" for c in rng.integers(1, 50_000, rows)], dtype="str"
            ),
            "occurred_at": (
                start + pd.to_timedelta(rng.integers(0, 86_400_000_000, rows), unit="us")
            ).astype("datetime64[us, UTC]"),
            "amount_minor": amount,
            "currency": pd.Series(rng.choice(["USD", "EUR", "GBP", "JPY"], rows), dtype="str"),
            "transaction_type": pd.Series(
                rng.choice(["purchase", "subscription", "refund", "chargeback", "transfer"], rows),
                dtype="str",
            ),
            "revenue_minor": revenue,
            "_line": pd.array(np.arange(1, rows + 1), dtype="Int64"),
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    df = transactions(args.rows)
    stored = df.assign(_partition=pd.Series([PARTITION] * len(df), dtype="str"))
    key = dg.AssetKey(["silver", "transactions"])
    partitions = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2027-01-01")

    # The baseline: an identical table, ready-made tuples (timestamps already ISO text).
    cols = list(stored.columns)
    values = [encode(stored[c], str(stored[c].dtype)).to_pylist() for c in cols]
    tuples = list(zip(*values, strict=True))
    decl = {"int64": "INTEGER", "Int64": "INTEGER"}
    create = (
        "CREATE TABLE t ("
        + ", ".join(f'"{c}" {decl.get(str(stored[c].dtype), "TEXT")}' for c in cols)
        + ")"
    )
    insert = f"INSERT INTO t VALUES ({', '.join('?' * len(cols))})"

    times: dict[str, list[float]] = {k: [] for k in ("io_w", "raw_w", "io_r", "raw_r")}
    for _ in range(args.repeat):  # every repeat writes into a fresh, empty warehouse
        with tempfile.TemporaryDirectory() as tmp:
            io = SQLiteIOManager(warehouse=Warehouse(path=str(Path(tmp) / "warehouse")))
            out_ctx = dg.build_output_context(
                asset_key=key, partition_key=PARTITION, asset_partitions_def=partitions
            )
            t0 = time.perf_counter()
            io.handle_output(out_ctx, df)
            times["io_w"].append(time.perf_counter() - t0)
            in_ctx = dg.build_input_context(
                asset_key=key, partition_key=PARTITION, asset_partitions_def=partitions
            )
            t0 = time.perf_counter()
            loaded = io.load_input(in_ctx)
            times["io_r"].append(time.perf_counter() - t0)

            base = sqlite3.connect(Path(tmp) / "stdlib.db", isolation_level=None)
            base.execute("PRAGMA journal_mode=WAL")
            base.execute("PRAGMA synchronous=NORMAL")
            base.execute(create)
            base.execute('CREATE INDEX t__partition ON t ("_partition")')
            t0 = time.perf_counter()
            base.execute("BEGIN IMMEDIATE")
            base.executemany(insert, tuples)
            base.execute("COMMIT")
            times["raw_w"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            fetched = base.execute(
                'SELECT * FROM t WHERE "_partition" = ?', (PARTITION,)
            ).fetchall()
            times["raw_r"].append(time.perf_counter() - t0)
            base.close()
        # exact round trip, dtypes included (outside the timings)
        pd.testing.assert_frame_equal(loaded.drop(columns="_partition"), df)
        assert len(fetched) == args.rows
    io_write_s, raw_write_s, io_read_s, raw_read_s = (
        min(times[k]) for k in ("io_w", "raw_w", "io_r", "raw_r")
    )

    print(f"rows: {args.rows}")
    print(f"io_manager_write_seconds: {io_write_s:.3f}")
    print(f"stdlib_executemany_seconds: {raw_write_s:.3f}")
    print(f"io_manager_read_seconds: {io_read_s:.3f}")
    print(f"stdlib_fetchall_seconds: {raw_read_s:.3f}")
    print(f"write_ratio_vs_raw: {raw_write_s / io_write_s:.2f}")
    print(f"read_ratio_vs_raw: {raw_read_s / io_read_s:.2f}")
    print("round_trip_exact: true")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
