"""Gold in pandas vs. gold in SQL inside the warehouse, on the same silver tables.

    .venv/bin/python bench/gold.py --warehouse /tmp/e2e-1000000/wh

Takes a loaded warehouse (the `wh` folder `bench/end_to_end.py` leaves in its work folder) and
copies its silver layer into two scratch warehouses, then, each in a fresh process (so peak
memory is its own):
- `pandas`: load silver.transactions and silver.customers into DataFrames, build
  `customer_summary` and `daily_revenue` with `build_customer_summary` / `build_daily_revenue`,
  write both through the warehouse;
- `sql`: the pipeline's gold SQL (`medallion_dagster/assets/gold.py`) run by
  `Warehouse.write_query`: per-batch partials for every partition, then the all-history tables.
Both results are compared, exactly. Prints one `name: value` a line.
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from end_to_end import ROOT
from end_to_end import run as run_json  # a code snippet in a fresh process, its JSON line

PANDAS = """
import json, resource, sys, time
from medallion_dagster.warehouse import Warehouse
from medallion_dagster.assets.gold import build_customer_summary, build_daily_revenue
wh = Warehouse(path=sys.argv[1])
t = time.perf_counter()
tx = wh.read("silver", "transactions")
customers = wh.read("silver", "customers")
wh.write("gold", "customer_summary", build_customer_summary(tx, customers))
wh.write("gold", "daily_revenue", build_daily_revenue(tx))
print(json.dumps({"seconds": time.perf_counter() - t,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

SQL = """
import json, resource, sys, time
from medallion_dagster.warehouse import Warehouse
from medallion_dagster.assets import gold
wh = Warehouse(path=sys.argv[1])
keys = wh.query("SELECT DISTINCT _partition FROM silver.transactions ORDER BY 1")["_partition"]
keys = keys.tolist()
t = time.perf_counter()
for asset in (gold.daily_revenue_partials, gold.customer_totals_partials, gold.daily_revenue,
              gold.customer_totals, gold.customer_summary):
    q = asset()  # direct invocation: the SQLQuery the asset returns
    name = asset.key.path[-1]
    partitioned = asset.partitions_def is not None
    wh.write_query("gold", name, q.sql, q.dtypes, keys if partitioned else None,
                   indexes=q.indexes, changes_key=q.changes_key,
                   incremental_from=q.incremental_from, merge=q.merge)
print(json.dumps({"seconds": time.perf_counter() - t,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code: str, folder: Path) -> dict:
    return run_json(code, str(folder), env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True, help="a loaded warehouse folder")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import pandas as pd

    from medallion_dagster.warehouse import Warehouse

    work = Path(tempfile.mkdtemp(prefix="medallion-gold-"))
    folders = {}
    for side in ("pandas", "sql"):
        folders[side] = work / side
        folders[side].mkdir()
        shutil.copy(Path(args.warehouse) / "silver.db", folders[side] / "silver.db")
    figures = {side: run(PANDAS if side == "pandas" else SQL, folders[side]) for side in folders}
    rows = Warehouse(path=str(folders["sql"])).row_count("silver", "transactions")
    for table, key in (
        ("customer_summary", ["customer_id", "currency"]),
        ("daily_revenue", ["occurred_date", "currency", "transaction_type"]),
    ):
        a, b = (
            Warehouse(path=str(folders[s])).read("gold", table).sort_values(key)
            for s in ("pandas", "sql")
        )
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    print(f"silver_rows: {rows}")
    for side, f in figures.items():
        print(f"gold_{side}_seconds: {f['seconds']:.2f}")
        print(f"gold_{side}_peak_rss_mb: {f['peak_rss_mb']:.0f}")
    print(f"gold_sql_speedup: {figures['pandas']['seconds'] / figures['sql']['seconds']:.1f}")
    print("results_equal: true")
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
