"""The landing sensor's two discovery modes: exactly once per (key, content), cost per tick."""

import json
import time
from datetime import timedelta

import boto3
import pytest

from medallion_dagster.definitions import build_definitions
from medallion_dagster.demo import run_sensor_once
from medallion_dagster.discovery import LandingDiscovery, parse_s3_event
from medallion_dagster.landing_zone import LocalLandingZone
from tests.conftest import BUCKET, TX_HEADER, put_local
from tests.conftest import sensor_tick as tick

ROW = "{id},C1,{day}T10:00:00Z,{amount},USD,purchase\n"


def bronze_rows(warehouse):
    df = warehouse.read("bronze", "transactions")
    return sorted(zip(df["transaction_id"], df["amount"], strict=True))


# --- listing mode ---------------------------------------------------------------------------------


@pytest.fixture
def listing(local_zone, warehouse):
    return build_definitions(
        landing_zone=local_zone, warehouse=warehouse, discovery=LandingDiscovery(lookback_days=7)
    )


def test_reupload_among_new_files_runs_everything_once(
    listing, instance, landing_dir, warehouse, today
):
    day = today.isoformat()
    key = f"transactions/dt={day}/tx_001.csv"
    put_local(landing_dir, key, TX_HEADER + ROW.format(id="t1", day=day, amount="1.00"))
    results, cursor, _ = run_sensor_once(listing, instance)
    assert [r.success for r in results] == [True]
    put_local(
        landing_dir,
        f"transactions/dt={day}/tx_002.csv",
        TX_HEADER + ROW.format(id="t2", day=day, amount="2.00"),
    )
    put_local(
        landing_dir,
        f"transactions/dt={day}/tx_003.csv",
        TX_HEADER + ROW.format(id="t3", day=day, amount="3.00"),
    )
    put_local(
        landing_dir, key, TX_HEADER + ROW.format(id="t1", day=day, amount="9.00")
    )  # new content
    results, cursor, requests = run_sensor_once(listing, instance, cursor)
    assert len(requests) == 1 and [r.success for r in results] == [True]
    assert bronze_rows(warehouse) == [("t1", "9.00"), ("t2", "2.00"), ("t3", "3.00")]
    assert run_sensor_once(listing, instance, cursor)[2] == []  # nothing again


def test_files_of_the_same_second_in_reverse_key_order_are_both_seen(
    listing, instance, landing_dir, today
):
    import os

    day = today.isoformat()
    b = put_local(landing_dir, f"transactions/dt={day}/b.csv", TX_HEADER)
    first = tick(listing, instance)
    a = put_local(landing_dir, f"transactions/dt={day}/a.csv", TX_HEADER)
    same = b.stat().st_mtime_ns
    os.utime(a, ns=(same, same))
    second = tick(listing, instance, first.cursor)
    assert [r.tags["medallion/files"] for r in first.run_requests] == ["1"]
    assert [r.tags["medallion/files"] for r in second.run_requests] == ["1"]
    assert json.loads(second.cursor)["seen"].keys() == {
        f"transactions/dt={day}/a.csv",
        f"transactions/dt={day}/b.csv",
    }


def test_a_tick_that_fails_half_way_neither_skips_nor_repeats(
    local_zone, warehouse, instance, landing_dir, today
):
    day = today.isoformat()
    put_local(landing_dir, f"customers/dt={day}/c.csv", "customer_id\n")
    put_local(landing_dir, f"transactions/dt={day}/t.csv", TX_HEADER)

    class Flaky(LocalLandingZone):
        def list_objects(self, prefix="", start_after=""):
            if prefix.startswith("transactions") and not getattr(Flaky, "failed", False):
                Flaky.failed = True
                raise ConnectionError("listing interrupted")
            yield from super().list_objects(prefix, start_after)

    defs = build_definitions(
        landing_zone=Flaky(root=local_zone.root),
        warehouse=warehouse,
        discovery=LandingDiscovery(lookback_days=7),
    )
    with pytest.raises(Exception, match="listing interrupted"):
        tick(defs, instance)
    data = tick(defs, instance)  # the failed tick committed nothing: same (empty) cursor
    assert [r.tags["medallion/files"] for r in data.run_requests] == ["2"]
    assert tick(defs, instance, data.cursor).run_requests == []


