"""End-to-end benchmark: landing -> gold for N transactions over a year, on this machine.

    .venv/bin/python bench/end_to_end.py [--transactions 1000000] [--days 365]

Files are landed first with `lambda_src.backfill` (not timed). Then, each in a fresh process so
peak memory is the pipeline's own:
- `e2e`: every day in one run (a partition range: BackfillPolicy.single_run), bronze -> gold;
- `raw_ingest`: the yardstick — the same transaction rows parsed from the same files and loaded
  with a plain stdlib `sqlite3.executemany` into one table;
- `incremental_day`: one more day through the daily job after the year is loaded, against the
  same day on an empty warehouse.
Prints one `name: value` a line.
"""

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PIPELINE = """
import json, os, resource, sys, time, warnings
warnings.filterwarnings("ignore")
import dagster as dg
from medallion_dagster.definitions import defs
start, end = sys.argv[1], sys.argv[2]
tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
t = time.perf_counter()
with dg.DagsterInstance.ephemeral() as instance:
    result = defs.resolve_job_def("medallion_daily").execute_in_process(
        instance=instance, tags=tags,
        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
    )
    seconds = time.perf_counter() - t
    steps = {}
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS":
            steps[event.step_key] = event.event_specific_data.duration_ms / 1000
assert result.success
print(json.dumps({"seconds": seconds, "steps": steps,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

RAW = """
import json, pathlib, sqlite3, sys, time, resource
root, db = pathlib.Path(sys.argv[1]), sys.argv[2]
cols = ("transaction_id", "customer_id", "occurred_at", "amount", "currency", "transaction_type")
t = time.perf_counter()
conn = sqlite3.connect(db)
conn.execute("CREATE TABLE transactions (" + ", ".join(c + " TEXT" for c in cols) + ")")
for path in sorted((root / "transactions").rglob("*.jsonl")):
    with path.open() as f:
        rows = [tuple(r.get(c) for c in cols) for r in map(json.loads, f)]
    conn.executemany("INSERT INTO transactions VALUES (?, ?, ?, ?, ?, ?)", rows)
conn.commit()
print(json.dumps({"seconds": time.perf_counter() - t,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code: str, *args: str, env: dict) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def layer_times(steps: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, seconds in steps.items():
        layer = next((x for x in ("bronze", "silver", "gold") if x in key), "checks")
        if key.startswith("checks_"):
            layer = "checks"
        out[layer] = out.get(layer, 0.0) + seconds
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--work", help="work folder; files landed there before are reused")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import os

    from lambda_src.backfill import land_history
    from lambda_src.landing import LocalWriter

    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="medallion-e2e-"))
    first = date(2025, 1, 1)
    last = first + timedelta(days=args.days - 1)
    extra = last + timedelta(days=1)
    per_day = max(args.transactions // args.days, 1)
    if not (work / "landed.json").exists():  # --work of an earlier run: its files are reused
        for folder in ("landing", "landing-extra", "wh", "wh-empty", "raw.db"):
            shutil.rmtree(work / folder, ignore_errors=True)
        land_history(LocalWriter(work / "landing"), first, last, args.transactions, 0.02)
        land_history(LocalWriter(work / "landing-extra"), extra, extra, per_day, 0.02)
        (work / "landed.json").write_text(json.dumps(vars(args)))
    elif json.loads((work / "landed.json").read_text())["transactions"] != args.transactions:
        raise SystemExit(f"{work} holds files for another --transactions")
    for folder in ("wh", "wh-empty"):
        shutil.rmtree(work / folder, ignore_errors=True)
    (work / "raw.db").unlink(missing_ok=True)
    for path in (work / "landing").rglob(f"dt={extra.isoformat()}"):
        shutil.rmtree(path)  # the extra day, copied in by an earlier run
    base = os.environ | {"MEDALLION_START_DATE": first.isoformat(), "PYTHONPATH": str(ROOT)}

    raw = run(RAW, str(work / "landing"), str(work / "raw.db"), env=base)
    env = base | {"LANDING_DIR": str(work / "landing"), "WAREHOUSE_DIR": str(work / "wh")}
    e2e = run(PIPELINE, first.isoformat(), last.isoformat(), env=env)

    # one more day: after the year, and alone on an empty warehouse
    day = extra.isoformat()
    for path in (work / "landing-extra").rglob("*"):
        if path.is_file():
            target = work / "landing" / path.relative_to(work / "landing-extra")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    after_year = run(PIPELINE, day, day, env=env)
    alone_env = base | {
        "LANDING_DIR": str(work / "landing-extra"),
        "WAREHOUSE_DIR": str(work / "wh-empty"),
    }
    alone = run(PIPELINE, day, day, env=alone_env)

    label = (
        f"{args.transactions // 1000}k"
        if args.transactions < 1_000_000
        else (f"{args.transactions // 1_000_000}m")
    )
    print(f"transactions: {args.transactions}")
    print(f"days: {args.days}")
    print(f"raw_ingest_seconds: {raw['seconds']:.2f}")
    print(f"e2e_{label}_seconds: {e2e['seconds']:.2f}")
    print(f"e2e_ratio_vs_raw_ingest: {e2e['seconds'] / raw['seconds']:.1f}")
    print(f"e2e_{label}_peak_rss_mb: {e2e['peak_rss_mb']:.0f}")
    for layer, seconds in sorted(layer_times(e2e["steps"]).items()):
        print(f"e2e_{layer}_seconds: {seconds:.2f}")
    print(f"day_after_year_seconds: {after_year['seconds']:.2f}")
    print(f"day_on_empty_seconds: {alone['seconds']:.2f}")
    print(f"incremental_day_ratio: {after_year['seconds'] / alone['seconds']:.2f}")
    print(f"bench_peak_rss_mb: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    print(f"work_dir: {work}")
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"bench_wall_seconds: {time.perf_counter() - started:.1f}")
    sys.exit(code)
