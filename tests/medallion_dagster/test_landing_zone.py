import boto3
import pytest

from medallion_dagster.landing_zone import (
    LocalLandingZone,
    S3LandingZone,
    landing_zone_from_env,
)


def test_local_lists_relative_keys_under_prefix(landing_dir, local_zone):
    (landing_dir / "transactions/dt=2026-01-01").mkdir(parents=True)
    (landing_dir / "transactions/dt=2026-01-01/a.jsonl").write_bytes(b"{}\n")
    (landing_dir / "customers/dt=2026-01-01").mkdir(parents=True)
    (landing_dir / "customers/dt=2026-01-01/b.csv").write_bytes(b"x\n")
    objs = list(local_zone.list_objects("transactions/"))
    assert [o.key for o in objs] == ["transactions/dt=2026-01-01/a.jsonl"]
    assert local_zone.read(objs[0].key) == b"{}\n"
    assert list(local_zone.list_objects("nothing/")) == []


def test_local_etag_changes_when_the_file_is_rewritten(landing_dir, local_zone):
    path = landing_dir / "transactions/dt=2026-01-01/a.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"{}\n")
    before = next(local_zone.list_objects()).etag
    path.write_bytes(b'{"a": 1}\n')
    assert next(local_zone.list_objects()).etag != before


def test_s3_lists_keys_relative_to_prefix(s3_zone, s3_bucket):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=s3_bucket, Key="landing/transactions/dt=2026-01-01/a b+ü.jsonl", Body=b"1")
    s3.put_object(Bucket=s3_bucket, Key="elsewhere/transactions/x.jsonl", Body=b"2")
    objs = list(s3_zone.list_objects("transactions/"))
    assert [o.key for o in objs] == ["transactions/dt=2026-01-01/a b+ü.jsonl"]
    assert s3_zone.read(objs[0].key) == b"1"
    assert objs[0].etag and '"' not in objs[0].etag
    assert s3_zone.uri(objs[0].key) == f"s3://{s3_bucket}/landing/{objs[0].key}"


def test_s3_paginates_past_1000_keys(s3_zone, s3_bucket):
    s3 = boto3.client("s3")
    for i in range(1005):
        s3.put_object(
            Bucket=s3_bucket, Key=f"landing/customers/dt=2026-01-01/{i:05d}.csv", Body=b""
        )
    assert len(list(s3_zone.list_objects("customers/"))) == 1005


@pytest.mark.parametrize(
    ("env", "kind"),
    [({}, LocalLandingZone), ({"LANDING_BUCKET": "b", "LANDING_PREFIX": "raw"}, S3LandingZone)],
)
def test_from_env(monkeypatch, env, kind):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    zone = landing_zone_from_env()
    assert isinstance(zone, kind)
    if kind is S3LandingZone:
        assert zone.uri("k") == "s3://b/raw/k"


def test_s3_client_honours_aws_endpoint_url(monkeypatch):
    from dagster_aws.s3 import S3Resource

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    zone = S3LandingZone(bucket="b", s3=S3Resource())
    assert zone.s3.get_client().meta.endpoint_url == "http://127.0.0.1:9"


def test_unreadable_local_entries_are_skipped_not_fatal(landing_dir, local_zone):
    import os

    day = landing_dir / "transactions/dt=2026-01-01"
    day.mkdir(parents=True)
    (day / "good.csv").write_text("x\n")
    os.symlink("loop.csv", day / "loop.csv")  # a symlink pointing at itself
    bad_name = os.fsencode(str(day)) + b"/bad\xff.csv"  # not UTF-8
    with open(bad_name, "wb") as f:
        f.write(b"x\n")
    assert [o.key for o in local_zone.list_objects("transactions/")] == [
        "transactions/dt=2026-01-01/good.csv"
    ]


def test_local_etag_sees_a_rewrite_that_keeps_size_and_mtime(landing_dir, local_zone):
    import os

    path = landing_dir / "transactions/dt=2026-01-01/a.csv"
    path.parent.mkdir(parents=True)
    path.write_text("amount\n1.00\n")
    before = next(local_zone.list_objects())
    st = path.stat()
    path.write_text("amount\n9.00\n")  # same size ...
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # ... and same mtime, like `cp -p`
    assert next(local_zone.list_objects()).etag != before.etag