def test_old_days_are_not_listed_and_reconciliation_reports_them(
    listing, instance, landing_dir, warehouse, today
):
    old = (today - timedelta(days=30)).isoformat()
    put_local(
        landing_dir,
        f"transactions/dt={old}/late.csv",
        TX_HEADER + ROW.format(id="o1", day=old, amount="5.00"),
    )
    data = tick(listing, instance)
    assert data.run_requests == []
    recon = tick(listing, instance, sensor="landing_reconciliation_sensor")
    assert [r.partition_key for r in recon.run_requests] == [old]
    assert recon.run_requests[0].tags["medallion/trigger"] == "reconciliation"
    # once the day has run, reconciliation finds nothing missing
    assert (
        listing.resolve_job_def("medallion_daily")
        .execute_in_process(partition_key=old, instance=instance)
        .success
    )
    assert tick(listing, instance, sensor="landing_reconciliation_sensor").run_requests == []


def test_a_reset_cursor_does_not_reprocess(listing, instance, landing_dir, today):
    day = today.isoformat()
    put_local(
        landing_dir,
        f"transactions/dt={day}/a.csv",
        TX_HEADER + ROW.format(id="t1", day=day, amount="1.00"),
    )
    results, _, _ = run_sensor_once(listing, instance)
    assert [r.success for r in results] == [True]
    data = tick(listing, instance, cursor=None)  # e.g. reset from the UI
    assert data.run_requests == [] and "already in bronze" in data.skip_message


def test_a_bounded_tick_continues_on_the_next(local_zone, warehouse, instance, landing_dir, today):
    day = today.isoformat()
    for i in range(25):
        put_local(landing_dir, f"transactions/dt={day}/{i:03d}.csv", TX_HEADER)
    defs = build_definitions(
        landing_zone=local_zone,
        warehouse=warehouse,
        discovery=LandingDiscovery(lookback_days=7, max_files_per_tick=10),
    )
    counts, cursor = [], None
    for _ in range(4):
        data = tick(defs, instance, cursor)
        cursor = data.cursor
        counts.append(sum(int(r.tags["medallion/files"]) for r in data.run_requests))
    assert counts == [10, 10, 5, 0]


# --- listing mode on S3: cost per tick ------------------------------------------------------------


@pytest.fixture
def s3_listing(s3_zone, warehouse):
    return build_definitions(
        landing_zone=s3_zone, warehouse=warehouse, discovery=LandingDiscovery(lookback_days=7)
    )


def test_listing_tick_cost_is_the_window_not_the_history(
    s3_listing, s3_zone, instance, today, api_calls
):
    s3 = s3_zone.client()
    old_day = today - timedelta(days=400)
    for i in range(10_000):  # old history, outside the window
        day = (old_day + timedelta(days=i % 300)).isoformat()
        s3.put_object(Bucket=BUCKET, Key=f"landing/transactions/dt={day}/{i:06d}.csv", Body=b"")
    for i in range(10):
        s3.put_object(
            Bucket=BUCKET,
            Key=f"landing/transactions/dt={today}/new{i}.csv",
            Body=TX_HEADER.encode(),
        )
    api_calls.clear()
    data = tick(s3_listing, instance)
    assert 1 <= api_calls.count("ListObjectsV2") <= 3  # one per entity, not pages of history
    assert sum(int(r.tags["medallion/files"]) for r in data.run_requests) == 10


def test_more_than_a_page_of_new_files_is_all_found(s3_listing, s3_zone, instance, today):
    s3 = s3_zone.client()
    for i in range(1005):
        s3.put_object(Bucket=BUCKET, Key=f"landing/customers/dt={today}/{i:05d}.csv", Body=b"x\n")
    first = tick(s3_listing, instance)  # pages past 1,000 keys; plans at most 1,000 a tick
    assert sum(int(r.tags["medallion/files"]) for r in first.run_requests) == 1000
    second = tick(s3_listing, instance, first.cursor)
    assert sum(int(r.tags["medallion/files"]) for r in second.run_requests) == 5


# --- notification mode ----------------------------------------------------------------------------


@pytest.fixture
def queue(s3_bucket):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="landing-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("s3").put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "landing/"}]}},
                }
            ]
        },
    )
    return url


@pytest.fixture
def notified(s3_zone, warehouse, queue):
    return build_definitions(
        landing_zone=s3_zone,
        warehouse=warehouse,
        discovery=LandingDiscovery(queue_url=queue, visibility_timeout_seconds=1),
    )


