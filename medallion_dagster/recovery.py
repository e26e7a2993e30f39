"""Recovery: rebuild the whole warehouse from the landing zone, and back it up while Dagster runs.

    python -m medallion_dagster.recovery rebuild          # make rebuild
    python -m medallion_dagster.recovery backup DEST_DIR  # make backup [BACKUP_DIR=...]

**rebuild** moves the current warehouse folder aside (`<WAREHOUSE_DIR>.before-rebuild-<UTC stamp>`,
kept until you delete it), then materializes every asset for every batch date that has landing
files, in **one run** (a partition range: bronze and silver have `BackfillPolicy.single_run()`),
recorded in the Dagster instance of `DAGSTER_HOME` when set. Turn the sensors and the schedule
off while it runs. The landing zone is the system of record, so the result equals the warehouse
the daily runs built.

**backup** copies the three layer files with SQLite's online backup API from one read
transaction that spans all three (WAL mode lets writers go on meanwhile): each copy is a
transactionally consistent snapshot, and all three are of the same instant. A backup taken in
the middle of a run shows that instant (e.g. silver already written, gold not yet): re-run the
latest partition after a restore. Restore = stop Dagster, copy the files back into WAREHOUSE_DIR.
"""

import argparse
import json
import os
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from lambda_src.contract import ENTITIES, parse_key
from medallion_dagster.landing_zone import LandingZone
from medallion_dagster.partitions import daily_partitions
from medallion_dagster.warehouse import LAYERS, Warehouse, quote

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def landed_days(zone: LandingZone) -> list[str]:
    """Batch dates with at least one data file, within the partition range."""
    valid = set(daily_partitions.get_partition_keys())
    days = set()
    for entity in ENTITIES:
        for obj in zone.list_objects(f"{entity}/"):
            parsed = parse_key(obj.key)
            if parsed is not None and parsed.batch_date.isoformat() in valid:
                days.add(parsed.batch_date.isoformat())
    return sorted(days)


def rebuild(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    now: datetime | None = None,
    log_level: str = "WARNING",
) -> tuple[dg.ExecuteInProcessResult | None, Path | None]:
    """Rebuild every table from the landing zone in one run. Returns (result, old warehouse)."""
    zone: LandingZone = defs.resources["landing_zone"]
    warehouse: Warehouse = defs.resources["warehouse"]
    days = landed_days(zone)
    if not days:
        return None, None
    current = Path(warehouse.path)
    moved = None
    if current.exists() and any(current.iterdir()):
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        moved = current.with_name(f"{current.name}.before-rebuild-{stamp}")
        current.rename(moved)
    job = defs.resolve_job_def("medallion_daily")
    result = job.execute_in_process(
        instance=instance,
        tags={RANGE_START: days[0], RANGE_END: days[-1], "medallion/rebuild": "true"},
        run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        raise_on_error=False,
    )
    return result, moved


def backup(warehouse: Warehouse, dest: Path) -> dict[str, Path]:
    """A consistent copy of every layer file in `dest` (one instant for all three)."""
    dest.mkdir(parents=True, exist_ok=True)
    existing = [layer for layer in LAYERS if warehouse.layer_file(layer).exists()]
    copies = {}
    with warehouse.connect() as conn:  # every layer ATTACHed, autocommit
        conn.execute("BEGIN")
        try:
            for layer in existing:  # start the read transaction on every file: one snapshot
                conn.execute(f"SELECT count(*) FROM {quote(layer)}.sqlite_master").fetchone()
            for layer in existing:
                target = dest / f"{layer}.db"
                target.unlink(missing_ok=True)
                with sqlite3.connect(target) as copy:
                    conn.backup(copy, name=layer)
                    status = copy.execute("PRAGMA integrity_check").fetchone()[0]
                copy.close()
                if status != "ok":
                    raise RuntimeError(f"backup of {layer} failed its integrity check: {status}")
                copies[layer] = target
        finally:
            conn.execute("COMMIT")
    return copies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medallion_dagster.recovery")
    commands = parser.add_subparsers(dest="command", required=True)
    rebuild_cmd = commands.add_parser(
        "rebuild", help="rebuild the warehouse from the landing zone (one run)"
    )
    rebuild_cmd.add_argument("--log-level", default="WARNING", help="Dagster console log level")
    backup_cmd = commands.add_parser("backup", help="consistent online backup of the warehouse")
    backup_cmd.add_argument("dest", type=Path, help="folder to write bronze/silver/gold.db into")
    args = parser.parse_args(argv)

    from medallion_dagster.definitions import defs  # configured from the environment

    if args.command == "backup":
        copies = backup(defs.resources["warehouse"], args.dest)
        print(json.dumps({layer: str(path) for layer, path in copies.items()}, indent=2))
        return 0
    # recorded in the instance of DAGSTER_HOME (the UI's), when there is one
    instance = dg.DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else None
    with instance or dg.DagsterInstance.ephemeral() as instance:
        print(f"rebuilding {defs.resources['warehouse'].path} from the landing zone ...")
        result, moved = rebuild(defs, instance, log_level=args.log_level)
    if result is None:
        print("no landing files: nothing to rebuild")
        return 0
    if moved:
        print(f"previous warehouse kept in {moved} (delete it once you are satisfied)")
    print(f"rebuild run {result.run_id}: {'success' if result.success else 'FAILED'}")
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
