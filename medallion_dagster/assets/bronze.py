"""Bronze: every landed record as received (text), plus lineage. One asset per entity.

A bronze partition is rebuilt from *all* landing files of its batch date, so a corrected re-upload
replaces the old content instead of doubling it. If a file that fed the partition before has
disappeared, the rebuild fails loudly instead of shrinking bronze.
"""

import json
import multiprocessing
import os
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

import dagster as dg
import pandas as pd

from lambda_src.contract import ENTITY_COLUMNS, parse_key
from medallion_dagster.assets.common import OWNERS, SINGLE_RUN, landing_columns, layer_tags, schema
from medallion_dagster.landing_zone import LandingObject, LandingZone
from medallion_dagster.partitions import daily_partitions
from medallion_dagster.readers import ParsedFile, parse
from medallion_dagster.table_types import PartitionChunk, PartitionChunks
from medallion_dagster.warehouse import PARTITION_COLUMN, Warehouse, quote

LINEAGE_COLUMNS = {
    "_extra": "Columns the contract does not know, as a JSON object (NULL if none)",
    "_parse_error": "Why the record could not be parsed (NULL for parsed records)",
    "_raw": "The raw text of a record that could not be parsed",
    "_source_key": "Landing key of the file the record came from",
    "_source_etag": "Version of that file (S3 ETag, or size-mtime of a local file)",
    "_line": "Record number in the file (JSON Lines: line number; 0 = the whole file)",
    "_ingested_at": "When this run read the file (UTC; audit column)",
}


#: Reading the landing zone may hit transient S3 errors (throttling, a dropped connection): the
#: step is retried with backoff before the run fails (run-level retries are in dagster.yaml).
TRANSIENT_RETRIES = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


class BronzeConfig(dg.Config):
    allow_missing_files: bool = False
    """Rebuild a partition even if files that fed it before are gone (bronze shrinks)."""
    max_file_bytes: int = 1024**3
    """Larger files are not read (they would not fit in memory): one error row says so."""


def bronze_frame(
    entity: str,
    files: list[tuple[LandingObject, bytes | str]],
    partition_key: str,
    ingested_at,
) -> pd.DataFrame:
    """Rows of one partition of one entity from its files' bytes, built column by column."""
    columns = ENTITY_COLUMNS[entity]
    known = set(columns)
    data: dict[str, list] = {c: [] for c in [*columns, *LINEAGE_COLUMNS]}
    data.pop("_ingested_at")
    for obj, body in files:
        if isinstance(body, str):  # not read: the reason why
            parsed = ParsedFile(errors=[(0, body, "")])
        else:
            parsed = parse(body, parse_key(obj.key).fmt)
        records = parsed.records
        for c in columns:
            data[c] += [r.get(c) for r in records]
        data["_extra"] += [
            None
            if r.keys() <= known
            else json.dumps(
                {k: v for k, v in r.items() if k not in known}, ensure_ascii=False, sort_keys=True
            )
            for r in records
        ]
        data["_parse_error"] += [None] * len(records)
        data["_raw"] += [None] * len(records)
        data["_line"] += parsed.lines
        for c in columns:
            data[c] += [None] * len(parsed.errors)
        data["_extra"] += [None] * len(parsed.errors)
        data["_parse_error"] += [reason for _, reason, _ in parsed.errors]
        data["_raw"] += [raw for _, _, raw in parsed.errors]
        data["_line"] += [line for line, _, _ in parsed.errors]
        n = len(records) + len(parsed.errors)
        data["_source_key"] += [obj.key] * n
        data["_source_etag"] += [obj.etag] * n
    df = pd.DataFrame(
        {c: pd.Series(values, dtype="str") for c, values in data.items() if c != "_line"}
    )
    df.insert(list(data).index("_line"), "_line", pd.Series(data["_line"], dtype="Int64"))
    df["_ingested_at"] = pd.Series([ingested_at] * len(df), dtype="datetime64[us, UTC]")
    df[PARTITION_COLUMN] = pd.Series([partition_key] * len(df), dtype="str")
    return df


#: A range with more landing data than this is parsed by worker processes, one per core (up to 4):
#: parsing is pure Python, so processes, not threads. Smaller runs (a day) stay in-process.
PARALLEL_MIN_BYTES = 64 * 2**20


def _workers(plan: list[tuple[str, list[LandingObject]]]) -> int:
    total = sum(o.size for _, objects in plan for o in objects)
    return min(os.cpu_count() or 1, 4) if total >= PARALLEL_MIN_BYTES else 1


