"""Sensors: the landing sensor (new files -> runs) and the daily reconciliation sensor.

How files are found, the cursor and the run keys are described in `discovery.py` and
`docs/ARCHITECTURE.md`. Neither sensor ever fails a tick because of one bad file or message: it
reports what it ignored in its log and skip reason.
"""

import dagster as dg

from medallion_dagster.discovery import (
    Cursor,
    Found,
    LandingDiscovery,
    as_found,
    in_window,
    ingested,
    list_all,
    list_window,
    parse_s3_event,
    plan,
    window_start,
)
from medallion_dagster.jobs import medallion_job
from medallion_dagster.landing_zone import LandingZone, S3LandingZone
from medallion_dagster.partitions import daily_partitions
from medallion_dagster.warehouse import Warehouse


def _report(context, result, cursor: Cursor) -> dg.SensorResult | dg.SkipReason:
    if result.out_of_range:
        context.log.warning(
            f"{len(result.out_of_range)} file(s) have a batch date outside the partitions "
            f"({daily_partitions.start:%Y-%m-%d} .. today); waiting: "
            f"{sorted(result.out_of_range)[:5]}"
        )
    if result.unrecognised:
        context.log.warning(
            f"{len(result.unrecognised)} landing key(s) are not data files of the contract "
            f"(<entity>/dt=YYYY-MM-DD/<name>.jsonl|csv|parquet[.gz]): {result.unrecognised[:5]}"
        )
    if result.deferred:
        context.log.info(f"bounded tick: {result.deferred} more file(s) left for the next tick")
    if result.before_start:
        context.log.warning(
            f"{len(result.before_start)} file(s) are dated before the first partition "
            f"({daily_partitions.start:%Y-%m-%d}) and will not run unless MEDALLION_START_DATE "
            f"moves back: {sorted(result.before_start)[:5]}"
        )
    if not result.runs:
        reason = "; ".join(["no new or changed landing files", *result.notes()])
        return dg.SensorResult(skip_reason=dg.SkipReason(reason), cursor=cursor.dump())
    return dg.SensorResult(run_requests=result.runs, cursor=cursor.dump())


def listing_tick(context, zone: LandingZone, discovery: LandingDiscovery, warehouse: Warehouse):
    cursor = Cursor.load(context.cursor)
    start = window_start(discovery.lookback_days)
    found = list(as_found(list_window(zone, start)))
    result = plan(found, cursor.seen, warehouse, discovery.max_files_per_tick, "landing_sensor")
    # Remember only what bronze cannot tell us yet: files requested whose runs have not stored
    # them (yet). Files already in bronze are recognised there, so the cursor stays small.
    # (Just-requested files are not in bronze: plan() checked. Earlier ones may be by now.)
    earlier = [
        Found.remembered(k, v)
        for k, v in cursor.seen.items()
        if in_window(k, start) and k not in result.already_ingested and k not in result.requested
    ]
    stored = ingested(warehouse, earlier) if earlier and warehouse is not None else set()
    seen = {f.key: f.version for f in earlier if (f.key, f.etag) not in stored}
    seen |= result.requested
    # Files outside the partition range are listed again every tick: no need to remember them.
    return _report(context, result, Cursor(seen=seen))


def notification_tick(
    context, zone: LandingZone, discovery: LandingDiscovery, warehouse: Warehouse
):
    cursor = Cursor.load(context.cursor)
    sqs = discovery.sqs()
    # The previous tick's messages: its run requests are recorded now, so they can go.
    for i in range(0, len(cursor.ack), 10):
        batch = cursor.ack[i : i + 10]
        sqs.delete_message_batch(
            QueueUrl=discovery.queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": h} for n, h in enumerate(batch)],
        )
    prefix = zone.prefix if isinstance(zone, S3LandingZone) else ""
    # Files that waited for their day to exist are tried again first.
    found = [Found.remembered(k, v) for k, v in cursor.waiting.items()]
    handles: list[str] = []
    message_ids: set[str] = set()
    bad = 0
    for _ in range(discovery.max_receive_calls):
        response = sqs.receive_message(
            QueueUrl=discovery.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=discovery.visibility_timeout_seconds,
        )
        messages = [m for m in response.get("Messages", []) if m["MessageId"] not in message_ids]
        for message in messages:
            message_ids.add(message["MessageId"])
            handles.append(message["ReceiptHandle"])
            try:
                found += parse_s3_event(message.get("Body", ""), prefix)
            except Exception as e:  # one bad message must never stop the queue
                bad += 1
                context.log.warning(f"ignoring queue message {message.get('MessageId')}: {e}")
        if not messages:  # SQS may return fewer than are waiting: stop only when nothing is new
            break
    result = plan(found, {}, warehouse, discovery.max_files_per_tick, "landing_sensor")
    result.bad_messages = bad
    # Every message read is acknowledged next tick; files not requested yet (future days, or
    # beyond this tick's bound) are carried in the cursor instead of in the queue.
    waiting = result.out_of_range | result.deferred_files
    return _report(context, result, Cursor(ack=handles, waiting=waiting))


@dg.sensor(
    job=medallion_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Requests a run of each batch date with new or changed landing files. Listing "
    "mode lists only the lookback window; notification mode drains the S3 event queue. A run "
    "key is a hash of the files' (key, version): the same upload never runs twice.",
)
def landing_sensor(
    context: dg.SensorEvaluationContext,
    landing_zone: LandingZone,
    discovery: LandingDiscovery,
    warehouse: Warehouse,
):
    if discovery.mode == "notification":
        return notification_tick(context, landing_zone, discovery, warehouse)
    return listing_tick(context, landing_zone, discovery, warehouse)


@dg.sensor(
    job=medallion_job,
    minimum_interval_seconds=24 * 3600,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Daily reconciliation: lists the whole landing zone, compares it with what "
    "bronze holds, reports files the landing sensor did not process (e.g. landed outside its "
    "lookback window) and requests runs for their days.",
)
def landing_reconciliation_sensor(
    context: dg.SensorEvaluationContext, landing_zone: LandingZone, warehouse: Warehouse
):
    found = list(as_found(list_all(landing_zone)))
    result = plan(found, {}, warehouse, max_files=10**9, trigger="reconciliation")
    if result.requested:
        context.log.warning(
            f"reconciliation found {len(result.requested)} landing file(s) not in bronze: "
            f"{sorted(result.requested)[:10]}"
        )
    return _report(context, result, Cursor())
