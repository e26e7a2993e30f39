"""Recovery: rebuild the whole warehouse from the landing zone; back it up and restore it.

    python -m medallion_dagster.recovery rebuild          # make rebuild
    python -m medallion_dagster.recovery backup DEST_DIR  # make backup [BACKUP_DIR=...]
    python -m medallion_dagster.recovery restore SRC_DIR  # make restore BACKUP_DIR=...

**rebuild** materializes every asset for every batch date that has landing files, in **one
run** (a partition range: every asset has `BackfillPolicy.single_run()`), into a *new* folder
beside the warehouse, recorded in the Dagster instance of `DAGSTER_HOME` when set. Only when the
run succeeds are the layer files swapped: the old ones move to
`<WAREHOUSE_DIR>.before-rebuild-<stamp>` (kept until you delete them), the new ones take their
place. A failed rebuild leaves the live warehouse as it was. It refuses to start while the
instance has runs in progress. Landing files dated outside the partitions are reported.

**backup** copies the layer files that exist with SQLite's online backup API from one read
transaction spanning them (WAL mode lets writers go on meanwhile): each copy is a transactionally
consistent snapshot, all of the same instant. It writes a new folder (it refuses one that holds
files). A backup taken in the middle of a run shows that instant (silver written, gold not yet).

**restore** writes a backup back into the warehouse through the same backup API (so stale WAL
files cannot replay newer changes over it), with Dagster stopped.
"""

import argparse
import json
import os
import shutil
import sqlite3
import sys
import uuid
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from lambda_src.contract import parse_key
from medallion_dagster.discovery import list_all
from medallion_dagster.landing_zone import LandingZone
from medallion_dagster.partitions import daily_partitions
from medallion_dagster.warehouse import LAYERS, Warehouse

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


class RecoveryError(RuntimeError):
    """A recovery command cannot do what was asked; the message says why and what to do."""


def layer_files(folder: Path, layer: str, suffix: str = ".db") -> list[Path]:
    """A layer's database file and its WAL companions (SQLite's -wal/-shm, DuckDB's .wal)."""
    base = folder / f"{layer}{suffix}"
    return [base, *(base.with_name(base.name + end) for end in ("-wal", "-shm", ".wal"))]


def _require_sqlite(warehouse: Warehouse, command: str) -> None:
    if warehouse.BACKEND != Warehouse.BACKEND:
        raise RecoveryError(
            f"{command} uses SQLite's online backup; the warehouse is on {warehouse.BACKEND}: "
            "stop Dagster and copy the .duckdb files instead (docs/DEPLOY.md, 'Backends')"
        )


def landed_days(zone: LandingZone) -> tuple[list[str], list[str]]:
    """(batch dates with data files within the partitions, keys dated outside them)."""
    valid = set(daily_partitions.get_partition_keys())
    days, outside = set(), []
    for obj in list_all(zone):
        parsed = parse_key(obj.key)
        if parsed is None:
            continue
        if parsed.batch_date.isoformat() in valid:
            days.add(parsed.batch_date.isoformat())
        else:
            outside.append(obj.key)
    return sorted(days), outside


def _unique(path: Path) -> Path:
    return path.with_name(f"{path.name}-{uuid.uuid4().hex[:6]}") if path.exists() else path


def _runs_in_progress(instance: dg.DagsterInstance) -> list[str]:
    runs = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[
                dg.DagsterRunStatus.QUEUED,
                dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.STARTED,
            ]
        )
    )
    return [run.run_id for run in runs]


def rebuild(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    now: datetime | None = None,
    log_level: str = "WARNING",
    log=print,
) -> tuple[dg.ExecuteInProcessResult, Path | None]:
    """Rebuild every table from the landing zone in one run, then swap it in.

    Returns (the run's result, where the previous layer files went). Raises RecoveryError when it
    cannot start; on a failed run the live warehouse is untouched."""
    from medallion_dagster.definitions import build_definitions

    zone: LandingZone = defs.resources["landing_zone"]
    warehouse: Warehouse = defs.resources["warehouse"]
    live = Path(warehouse.path).resolve()
    suffix = warehouse.FILE_SUFFIX
    busy = _runs_in_progress(instance)
    if busy:
        raise RecoveryError(
            f"{len(busy)} run(s) in progress ({busy[:3]}): wait for them, and turn the sensors "
            "and the schedule off, before rebuilding"
        )
    days, outside = landed_days(zone)
    if outside:
        log(
            f"warning: {len(outside)} landing file(s) dated outside the partitions (from "
            f"{daily_partitions.start.date()}, MEDALLION_START_DATE) are not loaded, e.g. "
            f"{outside[:3]}"
        )
    if not days:
        raise RecoveryError(f"no landing files under {zone.uri()}: nothing to rebuild from")
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    staging = _unique(live.with_name(f"{live.name}.rebuilding-{stamp}"))
    log(f"rebuilding {days[0]} .. {days[-1]} into {staging} ...")
    staged = build_definitions(
        landing_zone=zone,
        warehouse=type(warehouse)(path=str(staging)),
        discovery=defs.resources["discovery"],
        alerter=defs.resources["alerter"],
    )
    result = staged.resolve_job_def("medallion_daily").execute_in_process(
        instance=instance,
        tags={RANGE_START: days[0], RANGE_END: days[-1], "medallion/rebuild": "true"},
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=False,
    )
    if not result.success:
        log(f"the rebuild run failed; the live warehouse {live} is unchanged ({staging} kept)")
        return result, None
    moved = None
    old = [f for layer in LAYERS for f in layer_files(live, layer, suffix) if f.exists()]
    if old:
        moved = _unique(live.with_name(f"{live.name}.before-rebuild-{stamp}"))
        moved.mkdir(parents=True)
        for f in old:
            f.rename(moved / f.name)
    live.mkdir(parents=True, exist_ok=True)
    for layer in LAYERS:
        for f in layer_files(staging, layer, suffix):
            if f.exists():
                f.rename(live / f.name)
    shutil.rmtree(staging, ignore_errors=True)
    return result, moved


