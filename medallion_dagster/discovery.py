"""Finding new landing files cheaply and exactly once: listing mode and notification mode.

S3 cannot list by modification time, so a plain listing cannot be both cheap and complete. Like
file-ingestion systems that have solved this (Databricks Auto Loader), there are two modes:

- **listing** (local folders; S3 without a queue): each tick lists, per entity, only the keys
  whose batch date is inside a lookback window (`StartAfter=<entity>/dt=<window start>`: one
  paginated call per entity), and the cursor remembers the version of each key seen inside the
  window. Cost per tick is proportional to the files in the window, not to all history. A daily
  reconciliation (full listing, compared with what bronze holds) catches and reports files that
  landed outside the window.
- **notification** (production on AWS): S3 event notifications go to an SQS queue; each tick
  receives a bounded number of messages. Messages are deleted one tick later, once the tick that
  read them has been committed with its run requests (the cursor carries their receipt handles);
  if a tick fails, they become visible again and are read again. Cost per tick is proportional to
  new events.

Both modes feed the same planning: data files only, grouped by batch date, bounded per tick,
minus what bronze already holds (so a reset cursor does not reprocess anything), one run request
per date whose run key is a hash of the (key, version) pairs it covers.
"""

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import unquote_plus

import dagster as dg
from pydantic import Field, PrivateAttr

from lambda_src.contract import ENTITIES, is_hidden, parse_key
from medallion_dagster.landing_zone import LandingObject, LandingZone
from medallion_dagster.partitions import daily_partitions
from medallion_dagster.settings import ENV_LOOKBACK_DAYS, ENV_QUEUE_URL, env
from medallion_dagster.warehouse import Warehouse, quote

CURSOR_VERSION = 2


class LandingDiscovery(dg.ConfigurableResource):
    """How the sensor finds new landing files (see the module docstring)."""

    queue_url: str = Field(default="", description="SQS queue of S3 events; empty = listing mode")
    lookback_days: int = Field(
        default=7, ge=1, le=36600, description="listing mode: days listed per tick"
    )
    max_files_per_tick: int = Field(default=1000, ge=1, description="files planned per tick")
    max_receive_calls: int = Field(default=10, ge=1, description="SQS receives per tick (10 each)")
    visibility_timeout_seconds: int = Field(default=300, ge=0)

    _sqs: object = PrivateAttr(default=None)

    @property
    def mode(self) -> str:
        return "notification" if self.queue_url else "listing"

    def sqs(self):
        if self._sqs is None:
            import boto3

            self._sqs = boto3.client("sqs")
        return self._sqs


def discovery_from_env() -> LandingDiscovery:
    return LandingDiscovery(
        queue_url=env(ENV_QUEUE_URL), lookback_days=int(env(ENV_LOOKBACK_DAYS, "7"))
    )


# --- cursor --------------------------------------------------------------------------------------


@dataclass
class Cursor:
    #: key -> version already requested (listing mode: keys inside the window only)
    seen: dict[str, str] = field(default_factory=dict)
    #: notification mode: receipt handles of the messages the previous tick read, to delete now
    ack: list[str] = field(default_factory=list)
    #: key -> version of files whose batch date has no partition yet (retried every tick)
    waiting: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, raw: str | None) -> "Cursor":
        try:
            data = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            data = {}
        if not isinstance(data, dict):
            data = {}

        def str_map(value) -> dict[str, str]:  # a hand-edited cursor never crashes a tick
            if not isinstance(value, dict):
                return {}
            return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}

        ack = data.get("ack")
        return cls(
            seen=str_map(data.get("seen")),
            ack=[h for h in ack if isinstance(h, str)] if isinstance(ack, list) else [],
            waiting=str_map(data.get("waiting")),
        )

    def dump(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "seen": dict(sorted(self.seen.items())),
                "waiting": dict(sorted(self.waiting.items())),
                "ack": self.ack,
            },
            sort_keys=True,
        )