def queue_depth(url) -> int:
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def test_notifications_run_each_upload_once_and_are_deleted_after(
    notified, s3_zone, queue, instance, warehouse, today
):
    s3 = s3_zone.client()
    day = today.isoformat()
    key = f"landing/transactions/dt={day}/tx_001.csv"
    s3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=(TX_HEADER + ROW.format(id="t1", day=day, amount="1.00")).encode(),
    )
    results, cursor, requests = run_sensor_once(notified, instance)
    assert len(requests) == 1 and [r.success for r in results] == [True]
    for name, amount in (("tx_002", "2.00"), ("tx_003", "3.00")):
        s3.put_object(
            Bucket=BUCKET,
            Key=f"landing/transactions/dt={day}/{name}.csv",
            Body=(TX_HEADER + ROW.format(id=name, day=day, amount=amount)).encode(),
        )
    s3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=(TX_HEADER + ROW.format(id="t1", day=day, amount="9.00")).encode(),
    )
    results, cursor, requests = run_sensor_once(notified, instance, cursor)
    assert len(requests) == 1 and int(requests[0].tags["medallion/files"]) == 3
    assert bronze_rows(warehouse) == [("t1", "9.00"), ("tx_002", "2.00"), ("tx_003", "3.00")]
    _, cursor, requests = run_sensor_once(notified, instance, cursor)  # acknowledges the last batch
    assert requests == [] and queue_depth(queue) == 0


def test_a_duplicate_notification_is_one_run(notified, s3_zone, queue, instance, today):
    s3_zone.client().put_object(
        Bucket=BUCKET, Key=f"landing/transactions/dt={today}/a.csv", Body=b"x"
    )
    sqs = boto3.client("sqs")
    body = sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0)["Messages"][0]["Body"]
    sqs.send_message(QueueUrl=queue, MessageBody=body)  # SQS is at-least-once: a second copy
    data = tick(notified, instance)
    assert len(data.run_requests) == 1 and data.run_requests[0].tags["medallion/files"] == "1"


def test_a_failed_notification_tick_loses_nothing(
    notified, s3_zone, queue, instance, today, monkeypatch
):
    s3_zone.client().put_object(
        Bucket=BUCKET, Key=f"landing/transactions/dt={today}/a.csv", Body=b"x"
    )
    import medallion_dagster.sensors as sensors

    real = sensors.plan
    monkeypatch.setattr(
        sensors, "plan", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom"))
    )
    with pytest.raises(Exception, match="boom"):
        tick(notified, instance)
    monkeypatch.setattr(sensors, "plan", real)
    time.sleep(1.2)  # the visibility timeout of the failed tick's messages runs out
    data = tick(notified, instance)  # the message was not deleted: it is read again
    assert [r.tags["medallion/files"] for r in data.run_requests] == ["1"]
    assert tick(notified, instance, data.cursor).run_requests == []
    assert queue_depth(queue) == 0


def test_notification_tick_makes_a_handful_of_receive_calls(
    notified, s3_zone, queue, instance, today, api_calls
):
    for i in range(10):
        s3_zone.client().put_object(
            Bucket=BUCKET, Key=f"landing/transactions/dt={today}/{i}.csv", Body=b"x"
        )
    api_calls.clear()
    data = tick(notified, instance)
    assert sum(int(r.tags["medallion/files"]) for r in data.run_requests) == 10
    assert 1 <= api_calls.count("ReceiveMessage") <= 3
    assert api_calls.count("ListObjectsV2") == 0  # notification mode never lists


def test_poison_and_test_messages_never_crash_the_sensor(notified, queue, instance):
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queue, MessageBody="not json")
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"Event": "s3:TestEvent"}))
    sqs.send_message(
        QueueUrl=queue, MessageBody=json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]})
    )
    data = tick(notified, instance)
    assert data.run_requests == [] and "not S3 events" in data.skip_message


def s3_event(key: str, etag="abc", sequencer="0055") -> str:
    """An S3 event notification as AWS sends it (keys URL-encoded, spaces as '+')."""
    return json.dumps(
        {
            "Records": [
                {
                    "eventVersion": "2.1",
                    "eventSource": "aws:s3",
                    "awsRegion": "us-east-1",
                    "eventTime": "2026-12-03T10:00:00.000Z",
                    "eventName": "ObjectCreated:Put",
                    "s3": {
                        "s3SchemaVersion": "1.0",
                        "configurationId": "landing",
                        "bucket": {"name": BUCKET, "arn": f"arn:aws:s3:::{BUCKET}"},
                        "object": {"key": key, "size": 1, "eTag": etag, "sequencer": sequencer},
                    },
                }
            ]
        }
    )


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        (
            "landing/transactions/dt=2026-12-01/my+file.csv",
            "transactions/dt=2026-12-01/my file.csv",
        ),
        ("landing/transactions/dt=2026-12-01/a%2Bb.csv", "transactions/dt=2026-12-01/a+b.csv"),
        (
            "landing/transactions/dt=2026-12-01/z%C3%BCrich.csv",
            "transactions/dt=2026-12-01/zürich.csv",
        ),
        ("landing/transactions/dt=2026-12-01/100%25.csv", "transactions/dt=2026-12-01/100%.csv"),
    ],
)
def test_event_keys_are_url_decoded_exactly_once(encoded, decoded):
    (found,) = parse_s3_event(s3_event(encoded), "landing")
    assert found.key == decoded and found.version == "abc@0055"


