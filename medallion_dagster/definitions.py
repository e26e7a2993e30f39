"""The code location: every asset, the job, the sensor, the schedule and the resources."""

from __future__ import annotations

import dagster as dg

from medallion_dagster.alerts import Alerter, alert_on_run_failure, alerter_from_env
from medallion_dagster.assets.bronze import bronze_assets
from medallion_dagster.assets.gold import gold_assets
from medallion_dagster.assets.silver import silver_assets
from medallion_dagster.discovery import LandingDiscovery, discovery_from_env
from medallion_dagster.io_manager import WarehouseIOManager
from medallion_dagster.jobs import checks_job, medallion_job
from medallion_dagster.landing_zone import landing_zone_from_env
from medallion_dagster.quality import quality_checks
from medallion_dagster.schedules import daily_schedule
from medallion_dagster.sensors import landing_reconciliation_sensor, landing_sensor
from medallion_dagster.settings import (
    DEFAULT_WAREHOUSE_BACKEND,
    DEFAULT_WAREHOUSE_DIR,
    ENV_WAREHOUSE_BACKEND,
    ENV_WAREHOUSE_DIR,
    env,
)
from medallion_dagster.warehouse import Warehouse
from medallion_dagster.warehouse_duckdb import DuckDBWarehouse

#: WAREHOUSE_BACKEND -> the warehouse class; nothing else changes with the backend.
BACKENDS: dict[str, type[Warehouse]] = {cls.BACKEND: cls for cls in (Warehouse, DuckDBWarehouse)}


def warehouse_from_env() -> Warehouse:
    """The warehouse WAREHOUSE_BACKEND (default sqlite) and WAREHOUSE_DIR select."""
    backend = env(ENV_WAREHOUSE_BACKEND, DEFAULT_WAREHOUSE_BACKEND).lower()
    if backend not in BACKENDS:
        raise ValueError(
            f"{ENV_WAREHOUSE_BACKEND}={backend!r} is not a warehouse backend; "
            f"use one of {sorted(BACKENDS)}"
        )
    return BACKENDS[backend](path=env(ENV_WAREHOUSE_DIR, DEFAULT_WAREHOUSE_DIR))


def build_definitions(
    landing_zone=None,
    warehouse: Warehouse | None = None,
    discovery: LandingDiscovery | None = None,
    alerter: Alerter | None = None,
) -> dg.Definitions:
    """Definitions with the given resources; defaults come from the environment."""
    warehouse = warehouse or warehouse_from_env()
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
            "io_manager": WarehouseIOManager(warehouse=warehouse),
            "alerter": alerter or alerter_from_env(),
        },
    )


defs = build_definitions()
