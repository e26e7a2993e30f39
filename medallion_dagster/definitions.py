"""The code location: every asset, the job, the sensor, the schedule and the resources."""

from __future__ import annotations

import dagster as dg

from medallion_dagster.alerts import Alerter, alert_on_run_failure, alerter_from_env
from medallion_dagster.assets.bronze import bronze_assets
from medallion_dagster.assets.gold import gold_assets
from medallion_dagster.assets.silver import silver_assets
from medallion_dagster.discovery import LandingDiscovery, discovery_from_env
from medallion_dagster.io_manager import SQLiteIOManager
from medallion_dagster.jobs import checks_job, medallion_job
from medallion_dagster.landing_zone import landing_zone_from_env
from medallion_dagster.quality import quality_checks
from medallion_dagster.schedules import daily_schedule
from medallion_dagster.sensors import landing_reconciliation_sensor, landing_sensor
from medallion_dagster.settings import DEFAULT_WAREHOUSE_DIR, ENV_WAREHOUSE_DIR, env
from medallion_dagster.warehouse import Warehouse


def build_definitions(
    landing_zone=None,
    warehouse: Warehouse | None = None,
    discovery: LandingDiscovery | None = None,
    alerter: Alerter | None = None,
) -> dg.Definitions:
    """Definitions with the given resources; defaults come from the environment."""
    warehouse = warehouse or Warehouse(path=env(ENV_WAREHOUSE_DIR, DEFAULT_WAREHOUSE_DIR))
    return dg.Definitions(
        assets=[*bronze_assets, *silver_assets, *gold_assets],
        asset_checks=quality_checks,
        jobs=[medallion_job, checks_job],
        sensors=[
            landing_sensor,
            landing_reconciliation_sensor,
            alert_on_run_failure,
        ],
        schedules=[daily_schedule],
        resources={
            "landing_zone": landing_zone or landing_zone_from_env(),
            "discovery": discovery or discovery_from_env(),
            "warehouse": warehouse,
            "io_manager": SQLiteIOManager(warehouse=warehouse),
            "alerter": alerter or alerter_from_env(),
        },
    )


defs = build_definitions()