def run_key(partition_key: str, files: dict[str, str]) -> str:
    digest = hashlib.sha256(
        "\n".join(f"{k}@{v}" for k, v in sorted(files.items())).encode()
    ).hexdigest()
    return f"{partition_key}:{digest[:24]}"


# --- planning (both modes) -----------------------------------------------------------------------


@dataclass
class Found:
    """A landing file as a mode found it."""

    key: str
    version: str  # identifies one upload: ETag@LastModified, ETag@sequencer, ...
    etag: str  # identifies the content, as bronze records it in `_source_etag`

    @classmethod
    def remembered(cls, key: str, version: str) -> "Found":
        """A file known from the cursor (the ETag is the version's first part)."""
        return cls(key=key, version=version, etag=version.split("@", 1)[0])


@dataclass
class Plan:
    runs: list[dg.RunRequest] = field(default_factory=list)
    requested: dict[str, str] = field(default_factory=dict)  # key -> version, in the runs
    already_ingested: dict[str, str] = field(default_factory=dict)
    out_of_range: dict[str, str] = field(default_factory=dict)
    unrecognised: list[str] = field(default_factory=list)
    #: files beyond this tick's bound, left for the next tick
    deferred_files: dict[str, str] = field(default_factory=dict)
    before_start: list[str] = field(default_factory=list)  # their day will never exist
    bad_messages: int = 0  # notification mode: queue messages that are not S3 events

    @property
    def deferred(self) -> int:
        return len(self.deferred_files)

    def notes(self) -> list[str]:
        notes = []
        if self.already_ingested:
            notes.append(f"{len(self.already_ingested)} file(s) already in bronze")
        if self.out_of_range:
            notes.append(f"{len(self.out_of_range)} file(s) outside the partition range")
        if self.before_start:
            notes.append(f"{len(self.before_start)} file(s) dated before the first partition")
        if self.unrecognised:
            notes.append(f"{len(self.unrecognised)} unrecognised key(s) ignored")
        if self.deferred:
            notes.append(f"{self.deferred} more file(s) left for the next tick")
        if self.bad_messages:
            notes.append(f"{self.bad_messages} queue message(s) that are not S3 events ignored")
        return notes


def ingested(warehouse: Warehouse, found: list[Found]) -> set[tuple[str, str]]:
    """(key, etag) pairs among `found` that bronze already holds."""
    by_entity: dict[str, list[str]] = defaultdict(list)
    for f in found:
        by_entity[f.key.split("/", 1)[0]].append(f.key)
    pairs: set[tuple[str, str]] = set()
    for entity, keys in by_entity.items():
        if not warehouse.table_exists("bronze", entity):
            continue
        with warehouse.connect("bronze") as conn:
            conn.execute("CREATE TEMP TABLE k (key TEXT PRIMARY KEY)")
            conn.executemany("INSERT OR IGNORE INTO temp.k VALUES (?)", ((k,) for k in keys))
            pairs |= set(
                conn.execute(
                    f"SELECT DISTINCT _source_key, _source_etag FROM main.{quote(entity)} "
                    "WHERE _source_key IN (SELECT key FROM temp.k)"
                ).fetchall()
            )
    return pairs


