"""Land history at scale: any number of transactions over a date range, in bounded memory.

    python -m lambda_src.backfill --start 2025-01-01 --end 2025-12-31 --transactions 1000000 \\
        [--dirty-rate 0.02] [--format jsonl|csv] [--max-batch 50000] [--out data/landing]

Writes exactly what the Lambda writes — the same entity files and manifests with control totals,
through the same writers (`LANDING_BUCKET` set: S3; else the local folder `--out`/`LANDING_DIR`)
— one day after another, each day split into batches of at most `--max-batch` transactions, so
memory holds one batch whatever the total. Seeded by date and batch number: the same arguments
land byte-identical files under identical keys (the arrival stamp is the end of the batch date).
Dirty records, exact re-sends and late events are made and counted per batch as in the Lambda.
A progress line goes to stderr on long runs.
"""

import argparse
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from lambda_src.generator import generate_batch
from lambda_src.handler import land_batch, writer_from_env
from lambda_src.landing import LandingWriter, LocalWriter
from lambda_src.settings import ENV_BUCKET

DEFAULT_MAX_BATCH = 50_000


def plan(start: date, end: date, transactions: int, max_batch: int) -> Iterator[tuple[date, int]]:
    """(day, batch size) for every batch: the total spread evenly over the days, each day cut
    into batches of at most `max_batch`."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if transactions < 0 or max_batch < 1:
        raise ValueError("transactions must be >= 0 and max_batch >= 1")
    days = (end - start).days + 1
    per_day, extra = divmod(transactions, days)
    for n in range(days):
        day = start + timedelta(days=n)
        remaining = per_day + (1 if n < extra else 0)
        while remaining > 0:
            size = min(remaining, max_batch)
            yield day, size
            remaining -= size


def land_history(
    writer: LandingWriter,
    start: date,
    end: date,
    transactions: int,
    dirty_rate: float = 0.0,
    fmt: str = "jsonl",
    max_batch: int = DEFAULT_MAX_BATCH,
    progress=None,
) -> dict:
    """Land the history; returns totals (batches, records, dirty, duplicates)."""
    totals = {"batches": 0, "records": 0, "dirty": 0, "duplicates": 0, "valid": 0}
    batches = list(plan(start, end, transactions, max_batch))  # small: (day, size) pairs
    started = time.monotonic()
    per_day: dict[date, int] = {}
    for i, (day, size) in enumerate(batches):
        number = per_day[day] = per_day.get(day, 0) + 1
        batch = generate_batch(day, f"hist-{day:%Y%m%d}-{number:03d}", size, dirty_rate)
        landed_at = datetime(day.year, day.month, day.day, 23, 59, 59, number, tzinfo=UTC)
        result = land_batch(batch, writer, fmt, now=landed_at)
        tx = result["manifest"]["control_totals"]["transactions"]
        totals["batches"] += 1
        for key in ("records", "dirty", "duplicates", "valid"):
            totals[key] += tx[key]
        if progress is not None and (i % 10 == 9 or i == len(batches) - 1):
            elapsed = time.monotonic() - started
            progress.write(
                f"\rlanded {i + 1:,}/{len(batches):,} batches, {totals['records']:,}/"
                f"{transactions:,} transactions, {elapsed:,.1f} s"
            )
            progress.flush()
    if progress is not None and batches:
        progress.write("\n")
    return totals


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lambda_src.backfill", description=__doc__)
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--transactions", type=int, required=True)
    parser.add_argument("--dirty-rate", type=float, default=0.0)
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH)
    parser.add_argument("--out", help="local landing folder (default: LANDING_DIR or data/landing)")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    args = parser.parse_args(argv)
    import os

    writer = LocalWriter(args.out) if args.out else writer_from_env()
    if args.out and os.environ.get(ENV_BUCKET):
        print(f"--out given: writing locally, not to {ENV_BUCKET}", file=sys.stderr)
    totals = land_history(
        writer,
        args.start,
        args.end,
        args.transactions,
        args.dirty_rate,
        args.format,
        args.max_batch,
        progress=None if args.quiet else sys.stderr,
    )
    print(
        f"landed {totals['records']:,} transactions in {totals['batches']:,} batches "
        f"({totals['dirty']:,} dirty, {totals['duplicates']:,} re-sent) from {args.start} "
        f"to {args.end}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