def _open_existing(folder: Path) -> tuple[sqlite3.Connection, list[str]]:
    """A connection with every existing layer file of `folder` ATTACHed (never creates one)."""
    existing = [layer for layer in LAYERS if (folder / f"{layer}.db").is_file()]
    if not existing:
        raise RecoveryError(f"no warehouse files (bronze/silver/gold.db) in {folder}")
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for layer in existing:
            uri = (folder / f"{layer}.db").resolve().as_uri() + "?mode=rw"
            conn.execute(f'ATTACH DATABASE ? AS "{layer}"', (uri,))
    except sqlite3.OperationalError as e:
        conn.close()
        raise RecoveryError(
            f"cannot open the warehouse in {folder}: {e} (SQLite in WAL mode needs to write its "
            "-shm file next to the database, so the folder must be writable)"
        ) from e
    return conn, existing


def backup(warehouse: Warehouse, dest: Path) -> dict[str, Path]:
    """A consistent copy of every existing layer file in a new folder `dest` (one instant)."""
    _require_sqlite(warehouse, "backup")
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise RecoveryError(f"{dest} is not empty: back up into a new folder")
    folder = Path(warehouse.path)
    partial = _unique(dest.with_name(dest.name + ".partial"))
    partial.mkdir(parents=True)
    conn, existing = _open_existing(folder)
    try:
        with closing(conn):
            conn.execute("BEGIN")
            for layer in existing:  # start the read transaction on every file: one snapshot
                conn.execute(f'SELECT count(*) FROM "{layer}".sqlite_master').fetchone()
            for layer in existing:
                with closing(sqlite3.connect(partial / f"{layer}.db")) as copy:
                    conn.backup(copy, name=layer)
                    status = copy.execute("PRAGMA integrity_check").fetchone()[0]
                if status != "ok":
                    raise RecoveryError(f"the copy of {layer} failed its integrity check: {status}")
            conn.execute("COMMIT")
        if dest.exists():
            dest.rmdir()
        partial.rename(dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return {layer: dest / f"{layer}.db" for layer in existing}


def restore(
    source: Path, warehouse: Warehouse, instance: dg.DagsterInstance | None = None
) -> list[str]:
    """Write a backup's layer files into the warehouse (Dagster stopped). Returns the layers."""
    _require_sqlite(warehouse, "restore")
    if instance is not None and _runs_in_progress(instance):
        raise RecoveryError("runs are in progress: stop Dagster before restoring")
    existing = [layer for layer in LAYERS if (Path(source) / f"{layer}.db").is_file()]
    if not existing:
        raise RecoveryError(f"no backup files (bronze/silver/gold.db) in {source}")
    target = Path(warehouse.path)
    target.mkdir(parents=True, exist_ok=True)
    for layer in existing:
        with (
            closing(sqlite3.connect(Path(source) / f"{layer}.db")) as src,
            closing(sqlite3.connect(target / f"{layer}.db")) as dst,
        ):
            src.backup(dst)  # replaces the content; the target's own WAL is checkpointed over
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return existing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medallion_dagster.recovery")
    commands = parser.add_subparsers(dest="command", required=True)
    rebuild_cmd = commands.add_parser("rebuild", help="rebuild the warehouse from the landing zone")
    rebuild_cmd.add_argument("--log-level", default="WARNING", help="Dagster console log level")
    backup_cmd = commands.add_parser("backup", help="consistent online backup of the warehouse")
    backup_cmd.add_argument("dest", type=Path, help="new folder for bronze/silver/gold.db")
    restore_cmd = commands.add_parser("restore", help="restore a backup (Dagster stopped)")
    restore_cmd.add_argument("source", type=Path, help="folder made by backup")
    args = parser.parse_args(argv)

    from medallion_dagster.definitions import defs  # configured from the environment

    warehouse: Warehouse = defs.resources["warehouse"]
    # runs are recorded in (and checked against) the instance of DAGSTER_HOME, when there is one
    home = os.environ.get("DAGSTER_HOME")
    try:
        with dg.DagsterInstance.get() if home else dg.DagsterInstance.ephemeral() as instance:
            if args.command == "backup":
                copies = backup(warehouse, args.dest)
                print(json.dumps({layer: str(path) for layer, path in copies.items()}, indent=2))
                return 0
            if args.command == "restore":
                layers = restore(args.source, warehouse, instance)
                print(f"restored {', '.join(layers)} into {warehouse.path}")
                return 0
            result, moved = rebuild(defs, instance, log_level=args.log_level)
    except RecoveryError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not result.success:
        return 1
    print(f"rebuild run {result.run_id}: success; the warehouse is in {warehouse.path}")
    if moved:
        print(f"previous layer files kept in {moved} (delete them once you are satisfied)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