def test_sns_wrapped_events_and_other_prefixes():
    wrapped = json.dumps(
        {"Type": "Notification", "Message": s3_event("landing/customers/dt=2026-12-01/c.csv")}
    )
    assert [f.key for f in parse_s3_event(wrapped, "landing")] == ["customers/dt=2026-12-01/c.csv"]
    assert parse_s3_event(s3_event("elsewhere/x.csv"), "landing") == []


def test_folder_markers_and_temporary_keys_are_ignored_silently(
    s3_listing, s3_zone, instance, today
):
    s3 = s3_zone.client()
    for key in (
        f"landing/transactions/dt={today}/",  # a 0-byte "folder" from the console
        f"landing/transactions/dt={today}/_SUCCESS",
        f"landing/transactions/dt={today}/.part-0001.csv",
        f"landing/transactions/dt={today}/x.csv.tmp",
        f"landing/transactions/dt={today}/sub$folder$",
    ):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"")
    s3.put_object(Bucket=BUCKET, Key=f"landing/transactions/dt={today}/my file+ü.csv", Body=b"x")
    data = tick(s3_listing, instance)
    assert [r.tags["medallion/files"] for r in data.run_requests] == ["1"]
    assert json.loads(data.cursor)["seen"].keys() == {f"transactions/dt={today}/my file+ü.csv"}
    again = tick(s3_listing, instance, data.cursor)
    assert again.skip_message == "no new or changed landing files"  # nothing reported as odd


# --- regressions found by adversarial review ------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"Type": "Notification", "Message": None}),
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": 5}}}]}),
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": None}]}),
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"Records": "nope"}),
    ],
)
def test_one_poison_message_never_blocks_good_files(
    notified, s3_zone, queue, instance, today, body
):
    boto3.client("sqs").send_message(QueueUrl=queue, MessageBody=body)
    s3_zone.client().put_object(
        Bucket=BUCKET, Key=f"landing/transactions/dt={today}/good.csv", Body=b"x"
    )
    data = tick(notified, instance)
    assert [r.tags["medallion/files"] for r in data.run_requests] == ["1"]
    tick(notified, instance, data.cursor)  # acknowledges both
    assert queue_depth(queue) == 0


def test_a_bounded_notification_tick_carries_the_rest_and_drains_the_queue(
    s3_zone, warehouse, queue, instance, today
):
    defs = build_definitions(
        landing_zone=s3_zone,
        warehouse=warehouse,
        discovery=LandingDiscovery(
            queue_url=queue, visibility_timeout_seconds=1, max_files_per_tick=1
        ),
    )
    for name in ("a", "b", "c"):
        s3_zone.client().put_object(
            Bucket=BUCKET, Key=f"landing/transactions/dt={today}/{name}.csv", Body=b"x"
        )
    requested, cursor = [], None
    for _ in range(4):
        data = tick(defs, instance, cursor)
        cursor = data.cursor
        requested += [r.run_key for r in data.run_requests]
    assert len(requested) == 3 and len(set(requested)) == 3
    assert queue_depth(queue) == 0 and json.loads(cursor)["waiting"] == {}


def test_files_before_the_first_partition_are_reported_not_kept_forever(
    notified, s3_zone, instance
):
    s3_zone.client().put_object(
        Bucket=BUCKET, Key="landing/transactions/dt=2020-01-01/old.csv", Body=b"x"
    )
    data = tick(notified, instance)
    assert "dated before the first partition" in data.skip_message
    assert json.loads(data.cursor)["waiting"] == {}


@pytest.mark.parametrize(
    "cursor",
    [
        '{"seen": "abc"}',
        '{"seen": 5}',
        '{"seen": ["k"]}',
        '{"waiting": {"k": 5}}',
        '{"ack": [123]}',
    ],
)
def test_hand_edited_cursors_never_crash_a_tick(notified, listing, instance, cursor):
    tick(listing, instance, cursor)
    tick(notified, instance, cursor)


def test_the_listing_cursor_forgets_files_once_bronze_holds_them(
    listing, instance, landing_dir, today
):
    day = today.isoformat()
    for i in range(20):
        put_local(
            landing_dir,
            f"transactions/dt={day}/{i:02d}.csv",
            TX_HEADER + ROW.format(id=f"t{i}", day=day, amount="1.00"),
        )
    results, cursor, _ = run_sensor_once(listing, instance)
    assert [r.success for r in results] == [True]
    assert len(json.loads(cursor)["seen"]) == 20  # requested, not yet known to be stored
    data = tick(listing, instance, cursor)
    assert data.run_requests == [] and json.loads(data.cursor)["seen"] == {}
