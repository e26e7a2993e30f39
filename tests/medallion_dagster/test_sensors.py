import json

from tests.conftest import TX_HEADER, WIDE, put_local
from tests.conftest import sensor_tick as tick


def test_one_run_per_batch_date_with_new_files(local_defs, instance, landing_dir):
    put_local(landing_dir, "transactions/dt=2026-03-01/a.csv", TX_HEADER)
    put_local(landing_dir, "customers/dt=2026-03-01/a.csv", "customer_id\n")
    put_local(landing_dir, "transactions/dt=2026-03-02/b.jsonl", "{}\n")
    data = tick(local_defs, instance)
    assert sorted(r.partition_key for r in data.run_requests) == ["2026-03-01", "2026-03-02"]
    assert all(r.run_key.startswith(r.partition_key + ":") for r in data.run_requests)
    assert tick(local_defs, instance, data.cursor).run_requests == []  # nothing new


def test_changed_content_runs_again_with_a_new_run_key(local_defs, instance, landing_dir):
    path = put_local(landing_dir, "transactions/dt=2026-03-01/a.csv", TX_HEADER)
    first = tick(local_defs, instance)
    path.write_text(TX_HEADER + "t1,C1,2026-03-01T00:00:00Z,1.00,USD,purchase\n")
    second = tick(local_defs, instance, first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["2026-03-01"]
    assert second.run_requests[0].run_key != first.run_requests[0].run_key


def test_same_content_gives_the_same_run_key(local_defs, instance, landing_dir):
    put_local(landing_dir, "transactions/dt=2026-03-01/a.csv", TX_HEADER)
    a = tick(local_defs, instance).run_requests[0].run_key
    b = tick(local_defs, instance).run_requests[0].run_key  # e.g. after a cursor reset
    assert a == b  # the daemon drops a run key it has already launched


def test_non_data_files_are_ignored(local_defs, instance, landing_dir):
    for key in [
        "transactions/dt=2026-03-01/.a.csv.tmp",
        "transactions/dt=2026-03-01/_SUCCESS",
        "transactions/dt=2026-03-01/readme.txt",
        "_manifests/dt=2026-03-01/m.json",
        "stray.csv",
    ]:
        put_local(landing_dir, key, "x")
    data = tick(local_defs, instance)
    assert data.run_requests == [] and "no new" in data.skip_message


def test_dates_outside_the_partitions_are_reported_not_marked_seen(
    local_defs, instance, landing_dir
):
    put_local(landing_dir, "transactions/dt=2099-01-01/future.csv", TX_HEADER)
    put_local(landing_dir, "transactions/dt=2020-01-01/before_start.csv", TX_HEADER)
    data = tick(local_defs, instance)
    assert data.run_requests == []
    assert "1 file(s) outside the partition range" in data.skip_message  # the future one waits
    assert "1 file(s) dated before the first partition" in data.skip_message
    assert json.loads(data.cursor)["seen"] == {}  # not marked seen: they run once their day exists


def test_cursor_is_small_readable_json(local_defs, instance, landing_dir):
    put_local(landing_dir, "transactions/dt=2026-03-01/a.csv", TX_HEADER)
    cursor = json.loads(tick(local_defs, instance).cursor)
    assert list(cursor["seen"]) == ["transactions/dt=2026-03-01/a.csv"]


def test_garbage_cursor_does_not_crash_the_sensor(local_defs, instance, landing_dir):
    put_local(landing_dir, "transactions/dt=2026-03-01/a.csv", TX_HEADER)
    assert len(tick(local_defs, instance, "not json").run_requests) == 1


def test_s3_revert_to_earlier_content_runs_again(s3_zone, s3_bucket, warehouse, instance):
    import boto3

    from medallion_dagster.definitions import build_definitions

    defs = build_definitions(landing_zone=s3_zone, warehouse=warehouse, discovery=WIDE)
    s3 = boto3.client("s3")
    key = "landing/transactions/dt=2026-03-01/a.csv"
    keys = []
    cursor = None
    for body in (TX_HEADER + "v1\n", TX_HEADER + "v2\n", TX_HEADER + "v1\n"):
        s3.put_object(Bucket=s3_bucket, Key=key, Body=body.encode())
        data = tick(defs, instance, cursor)
        cursor = data.cursor
        keys += [r.run_key for r in data.run_requests]
    assert len(keys) == 3 and len(set(keys)) == 3  # v1 again is a new upload: not dropped


def test_unrecognised_keys_are_reported(local_defs, instance, landing_dir):
    put_local(landing_dir, "transactions/dt=2024-02-30/a.csv", TX_HEADER)
    put_local(landing_dir, "transactions/dt=2026-03-01/sub/a.csv", TX_HEADER)
    put_local(landing_dir, "transactions/dt=2026-03-01/a.jsonl.gz", b"\x1f\x8b")
    data = tick(local_defs, instance)
    assert [r.partition_key for r in data.run_requests] == ["2026-03-01"]  # .gz is data
    data = tick(local_defs, instance, data.cursor)
    assert "2 unrecognised key(s) ignored" in data.skip_message
