"""Benchmark: one landing-sensor tick against dagster-aws's `get_objects`, on a big history.

    python bench/sensor.py [--old 100000] [--new 10]

In moto (no AWS account; fake credentials), a bucket holds `--old` objects spread over the year
before the lookback window and `--new` objects landed today. Then, in the same run:

- ours: one `landing_sensor` tick in listing mode (7-day lookback window);
- theirs: `dagster_aws.s3.sensor.get_objects(since_key=<newest old key>)`, the helper Dagster
  ships, which lists the whole prefix every tick.

List calls are counted with a botocore event hook on each client. Prints one `name: value` a line.
"""

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "MEDALLION_START_DATE": "2024-01-01",
    }
)
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

import boto3
import botocore.client
import dagster as dg
from dagster_aws.s3 import S3Resource
from dagster_aws.s3.sensor import get_objects
from moto import mock_aws

from medallion_dagster.definitions import build_definitions
from medallion_dagster.discovery import LandingDiscovery
from medallion_dagster.landing_zone import S3LandingZone
from medallion_dagster.warehouse import Warehouse

BUCKET = "medallion-bench-landing"
HEADER = b"transaction_id,customer_id,occurred_at,amount,currency,transaction_type\n"


class ApiCalls:
    """Counts AWS API calls by operation, for every client (botocore's before-call event)."""

    def __init__(self):
        self.calls: list[str] = []
        self._original = botocore.client.BaseClient._make_api_call

        def counting(client, operation_name, api_params):
            self.calls.append(operation_name)
            return self._original(client, operation_name, api_params)

        botocore.client.BaseClient._make_api_call = counting

    def count(self, operation: str) -> int:
        return self.calls.count(operation)

    def reset(self) -> None:
        self.calls.clear()

    def close(self) -> None:
        botocore.client.BaseClient._make_api_call = self._original


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", type=int, default=100_000)
    parser.add_argument("--new", type=int, default=10)
    args = parser.parse_args()
    today = datetime.now(UTC).date()

    with mock_aws(), tempfile.TemporaryDirectory() as tmp:
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        t0 = time.perf_counter()
        last_old = ""
        for i in range(args.old):
            day = today - timedelta(days=30 + i % 365)
            last_old = f"landing/transactions/dt={day}/{i:07d}.csv"
            s3.put_object(Bucket=BUCKET, Key=last_old, Body=HEADER)
        time.sleep(1.1)  # new objects strictly later than the old ones (LastModified: seconds)
        for i in range(args.new):
            s3.put_object(
                Bucket=BUCKET, Key=f"landing/transactions/dt={today}/new{i:03d}.csv", Body=HEADER
            )
        setup_s = time.perf_counter() - t0

        zone = S3LandingZone(bucket=BUCKET, prefix="landing", s3=S3Resource())
        defs = build_definitions(
            landing_zone=zone,
            warehouse=Warehouse(path=tmp),
            discovery=LandingDiscovery(lookback_days=7),
        )
        api = ApiCalls()
        sensor = defs.resolve_sensor_def("landing_sensor")
        with (
            dg.DagsterInstance.ephemeral() as instance,
            dg.build_sensor_context(
                instance=instance, resources=defs.resources, definitions=defs
            ) as ctx,
        ):
            t0 = time.perf_counter()
            data = sensor.evaluate_tick(ctx)
            ours_s = time.perf_counter() - t0
        ours_found = sum(int(r.tags["medallion/files"]) for r in data.run_requests)
        ours_calls = api.count("ListObjectsV2")

        api.reset()
        t0 = time.perf_counter()
        theirs = get_objects(BUCKET, "landing/", since_key=last_old, client=boto3.client("s3"))
        theirs_s = time.perf_counter() - t0
        theirs_calls = api.count("ListObjectsV2")
        api.close()

    print(f"objects_old: {args.old}")
    print(f"objects_new: {args.new}")
    print(f"setup_seconds: {setup_s:.1f}")
    print(f"list_calls_ours: {ours_calls}")
    print(f"list_calls_get_objects: {theirs_calls}")
    print(f"tick_seconds_ours: {ours_s:.3f}")
    print(f"tick_seconds_get_objects: {theirs_s:.3f}")
    print(f"new_found_ours: {ours_found}")
    print(f"new_found_get_objects: {len(theirs)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
