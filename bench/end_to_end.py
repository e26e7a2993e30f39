"""End-to-end benchmark: landing -> gold for N transactions over a year, on this machine.

    .venv/bin/python bench/end_to_end.py [--transactions 1000000] [--days 365] [--work DIR]
        [--results docs/bench/end_to_end.json --plot docs/bench/end_to_end.svg]

Files are landed first with `lambda_src.backfill` (not timed). Then, each in a fresh process so
peak memory is the pipeline's own:
- `e2e`: every day in one run (a partition range: BackfillPolicy.single_run), bronze -> gold;
- `raw_ingest`: the yardstick — the same transaction rows parsed from the same files and loaded
  with a plain stdlib `sqlite3.executemany` into one table;
- `incremental_day`: one more day through the daily job after the year is loaded, against the
  same day on an empty warehouse, for each day size of `--day-rows` (default: both ends of the
  3,000-50,000 rows the target names); each measured `--repeats` times, alternating (each run
  after the year starts from a copy of the warehouse as the year left it, so every one is a new
  day, not a re-run; the empty warehouse is emptied before each of its runs), and the medians
  compared: one run of a one-to-two-second day varies by a third. `incremental_day_ratio` is the
  worst of the sizes. A re-run of the same day after the year is timed once, for information
  (`day_<n>_rerun_after_year_seconds`).
Prints one `name: value` a line.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PIPELINE = """
import json, os, resource, sys, threading, time, warnings
warnings.filterwarnings("ignore")
import dagster as dg
from medallion_dagster.definitions import defs
start, end = sys.argv[1], sys.argv[2]
tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
samples, done = [], threading.Event()
page = os.sysconf("SC_PAGE_SIZE")
def sample():  # resident memory every 20 ms, to attribute peaks to steps
    while not done.is_set():
        with open("/proc/self/statm") as f:
            samples.append((time.time(), int(f.read().split()[1]) * page / 2**20))
        time.sleep(0.02)
threading.Thread(target=sample, daemon=True).start()
t = time.perf_counter()
with dg.DagsterInstance.ephemeral() as instance:
    result = defs.resolve_job_def("medallion_daily").execute_in_process(
        instance=instance, tags=tags,
        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
    )
    seconds = time.perf_counter() - t
    done.set()
    steps, peaks = {}, {}
    for entry in instance.all_logs(result.run_id):
        event = entry.dagster_event
        if event is not None and event.event_type_value == "STEP_SUCCESS":
            took = event.event_specific_data.duration_ms / 1000
            steps[event.step_key] = took
            ended = entry.timestamp
            inside = [mb for at, mb in samples if ended - took - 0.05 <= at <= ended]
            peaks[event.step_key] = max(inside, default=0.0)
