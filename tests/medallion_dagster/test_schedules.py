from datetime import UTC, datetime

import dagster as dg

from medallion_dagster.definitions import defs


def test_daily_schedule_runs_the_current_day_partition():
    schedule = defs.resolve_schedule_def("medallion_daily_schedule")
    assert schedule.cron_schedule == "30 23 * * *"
    assert schedule.execution_timezone == "UTC"
    when = datetime(2026, 6, 15, 23, 30, tzinfo=UTC)
    with dg.build_schedule_context(scheduled_execution_time=when) as ctx:
        requests = schedule.evaluate_tick(ctx).run_requests
    assert [r.partition_key for r in requests] == ["2026-06-15"]
    assert requests[0].job_name == "medallion_daily"
