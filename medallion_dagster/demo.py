"""The local demo (README command a): land a few days through the Lambda handler, let the sensor
pick the files up, run the requested partitions bronze -> silver -> gold, print gold figures.

    python -m medallion_dagster.demo [--days 3] [--batch-size 500] [--dirty-rate 0.02]

With DAGSTER_HOME set (the Makefile sets it) the runs are recorded in that instance, so
`dagster dev` shows them afterwards. Re-running is idempotent: days already landed are not landed
again, and a run key already used is not run again, exactly as the sensor daemon would behave.
"""

import argparse
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from lambda_src.contract import MANIFEST_DIR, from_minor_units
from lambda_src.handler import handler
from lambda_src.landing import DEFAULT_LOCAL_DIR
from lambda_src.settings import ENV_LOCAL_DIR
from medallion_dagster.settings import env

RUN_KEY_TAG = "dagster/run_key"


def run_sensor_once(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    cursor: str | None = None,
    log_level: str = "DEBUG",
) -> tuple[list[dg.ExecuteInProcessResult], str | None, list[dg.RunRequest]]:
    """Evaluate the landing sensor once and execute the runs it requests, in process.

    Run requests whose run key already has a run in `instance` are skipped, as the daemon does.
    Returns (results of the runs executed, the new cursor, every run request).
    """
    sensor = defs.resolve_sensor_def("landing_sensor")
    with dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        definitions=defs,
        resources=defs.resources,
        sensor_name=sensor.name,
    ) as context:
        data = sensor.evaluate_tick(context)
    job = defs.resolve_job_def(sensor.job_name)
    results = []
    for request in data.run_requests or []:
        if request.run_key and instance.get_runs(
            filters=dg.RunsFilter(tags={RUN_KEY_TAG: request.run_key}), limit=1
        ):
            continue
        tags = {**request.tags, RUN_KEY_TAG: request.run_key} if request.run_key else request.tags
        results.append(
            job.execute_in_process(
                partition_key=request.partition_key,
                instance=instance,
                tags=tags,
                run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
                raise_on_error=False,  # like the daemon: a failed run is reported, not raised
            )
        )
    return results, data.cursor or cursor, list(data.run_requests or [])


def land_demo_days(days: int, batch_size: int, dirty_rate: float, landing_dir: Path) -> list[str]:
    """Land one batch per day (today included) unless that day's demo batch is already there."""
    today = datetime.now(UTC).date()
    landed = []
    for offset in range(days - 1, -1, -1):
        day = today - timedelta(days=offset)
        batch_id = f"demo-{day:%Y%m%d}"
        manifests = landing_dir / MANIFEST_DIR / f"dt={day.isoformat()}"
        if any(manifests.glob(f"*-{batch_id}.json")):
            continue
        handler(
            {
                "batch_date": day.isoformat(),
                "batch_id": batch_id,
                "batch_size": batch_size,
                "dirty_rate": dirty_rate,
            }
        )
        landed.append(day.isoformat())
    return landed


def format_gold(warehouse) -> str:
    lines = ["", "gold.daily_revenue: net revenue by currency (all days)"]
    revenue = warehouse.query(
        "SELECT currency, sum(transaction_count) AS n, sum(revenue_minor) AS revenue "
        "FROM gold.daily_revenue GROUP BY currency ORDER BY currency"
    )
    for row in revenue.itertuples():
        lines.append(
            f"  {row.currency}: {from_minor_units(int(row.revenue), row.currency):>14,} "
            f"from {row.n} transaction(s)"
        )
    lines += ["", "gold.customer_summary: top 5 customers by net revenue (USD)"]
    top = warehouse.query(
        "SELECT customer_id, customer_name, transaction_count, net_revenue_minor "
        "FROM gold.customer_summary WHERE currency = 'USD' "
        "ORDER BY net_revenue_minor DESC, customer_id LIMIT 5"
    )
    for row in top.itertuples():
        lines.append(
            f"  {row.customer_id} {row.customer_name or '?':<24} "
            f"{from_minor_units(int(row.net_revenue_minor), 'USD'):>12,} USD "
            f"({row.transaction_count} transaction(s))"
        )
    quarantined = warehouse.query(
        "SELECT rule, count(*) AS n FROM silver.transactions_quarantine GROUP BY rule ORDER BY rule"
    )
    lines += ["", "silver.transactions_quarantine: rejected records by rule"]
    lines += [f"  {r.rule}: {r.n}" for r in quarantined.itertuples()] or ["  (none)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=3, help="days to land, today included")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=int(os.environ.get("BATCH_SIZE") or 500),
        help="transaction records per day (default: $BATCH_SIZE or 500)",
    )
    parser.add_argument(
        "--dirty-rate",
        type=float,
        default=float(os.environ.get("DIRTY_RATE") or 0.02),
        help="share of deliberately invalid records (default: $DIRTY_RATE or 0.02)",
    )
    parser.add_argument("--log-level", default="WARNING", help="Dagster log level of the runs")
    args = parser.parse_args(argv)

    from medallion_dagster.definitions import build_definitions
    from medallion_dagster.discovery import LandingDiscovery, discovery_from_env

    # From the environment as it is now; the listing window reaches back to the oldest demo day.
    env_discovery = discovery_from_env()
    discovery = LandingDiscovery(
        queue_url=env_discovery.queue_url,
        lookback_days=max(env_discovery.lookback_days, args.days),
    )
    defs = build_definitions(discovery=discovery)
    landing_dir = Path(env(ENV_LOCAL_DIR, DEFAULT_LOCAL_DIR))
    landed = land_demo_days(args.days, args.batch_size, args.dirty_rate, landing_dir)
    print(f"landed batches for {landed or 'no new days'} in {landing_dir}/")
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    with instance or dg.DagsterInstance.ephemeral() as inst:
        results, _, requests = run_sensor_once(defs, inst, log_level=args.log_level)
        skipped = len(requests) - len(results)
        print(
            f"sensor requested {len(requests)} run(s); executed {len(results)}"
            + (f", skipped {skipped} whose run key had run already" if skipped else "")
            + ("" if requests else " (every landing file is already in bronze)")
        )
        failed = [r for r in results if not r.success]
        for r in results:
            print(
                f"  partition {r.dagster_run.tags.get('dagster/partition')}: "
                f"{'success' if r.success else 'FAILED'} (run {r.run_id[:8]})"
            )
    print(format_gold(defs.resources["warehouse"]))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