assert result.success
print(json.dumps({"seconds": seconds, "steps": steps, "step_peak_rss_mb": peaks,
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


def median_steps(runs: list[dict]) -> dict[str, float]:
    """Median seconds of each step over runs of the same day."""
    names = {step for r in runs for step in r["steps"]}
    return {s: statistics.median(r["steps"].get(s, 0.0) for r in runs) for s in names}


def layer_of(step: str) -> str:
    if step.startswith("checks_") or step.endswith("_fresh"):
        return "checks"
    return next((x for x in ("bronze", "silver", "gold") if x in step), "checks")


def layer_times(steps: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, seconds in steps.items():
        out[layer_of(key)] = out.get(layer_of(key), 0.0) + seconds
    return out


def layer_peaks(peaks: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, mb in peaks.items():
        out[layer_of(key)] = max(out.get(layer_of(key), 0.0), mb)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--work", help="work folder; files landed there before are reused")
    parser.add_argument("--results", help="JSON file collecting the figures of each size")
    parser.add_argument("--plot", help="write an SVG plot of --results (all sizes) here")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each incremental day")
    parser.add_argument(
        "--backend", default="sqlite", choices=["sqlite", "duckdb"], help="WAREHOUSE_BACKEND"
    )
    parser.add_argument(
        "--step-deltas",
        type=int,
        default=0,
        metavar="N",
        help="print the N steps a day after the year spends most extra time in",
    )
    parser.add_argument(
        "--day-rows", default="3000,50000", help="transactions of the extra day (comma list)"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))

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
        (work / "landed.json").write_text(json.dumps(vars(args)))
    elif json.loads((work / "landed.json").read_text())["transactions"] != args.transactions:
        raise SystemExit(f"{work} holds files for another --transactions")
    for folder in ("wh", "wh-empty"):
        shutil.rmtree(work / folder, ignore_errors=True)
    (work / "raw.db").unlink(missing_ok=True)
    day_sizes = [int(n) for n in args.day_rows.split(",")] if args.day_rows else [per_day]
    for n in day_sizes:
        if not (work / f"landing-extra-{n}" / "done").exists():
            shutil.rmtree(work / f"landing-extra-{n}", ignore_errors=True)
            land_history(LocalWriter(work / f"landing-extra-{n}"), extra, extra, n, 0.02)
            (work / f"landing-extra-{n}" / "done").touch()
    for path in (work / "landing").rglob(f"dt={extra.isoformat()}"):
        shutil.rmtree(path)  # the extra day, copied in by an earlier run
    base = os.environ | {
        "MEDALLION_START_DATE": first.isoformat(),
        "PYTHONPATH": str(ROOT),
        "WAREHOUSE_BACKEND": args.backend,
    }

    raw = run(RAW, str(work / "landing"), str(work / "raw.db"), env=base)
    env = base | {"LANDING_DIR": str(work / "landing"), "WAREHOUSE_DIR": str(work / "wh")}
    e2e = run(PIPELINE, first.isoformat(), last.isoformat(), env=env)
    year = work / "wh-year"  # the warehouse right after the year: each extra day starts from it
    shutil.rmtree(year, ignore_errors=True)
    shutil.copytree(work / "wh", year)

    # one more day: after the year, and alone on an empty warehouse, for each day size
    day = extra.isoformat()
    days: dict[int, dict] = {}
    for n in day_sizes:
        source = work / f"landing-extra-{n}"
        for path in (work / "landing").rglob(f"dt={day}"):
            shutil.rmtree(path)  # the previous size's day
        for path in source.rglob("*"):
            if path.is_file() and path.name != "done":
                target = work / "landing" / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
        alone_env = base | {"LANDING_DIR": str(source), "WAREHOUSE_DIR": str(work / "wh-empty")}
        after_runs, alone_runs = [], []
        for _ in range(max(args.repeats, 1)):
            shutil.rmtree(work / "wh")
            shutil.copytree(year, work / "wh")
            # The copy's pages are still dirty in the OS cache: the run's first fsync would
            # write out the whole copy. A daily run meets files written a day before: flush.
            os.sync()
            after_runs.append(run(PIPELINE, day, day, env=env))
            shutil.rmtree(work / "wh-empty", ignore_errors=True)
            os.sync()
            alone_runs.append(run(PIPELINE, day, day, env=alone_env))
        rerun = run(PIPELINE, day, day, env=env)  # the same day again: it replaces itself
        days[n] = {
            "after": [r["seconds"] for r in after_runs],
            "alone": [r["seconds"] for r in alone_runs],
            "rerun": rerun["seconds"],
            "step_after": median_steps(after_runs),
            "step_alone": median_steps(alone_runs),
        }
    ratios = {
        n: statistics.median(d["after"]) / statistics.median(d["alone"]) for n, d in days.items()
    }
    worst = max(ratios, key=ratios.get)
    after_year = {"seconds": statistics.median(days[worst]["after"])}
    alone = {"seconds": statistics.median(days[worst]["alone"])}

    label = (
        f"{args.transactions // 1000}k"
        if args.transactions < 1_000_000
        else (f"{args.transactions // 1_000_000}m")
    )
    print(f"backend: {args.backend}")
    print(f"transactions: {args.transactions}")
    print(f"days: {args.days}")
    print(f"raw_ingest_seconds: {raw['seconds']:.2f}")
    print(f"e2e_{label}_seconds: {e2e['seconds']:.2f}")
    print(f"e2e_ratio_vs_raw_ingest: {e2e['seconds'] / raw['seconds']:.1f}")
    print(f"e2e_{label}_peak_rss_mb: {e2e['peak_rss_mb']:.0f}")
    for layer, seconds in sorted(layer_times(e2e["steps"]).items()):
        print(f"e2e_{layer}_seconds: {seconds:.2f}")
    for layer, mb in sorted(layer_peaks(e2e.get("step_peak_rss_mb", {})).items()):
        print(f"e2e_{layer}_peak_rss_mb: {mb:.0f}")
    for n, d in days.items():
        print(f"day_{n}_after_year_runs: {' '.join(f'{x:.2f}' for x in d['after'])}")
        print(f"day_{n}_on_empty_runs: {' '.join(f'{x:.2f}' for x in d['alone'])}")
        print(f"incremental_day_ratio_{n}_rows: {ratios[n]:.2f}")
        print(f"day_{n}_rerun_after_year_seconds: {d['rerun']:.2f}")
        if args.step_deltas:
            after_s, alone_s = d["step_after"], d["step_alone"]
            extra = {k: after_s[k] - alone_s.get(k, 0.0) for k in after_s}
            for step in sorted(extra, key=extra.get, reverse=True)[: args.step_deltas]:
                print(
                    f"day_{n}_step_{step}: {after_s[step]:.3f} after / "
                    f"{alone_s.get(step, 0.0):.3f} alone"
                )
    print(f"day_after_year_seconds: {after_year['seconds']:.2f}")
    print(f"day_on_empty_seconds: {alone['seconds']:.2f}")
    print(f"incremental_day_ratio: {ratios[worst]:.2f}")
    print(f"bench_peak_rss_mb: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
    print(f"work_dir: {work}")
    if args.results and args.backend != "sqlite":
        print("(figures of another backend are not recorded in --results)")
    elif args.results:
        record(
            Path(args.results),
            args.transactions,
            {
                "raw_ingest_seconds": raw["seconds"],
                "e2e_seconds": e2e["seconds"],
                "e2e_peak_rss_mb": e2e["peak_rss_mb"],
                **{f"{k}_seconds": v for k, v in layer_times(e2e["steps"]).items()},
                **{f"{k}_peak_rss_mb": v for k, v in layer_peaks(e2e["step_peak_rss_mb"]).items()},
                "day_after_year_seconds": after_year["seconds"],
                "day_on_empty_seconds": alone["seconds"],
            },
        )
    if args.plot:
        plot(json.loads(Path(args.results).read_text()), Path(args.plot))
        print(f"plot: {args.plot}")
    return 0


def record(path: Path, transactions: int, figures: dict) -> None:
    """Keep the latest figures of each size in one JSON file (the plot's input)."""
    results = json.loads(path.read_text()) if path.exists() else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    results[str(transactions)] = {k: round(v, 3) for k, v in figures.items()}
    path.write_text(json.dumps(dict(sorted(results.items(), key=lambda i: int(i[0]))), indent=1))


def plot(results: dict, out: Path) -> None:
    """A small log-log SVG: seconds against transactions for the pipeline, its layers and the
    raw-ingest yardstick (plain SVG: no plotting dependency)."""
    import math

    series = {
        "end to end": ("e2e_seconds", "#1f77b4"),
        "bronze": ("bronze_seconds", "#ff7f0e"),
        "silver": ("silver_seconds", "#2ca02c"),
        "gold": ("gold_seconds", "#9467bd"),
        "checks": ("checks_seconds", "#8c564b"),
        "raw ingest (yardstick)": ("raw_ingest_seconds", "#7f7f7f"),
    }
    sizes = sorted(int(n) for n in results)
    values = [v for n in sizes for key, _ in series.values() if (v := results[str(n)].get(key))]
    if len(sizes) < 2 or not values:
        return
    width, height, left, right, top, bottom = 640, 400, 60, 170, 20, 50
    x0, x1 = math.log10(sizes[0]), math.log10(sizes[-1])
    y0, y1 = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))

    def x(n: float) -> float:
        return left + (math.log10(n) - x0) / (x1 - x0) * (width - left - right)

    def y(v: float) -> float:
        return top + (y1 - math.log10(v)) / (y1 - y0) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for e in range(y0, y1 + 1):
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(10**e):.1f}" y2="{y(10**e):.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y(10**e) + 4:.1f}" text-anchor="end">{10**e:g} s</text>'
        )
    for n in sizes:
        label = f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"
        parts.append(
            f'<line x1="{x(n):.1f}" x2="{x(n):.1f}" y1="{top}" y2="{height - bottom}" '
            f'stroke="#eee"/><text x="{x(n):.1f}" y="{height - bottom + 16}" '
            f'text-anchor="middle">{label}</text>'
        )
    parts.append(
        f'<text x="{(left + width - right) / 2}" y="{height - 10}" text-anchor="middle">'
        "transactions landed over 365 days (log scale)</text>"
    )
    for i, (name, (key, color)) in enumerate(series.items()):
        points = [(x(n), y(v)) for n in sizes if (v := results[str(n)].get(key))]
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        dash = ' stroke-dasharray="5,4"' if "raw" in name else ""
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>'
        )
        parts += [
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"/>' for px, py in points
        ]
        ly = top + 14 + i * 18
        parts.append(
            f'<line x1="{width - right + 12}" x2="{width - right + 32}" y1="{ly - 4}" '
            f'y2="{ly - 4}" stroke="{color}" stroke-width="2"{dash}/>'
            f'<text x="{width - right + 38}" y="{ly}">{name}</text>'
        )
    parts.append("</svg>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(parts) + "\n")


if __name__ == "__main__":
    started = time.perf_counter()
    code = main()
    print(f"bench_wall_seconds: {time.perf_counter() - started:.1f}")
    sys.exit(code)
