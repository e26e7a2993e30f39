"""Daily partitions: one per batch date (the `dt=` in the landing key), UTC, today included."""

from __future__ import annotations

import dagster as dg

from medallion_dagster.settings import DEFAULT_PARTITIONS_START, ENV_PARTITIONS_START, env

#: `end_offset=1` makes today's partition exist already, so a file landed today runs today.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=env(ENV_PARTITIONS_START, DEFAULT_PARTITIONS_START),
    timezone="UTC",
    end_offset=1,
)
