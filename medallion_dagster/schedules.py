"""Daily schedule: a backstop that runs today's partition late in the (UTC) day.

The sensor runs partitions as files land; the schedule makes sure every day is processed even if
the sensor was off. Re-running a partition is idempotent, so overlapping with the sensor is safe.
"""

from __future__ import annotations

import dagster as dg

from medallion_dagster.jobs import medallion_job

daily_schedule = dg.build_schedule_from_partitioned_job(
    medallion_job,
    name="medallion_daily_schedule",
    description="Runs the current day's partition at 23:30 UTC as a backstop for the sensor.",
    hour_of_day=23,
    minute_of_hour=30,
    default_status=dg.DefaultScheduleStatus.STOPPED,
)
