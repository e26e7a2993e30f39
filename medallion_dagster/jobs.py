"""The main job: one daily partition (or a range) through bronze -> silver -> gold."""

from __future__ import annotations

import dagster as dg

medallion_job = dg.define_asset_job(
    name="medallion_daily",
    selection=dg.AssetSelection.all(),
    description="Rebuild the partition's bronze and silver rows from all of its landing files, "
    "then refresh the current-state silver tables and gold.",
)

checks_job = dg.define_asset_job(
    name="medallion_checks",
    selection=dg.AssetSelection.all_asset_checks(),
    description="Run every data-quality check over the whole warehouse, without materializing.",
)
