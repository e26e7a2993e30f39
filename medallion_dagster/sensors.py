"""The landing sensor: new or changed landing files -> runs for the partitions they touch.

The cursor maps each data file's key to the version (ETag) already requested. A tick lists the
landing zone, keeps data files (hidden, temporary, manifest and unknown files are ignored), and
requests one run per batch date with new content. Run keys are built from the (key, ETag) pairs,
so the same content never runs twice and a corrected re-upload (new ETag) runs again.
"""

import hashlib
import json
from collections import defaultdict

import dagster as dg

from lambda_src.contract import ENTITIES, parse_key
from medallion_dagster.jobs import medallion_job
from medallion_dagster.landing_zone import LandingZone
from medallion_dagster.partitions import daily_partitions

CURSOR_VERSION = 1


def load_cursor(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return dict(data.get("seen", {})) if isinstance(data, dict) else {}


def dump_cursor(seen: dict[str, str]) -> str:
    return json.dumps({"v": CURSOR_VERSION, "seen": dict(sorted(seen.items()))}, sort_keys=True)


def run_key(partition_key: str, files: dict[str, str]) -> str:
    digest = hashlib.sha256(
        "\n".join(f"{k}@{e}" for k, e in sorted(files.items())).encode()
    ).hexdigest()
    return f"{partition_key}:{digest[:24]}"


def plan_runs(landing_zone: LandingZone, seen: dict[str, str]):
    """Group new or changed data files by batch date.

    Returns (run requests, the new `seen` map, keys whose batch date has no partition yet)."""
    new: dict[str, dict[str, str]] = defaultdict(dict)
    out_of_range: list[str] = []
    seen = dict(seen)
    first = daily_partitions.get_first_partition_key()
    last = daily_partitions.get_last_partition_key()
    for entity in ENTITIES:
        for obj in landing_zone.list_objects(f"{entity}/"):
            key = parse_key(obj.key)
            if key is None or seen.get(obj.key) == obj.etag:
                continue
            dt = key.batch_date.isoformat()
            if not (first and last and first <= dt <= last):
                out_of_range.append(obj.key)  # not marked seen: retried when the day exists
                continue
            new[dt][obj.key] = obj.etag
    runs = []
    for dt, files in sorted(new.items()):
        runs.append(
            dg.RunRequest(
                partition_key=dt,
                run_key=run_key(dt, files),
                tags={"medallion/trigger": "landing_sensor", "medallion/files": str(len(files))},
            )
        )
        seen.update(files)
    return runs, seen, out_of_range


@dg.sensor(
    job=medallion_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Requests a run of the batch date's partition when landing files are new or "
    "changed (by ETag). Cursor: the data files already requested, with their ETags.",
)
def landing_sensor(context: dg.SensorEvaluationContext, landing_zone: LandingZone):
    runs, seen, out_of_range = plan_runs(landing_zone, load_cursor(context.cursor))
    if out_of_range:
        context.log.warning(
            f"{len(out_of_range)} file(s) have a batch date outside the partitions "
            f"({daily_partitions.start:%Y-%m-%d} .. today); waiting: {out_of_range[:5]}"
        )
    if not runs:
        reason = "no new or changed landing files"
        if out_of_range:
            reason += f"; {len(out_of_range)} file(s) outside the partition range"
        return dg.SkipReason(reason)
    return dg.SensorResult(run_requests=runs, cursor=dump_cursor(seen))
