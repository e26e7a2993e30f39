import csv
import io
import json

import boto3
import pytest

from lambda_src.handler import ConfigError, handler, writer_from_env


def test_lands_entity_files_and_manifest_locally(landing_dir):
    out = handler({"batch_date": "2026-06-01", "batch_id": "b1", "batch_size": 40}, None)
    files = sorted(
        p.relative_to(landing_dir).as_posix() for p in landing_dir.rglob("*") if p.is_file()
    )
    assert len(files) == 4
    assert not [f for f in files if "/." in f or f.endswith(".tmp")]  # no temporary files left
    assert {f.split("/")[0] for f in files} == {
        "customers",
        "transaction_types",
        "transactions",
        "_manifests",
    }
    assert all("/dt=2026-06-01/" in f for f in files)
    manifest = json.loads((landing_dir / out["manifest_key"]).read_text())
    assert manifest["batch_id"] == "b1"
    assert manifest["control_totals"]["transactions"]["records"] == 40
    tx_key = next(f["key"] for f in manifest["files"] if f["entity"] == "transactions")
    lines = (landing_dir / tx_key).read_text().splitlines()
    assert len(lines) == 40
    assert isinstance(json.loads(lines[0])["amount"], str)  # decimal text, never a float


def test_csv_format(landing_dir):
    out = handler({"batch_date": "2026-06-01", "batch_id": "c1", "batch_size": 5, "format": "csv"})
    key = next(k for k in out["keys"] if k.startswith("transactions/"))
    rows = list(csv.DictReader(io.StringIO((landing_dir / key).read_text())))
    assert len(rows) == 5 and "amount" in rows[0]


def test_inside_lambda_without_bucket_is_an_error(monkeypatch, landing_dir):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "collector")
    with pytest.raises(ConfigError, match="LANDING_BUCKET"):
        handler({"batch_size": 1})
    assert not any(landing_dir.rglob("*.jsonl"))


@pytest.mark.parametrize(
    "event",
    [
        {"batch_id": "../../etc"},
        {"batch_date": "2026-02-30"},
        {"batch_size": "many"},
        {"format": "parquet"},
    ],
)
def test_bad_events_are_rejected_clearly(event, landing_dir):
    with pytest.raises(ConfigError):
        handler(event)


def test_lands_in_s3_under_prefix(s3_bucket, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "collector")  # inside Lambda, bucket set: fine

    class Context:
        aws_request_id = "req-123"

    out = handler({"batch_date": "2026-06-02", "batch_size": 10}, Context())
    assert out["batch_id"] == "req-123"
    keys = sorted(
        o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=s3_bucket)["Contents"]
    )
    assert len(keys) == 4
    assert all(k.startswith("landing/") for k in keys)
    assert any(k.startswith("landing/_manifests/dt=2026-06-02/") for k in keys)


def test_writer_from_env_defaults_to_local_folder():
    assert type(writer_from_env({})).__name__ == "LocalWriter"
