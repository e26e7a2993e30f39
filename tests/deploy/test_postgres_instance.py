"""deploy/dagster.yaml's storage on a real PostgreSQL server: two daily partitions run through the
pipeline on an instance built from the file, and the runs, their partitions and every asset
materialization are read back both through Dagster and straight from PostgreSQL's tables (so the
test cannot pass on SQLite or in-memory storage). Compute logs go to the S3 compute log manager
of the same file, on a moto bucket.

Only the run launcher is left out: ECS cannot run here (tests/deploy/test_ecs_launcher.py launches
through it against moto); runs execute in process, as the demo's sensor tick does."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import dagster as dg
import pytest
from moto import mock_aws

from lambda_src.handler import handler
from medallion_dagster.definitions import build_definitions
from medallion_dagster.demo import run_sensor_once
from tests.conftest import WIDE
from tests.deploy.conftest import deploy_config, write_instance

pytestmark = pytest.mark.deploy

LOG_BUCKET = "medallion-test-compute-logs"
LOG_PREFIX = "dagster/compute-logs"
PARTITION_TAG = "dagster/partition"


def asset_path(key: dg.AssetKey) -> str:
    return "/".join(key.path)


def test_two_partitions_are_recorded_in_postgresql(
    tmp_path, monkeypatch, pg_env, postgres_server, postgres_db, local_zone, warehouse, today
):
    config = deploy_config()
    assert list(config["storage"]) == ["postgres"]
    del config["run_launcher"]  # ECS: see test_ecs_launcher.py
    home = write_instance(tmp_path / "dagster_home", config)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_BUCKET", LOG_BUCKET)
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_PREFIX", LOG_PREFIX)

    days = [(today - timedelta(days=n)).isoformat() for n in (2, 1)]
    for day in days:
        handler({"batch_date": day, "batch_id": f"pg{day.replace('-', '')}", "batch_size": 40})
    defs = build_definitions(landing_zone=local_zone, warehouse=warehouse, discovery=WIDE)
    job_keys = {
        node.key for node in defs.resolve_asset_graph().asset_nodes if node.is_materializable
    }
    partitioned = {
        key for key in job_keys if defs.resolve_asset_graph().get(key).partitions_def is not None
    }
    assert {key.path[0] for key in job_keys} == {"bronze", "silver", "gold"}

    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=LOG_BUCKET)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            results, _, requests = run_sensor_once(defs, instance, log_level="INFO")
            assert sorted(r.partition_key for r in requests) == days
            assert [r.success for r in results] == [True, True]
            assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"

        # A new instance from the same file sees everything: it is in the database.
        with dg.DagsterInstance.from_config(str(home)) as instance:
            runs = instance.get_runs()
            assert sorted(r.tags[PARTITION_TAG] for r in runs) == days
            assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
            assert {r.job_name for r in runs} == {"medallion_daily"}
            for key in job_keys:
                records = instance.fetch_materializations(
                    dg.AssetRecordsFilter(asset_key=key), limit=100
                ).records
                assert {r.run_id for r in records} == {r.run_id for r in runs}, key
                if key in partitioned:
                    assert sorted(r.partition_key for r in records) == days, key
            # the sensor's run keys are found again: a second tick runs nothing
            again, _, _ = run_sensor_once(defs, instance)
            assert again == []

        logs = s3.list_objects_v2(Bucket=LOG_BUCKET, Prefix=f"{LOG_PREFIX}/").get("Contents", [])
        # each run's captured stdout/stderr, uploaded by the S3 compute log manager
        run_folders = {o["Key"].removeprefix(f"{LOG_PREFIX}/storage/").split("/")[0] for o in logs}
        assert run_folders == {r.run_id for r in runs}

    run_partition = {r.run_id: r.tags[PARTITION_TAG] for r in runs}
    with postgres_server.connect(postgres_db) as conn, conn.cursor() as cur:
        cur.execute("SELECT run_id, status, pipeline_name, partition FROM runs")
        rows = cur.fetchall()
        assert sorted(rows, key=lambda r: r[3]) == sorted(
            [(run_id, "SUCCESS", "medallion_daily", day) for run_id, day in run_partition.items()],
            key=lambda r: r[3],
        )
        cur.execute("SELECT run_id, value FROM run_tags WHERE key = %s", (PARTITION_TAG,))
        assert dict(cur.fetchall()) == run_partition
        cur.execute(
            "SELECT run_id, asset_key, partition FROM event_logs "
            "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
        )
        materialized = cur.fetchall()
    expected = {
        (run_id, asset_path(key), day if key in partitioned else None)
        for run_id, day in run_partition.items()
        for key in job_keys
    }
    assert {
        (run_id, "/".join(json.loads(asset_key)), partition)
        for run_id, asset_key, partition in materialized
    } == expected
    assert len(materialized) == len(expected)
    # nothing fell back to the SQLite storages a DAGSTER_HOME holds by default
    assert not (home / "history").exists() and not (home / "schedules").exists()
