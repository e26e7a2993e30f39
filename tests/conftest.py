"""Shared fixtures. Fake AWS credentials and a region are set at import time, before any boto3
client can exist, so no test can ever reach a real AWS account."""

import os

for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        # Partitions reach far enough back for every date the tests use.
        "MEDALLION_START_DATE": "2024-01-01",
    }
)
for _name in ("LANDING_BUCKET", "LANDING_PREFIX", "LANDING_DIR", "WAREHOUSE_DIR"):
    os.environ.pop(_name, None)

from datetime import UTC, date, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import boto3  # noqa: E402
import dagster as dg  # noqa: E402
import pytest  # noqa: E402
from dagster_aws.s3 import S3Resource  # noqa: E402
from moto import mock_aws  # noqa: E402

from medallion_dagster.definitions import build_definitions  # noqa: E402
from medallion_dagster.discovery import LandingDiscovery  # noqa: E402
from medallion_dagster.landing_zone import LocalLandingZone, S3LandingZone  # noqa: E402
from medallion_dagster.warehouse import Warehouse  # noqa: E402

BUCKET = "medallion-test-landing"


@pytest.fixture
def today() -> date:
    return datetime.now(UTC).date()


@pytest.fixture
def recent_days(today) -> list[date]:
    """Three batch dates, today included (oldest first)."""
    return [today - timedelta(days=2), today - timedelta(days=1), today]


@pytest.fixture
def landing_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    monkeypatch.setenv("LANDING_DIR", str(path))
    return path


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    return Warehouse(path=str(tmp_path / "warehouse"))


@pytest.fixture
def local_zone(landing_dir) -> LocalLandingZone:
    return LocalLandingZone(root=str(landing_dir))


#: Tests land files on fixed dates; a long lookback keeps them inside the listing window.
#: (tests/medallion_dagster/test_discovery.py tests the window itself.)
WIDE = LandingDiscovery(lookback_days=3650)


@pytest.fixture
def local_defs(local_zone, warehouse) -> dg.Definitions:
    return build_definitions(landing_zone=local_zone, warehouse=warehouse, discovery=WIDE)


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.fixture
def s3_bucket(monkeypatch):
    """A moto-mocked bucket; LANDING_BUCKET points the Lambda handler at it."""
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        monkeypatch.setenv("LANDING_BUCKET", BUCKET)
        monkeypatch.setenv("LANDING_PREFIX", "landing")
        yield BUCKET


@pytest.fixture
def s3_zone(s3_bucket) -> S3LandingZone:
    return S3LandingZone(bucket=s3_bucket, prefix="landing", s3=S3Resource())


def put_local(landing_dir: Path, key: str, body: bytes | str) -> Path:
    """Write a landing file (relative key) the way a producer would."""
    path = landing_dir / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return path


TX_HEADER = "transaction_id,customer_id,occurred_at,amount,currency,transaction_type\n"


def sensor_tick(defs: dg.Definitions, instance, cursor=None, sensor: str = "landing_sensor"):
    """Evaluate one tick of a sensor of `defs` with its resources (no runs are executed)."""
    sensor_def = defs.resolve_sensor_def(sensor)
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=defs.resources, definitions=defs
    ) as ctx:
        return sensor_def.evaluate_tick(ctx)


def require_binary(name: str, installed_by: str = "`.ci/run` installs it with apt") -> str:
    """Path of a program the test needs (a name on PATH, or a path). Skips with a reason when it
    is missing, except under CI (CI=true), where it must have been installed: a failure there."""
    import shutil

    path = shutil.which(name)
    if path:
        return path
    message = f"program {name!r} is not installed ({installed_by})"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def api_calls(monkeypatch) -> list[str]:
    """Every AWS API operation any client makes during the test, in order."""
    import botocore.client

    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def counting(client, operation_name, api_params):
        calls.append(operation_name)
        return original(client, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return calls