def _read_chunks(
    entity: str,
    plan: list[tuple[str, list[LandingObject]]],
    zone: LandingZone,
    max_file_bytes: int,
    ingested_at,
    stats: dict,
    chunk_rows: int,
):
    """Read the files partition by partition; yield whole partitions, about `chunk_rows` rows
    at a time, so memory holds one chunk whatever the range. Counts unparseable records into
    the stream's metadata as it goes. Files are read here; on large ranges they are parsed by
    worker processes, a bounded number of partitions ahead, results taken in order."""
    keys: list[str] = []
    frames: list[pd.DataFrame] = []
    rows = 0

    def flush() -> PartitionChunk:
        frame = pd.concat(frames, ignore_index=True)
        chunk = PartitionChunk(list(keys), frame)
        keys.clear()
        frames.clear()
        return chunk

    def files_of(objects: list[LandingObject]) -> list[tuple[LandingObject, bytes | str]]:
        files: list[tuple[LandingObject, bytes | str]] = []
        for obj in objects:
            if obj.size > max_file_bytes:
                reason = (
                    f"file too large to read ({obj.size} bytes > max_file_bytes "
                    f"{max_file_bytes}); split it into smaller files"
                )
                files.append((obj, reason))
            else:
                files.append((obj, zone.read(obj.key)))
        return files

    workers = _workers(plan)
    pool = (
        ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        if workers > 1
        else None
    )
    try:
        pending: deque = deque()
        todo = iter(plan)

        def submit() -> bool:
            item = next(todo, None)
            if item is None:
                return False
            key, objects = item
            args = (entity, files_of(objects), key, ingested_at)
            pending.append((key, pool.submit(bronze_frame, *args) if pool else args))
            return True

        while len(pending) < 2 * workers and submit():
            pass
        while pending:
            partition_key, job = pending.popleft()
            frame = job.result() if pool else bronze_frame(*job)
            submit()
            stats["unparseable_records"] += int(frame["_parse_error"].notna().sum())
            keys.append(partition_key)
            frames.append(frame)
            rows += len(frame)
            if rows >= chunk_rows:
                yield flush()
                rows = 0
        if keys:
            yield flush()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def _previous_sources(
    warehouse: Warehouse, entity: str, partition_keys: list[str]
) -> dict[str, set[str]]:
    """partition -> landing keys that fed it before (one query for the run's partitions)."""
    if not warehouse.table_exists("bronze", entity):
        return {}
    df = warehouse.query(
        f"SELECT DISTINCT _partition, _source_key FROM bronze.{quote(entity)} "
        "WHERE _partition IN (SELECT value FROM json_each(?))",
        (json.dumps(partition_keys),),
    )
    out: dict[str, set[str]] = {}
    for partition, key in zip(df.get("_partition", []), df.get("_source_key", []), strict=True):
        out.setdefault(partition, set()).add(key)
    return out


def _bronze_asset(entity: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=entity,
        key_prefix="bronze",
        group_name="bronze",
        partitions_def=daily_partitions,
        kinds={"s3", "pandas", "sqlite"},
        owners=OWNERS,
        tags=layer_tags("bronze"),
        backfill_policy=SINGLE_RUN,
        retry_policy=TRANSIENT_RETRIES,
        description=f"Raw `{entity}` records as landed (text), one partition per batch date, "
        "with lineage columns. Rebuilt from all landing files of the day on every run.",
        metadata={
            "dagster/column_schema": schema(
                landing_columns(ENTITY_COLUMNS[entity]) | LINEAGE_COLUMNS
            )
        },
    )
    def _asset(
        context: dg.AssetExecutionContext,
        config: BronzeConfig,
        landing_zone: LandingZone,
        warehouse: Warehouse,
    ) -> PartitionChunks:
        ingested_at = datetime.now(UTC)
        plan: list[tuple[str, list[LandingObject]]] = []
        ignored: list[str] = []
        # List every partition and refuse a shrinking one before anything is written.
        previous = _previous_sources(warehouse, entity, list(context.partition_keys))
        for partition_key in context.partition_keys:
            objects = []
            for obj in landing_zone.list_objects(f"{entity}/dt={partition_key}/"):
                if parse_key(obj.key) is None:
                    ignored.append(obj.key)
                else:
                    objects.append(obj)
            missing = previous.get(partition_key, set()) - {o.key for o in objects}
            if missing and not config.allow_missing_files:
                raise dg.Failure(
                    description=f"bronze.{entity} partition {partition_key}: {len(missing)} "
                    f"landing file(s) that fed it before are gone ({sorted(missing)[:5]}). "
                    "Refusing to shrink bronze; restore the files, or re-run with "
                    "allow_missing_files: true.",
                    metadata={"missing_files": sorted(missing)},
                    allow_retries=False,  # not transient: retrying cannot bring the files back
                )
            plan.append((partition_key, objects))
        if ignored:
            context.log.warning(f"ignored {len(ignored)} non-data file(s): {ignored[:10]}")
        stats = {
            "files": sum(len(objects) for _, objects in plan),
            "ignored_files": len(ignored),
            "unparseable_records": 0,  # counted as the files are read
        }
        out = PartitionChunks(
            _read_chunks(
                entity,
                plan,
                landing_zone,
                config.max_file_bytes,
                ingested_at,
                stats,
                warehouse.chunk_rows,
            )
        )
        out.metadata = stats
        return out

    return _asset


bronze_assets = [_bronze_asset(entity) for entity in ENTITY_COLUMNS]
