"""What the Dagster UI shows about every asset: description, owners, tags, kinds, column docs,
row counts, table names, and gold previews with personal data masked."""

import pytest

from lambda_src.handler import handler
from medallion_dagster.assets.common import OWNERS
from medallion_dagster.definitions import build_definitions
from medallion_dagster.demo import run_sensor_once
from tests.conftest import WIDE


def specs(defs):
    return {
        spec.key.to_user_string(): spec for assets_def in defs.assets for spec in assets_def.specs
    }


def test_every_asset_has_description_owners_tags_and_kinds(local_defs):
    found = specs(local_defs)
    assert len(found) == 16
    for key, spec in found.items():
        layer = key.split("/")[0]
        assert spec.description and len(spec.description) > 30, key
        assert list(spec.owners) == OWNERS, key
        assert spec.tags.get("layer") == layer and spec.group_name == layer, key
        assert "sqlite" in spec.kinds and len(spec.kinds) >= 2, key
        assert "dagster/column_schema" in spec.metadata, key


def test_sensors_schedules_and_jobs_have_descriptions(local_defs):
    repo = local_defs.get_repository_def()
    for sensor in repo.sensor_defs:
        assert sensor.description and len(sensor.description) > 30, sensor.name
    for schedule in repo.schedule_defs:
        assert schedule.description, schedule.name
    for job in (local_defs.resolve_job_def(n) for n in ("medallion_daily", "medallion_checks")):
        assert job.description, job.name


@pytest.fixture
def materializations(landing_dir, local_zone, warehouse, instance, recent_days):
    for i, day in enumerate(recent_days):
        handler(
            {
                "batch_date": day.isoformat(),
                "batch_id": f"m{i}",
                "batch_size": 40,
                "dirty_rate": 0.1,
            }
        )
    defs = build_definitions(landing_zone=local_zone, warehouse=warehouse, discovery=WIDE)
    results, _, _ = run_sensor_once(defs, instance, log_level="ERROR")
    assert all(r.success for r in results)
    last = results[-1]
    return {
        e.asset_key.to_user_string(): e.materialization.metadata
        for e in last.get_asset_materialization_events()
    }


def test_materializations_carry_table_name_row_counts_and_documented_columns(materializations):
    assert len(materializations) == 16
    for key, metadata in materializations.items():
        assert metadata["dagster/table_name"].value == key.replace("/", ".")
        assert metadata["dagster/row_count"].value >= 0
        columns = metadata["dagster/column_schema"].schema.columns
        undocumented = [c.name for c in columns if not c.description]
        assert not undocumented, f"{key}: columns without a description: {undocumented}"
        assert all(c.type for c in columns), key
    assert materializations["silver/transactions"]["dagster/partition_row_count"].value > 0


def test_gold_previews_show_top_customers_and_revenue_by_type_masked(materializations, warehouse):
    people = warehouse.query("SELECT name, email FROM silver.customers")
    top = materializations["gold/customer_summary"]["top_customers"].value
    by_type = materializations["gold/daily_revenue"]["revenue_by_type"].value
    assert "net_revenue_minor" in top and "***@" in top
    assert "purchase" in by_type and "revenue_minor" in by_type
    shown = top + materializations["silver/customers"]["preview"].value
    leaked = [e for e in people["email"] if e in shown] + [n for n in people["name"] if n in shown]
    assert not leaked, f"personal data in previews: {leaked[:3]}"