def plan(
    found: Iterable[Found],
    seen: dict[str, str],
    warehouse: Warehouse | None,
    max_files: int,
    trigger: str,
) -> Plan:
    """Turn the files a mode found into run requests, one per batch date."""
    result = Plan()
    candidates: dict[str, Found] = {}
    for f in found:
        key = parse_key(f.key)
        if key is None:
            if not is_hidden(f.key) and not f.key.startswith("_"):  # _manifests/ etc.
                result.unrecognised.append(f.key)
            continue
        if seen.get(f.key) == f.version:
            continue
        candidates[f.key] = f  # the same key twice in one tick: the last version found wins
    first = daily_partitions.get_first_partition_key()
    last = daily_partitions.get_last_partition_key()
    ordered = sorted(candidates.values(), key=lambda f: (f.key.split("/")[1], f.key))
    if warehouse is not None and ordered:
        done = ingested(warehouse, ordered)
        for f in ordered:
            if (f.key, f.etag) in done:
                result.already_ingested[f.key] = f.version
        ordered = [f for f in ordered if f.key not in result.already_ingested]
    by_date: dict[str, dict[str, str]] = defaultdict(dict)
    for f in ordered:
        dt = parse_key(f.key).batch_date.isoformat()
        if first and dt < first:
            result.before_start.append(f.key)
            continue
        if not (last and dt <= last):
            result.out_of_range[f.key] = f.version  # a future day: it will exist
            continue
        if len(result.requested) >= max_files:
            result.deferred_files[f.key] = f.version
            continue
        by_date[dt][f.key] = f.version
        result.requested[f.key] = f.version
    for dt, files in sorted(by_date.items()):
        result.runs.append(
            dg.RunRequest(
                partition_key=dt,
                # The version each file replaces is part of the key: a revert to earlier content
                # within the same second (same ETag and LastModified) is still a new run.
                run_key=run_key(dt, {k: f"{v}|{seen.get(k, '')}" for k, v in files.items()}),
                tags={"medallion/trigger": trigger, "medallion/files": str(len(files))},
            )
        )
    return result


# --- listing mode --------------------------------------------------------------------------------


def window_start(lookback_days: int, today: date | None = None) -> date:
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=lookback_days - 1)


def list_window(zone: LandingZone, start: date) -> Iterator[LandingObject]:
    """Data keys with a batch date >= start (and anything sorting after them), per entity."""
    for entity in ENTITIES:
        yield from zone.list_objects(f"{entity}/", start_after=f"{entity}/dt={start.isoformat()}")


def list_all(zone: LandingZone) -> Iterator[LandingObject]:
    for entity in ENTITIES:
        yield from zone.list_objects(f"{entity}/")


def as_found(objects: Iterable[LandingObject]) -> Iterator[Found]:
    for o in objects:
        yield Found(key=o.key, version=o.version, etag=o.etag)


def in_window(key: str, start: date) -> bool:
    parsed = parse_key(key)
    return parsed is not None and parsed.batch_date >= start


# --- notification mode ---------------------------------------------------------------------------


class EventError(ValueError):
    """A queue message that is not an S3 event notification we can use."""


def parse_s3_event(body: str, prefix: str) -> list[Found]:
    """Files created according to one SQS message body (S3 event, or S3 event inside an SNS
    envelope). Keys are URL-decoded exactly once, as S3 encodes them (`+` is a space)."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError as e:
        raise EventError(f"not JSON: {e.msg}") from None
    except RecursionError:
        raise EventError("JSON nested too deeply") from None
    if isinstance(message, dict) and message.get("Type") == "Notification" and "Message" in message:
        if not isinstance(message["Message"], str):
            raise EventError("an SNS envelope whose Message is not text")
        return parse_s3_event(message["Message"], prefix)  # delivered through SNS
    if not isinstance(message, dict):
        raise EventError("not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    records = message.get("Records")
    if not isinstance(records, list):
        raise EventError("no Records")
    root = prefix.strip("/") + "/" if prefix.strip("/") else ""
    found = []
    for record in records:
        try:
            if not str(record["eventName"]).startswith("ObjectCreated:"):
                continue
            obj = record["s3"]["object"]
            if not isinstance(obj["key"], str):
                raise EventError("the object key is not a string")
            key = unquote_plus(obj["key"], errors="strict")
            key.encode("utf-8")
            etag = str(obj.get("eTag") or obj.get("etag") or "").strip('"')
            version = f"{etag}@{obj.get('sequencer') or record.get('eventTime', '')}"
        except (KeyError, TypeError, AttributeError) as e:
            raise EventError(f"malformed S3 event record: {e!r}") from None
        except UnicodeError:
            raise EventError("the object key is not valid UTF-8 once decoded") from None
        if key.startswith(root):
            found.append(Found(key=key[len(root) :], version=version, etag=etag))
    return found
