"""The landing sensor: new or changed landing files -> runs for the partitions they touch.

The cursor maps each data file's key to the version (ETag + upload time) already requested. A tick
lists the entity prefixes of the landing zone, keeps data files (hidden and temporary files are
ignored; other unrecognised keys are reported), and requests one run per batch date with new
content. Run keys are built from the (key, version) pairs, so the same upload never runs twice and
a corrected re-upload runs again.
"""

import hashlib
import json
from collections import defaultdict

import dagster as dg

from lambda_src.contract import ENTITIES, is_hidden, parse_key
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

    Returns (run requests, the new `seen` map, keys whose batch date has no partition yet,
    keys that are not data files of the contract)."""
    new: dict[str, dict[str, str]] = defaultdict(dict)
    out_of_range: list[str] = []
    unrecognised: list[str] = []
    seen = dict(seen)
    first = daily_partitions.get_first_partition_key()
    last = daily_partitions.get_last_partition_key()
    for entity in ENTITIES:
        for obj in landing_zone.list_objects(f"{entity}/"):
            key = parse_key(obj.key)
            if key is None:
                if not is_hidden(obj.key):
                    unrecognised.append(obj.key)
                continue
            if seen.get(obj.key) == obj.version:
                continue
            dt = key.batch_date.isoformat()
            if not (first and last and first <= dt <= last):
                out_of_range.append(obj.key)  # not marked seen: retried when the day exists
                continue
            new[dt][obj.key] = obj.version
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
    return runs, seen, out_of_range, unrecognised


@dg.sensor(
    job=medallion_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Requests a run of the batch date's partition when landing files are new or "
    "changed (ETag or upload time). Cursor: the data files already requested, with versions.",
)
def landing_sensor(context: dg.SensorEvaluationContext, landing_zone: LandingZone):
    runs, seen, out_of_range, unrecognised = plan_runs(landing_zone, load_cursor(context.cursor))
    notes = []
    if out_of_range:
        context.log.warning(
            f"{len(out_of_range)} file(s) have a batch date outside the partitions "
            f"({daily_partitions.start:%Y-%m-%d} .. today); waiting: {out_of_range[:5]}"
        )
        notes.append(f"{len(out_of_range)} file(s) outside the partition range")
    if unrecognised:
        context.log.warning(
            f"{len(unrecognised)} landing key(s) are not data files of the contract "
            f"(<entity>/dt=YYYY-MM-DD/<name>.jsonl|csv|parquet[.gz]): {unrecognised[:5]}"
        )
        notes.append(f"{len(unrecognised)} unrecognised key(s) ignored")
    if not runs:
        return dg.SkipReason("; ".join(["no new or changed landing files", *notes]))
    return dg.SensorResult(run_requests=runs, cursor=dump_cursor(seen))
