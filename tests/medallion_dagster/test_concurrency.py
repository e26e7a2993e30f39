import dagster as dg
import pytest

from medallion_dagster.definitions import BACKENDS
from tests.medallion_dagster import concurrent_job


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_four_assets_writing_at_once_in_separate_processes_all_succeed(
    tmp_path, monkeypatch, backend
):
    """SQLite: WAL and the busy timeout; DuckDB (one process per file at a time): each step
    waits for the file, so all four still land, whole."""
    monkeypatch.setenv(concurrent_job.ENV, str(tmp_path / "warehouse"))
    monkeypatch.setenv(concurrent_job.BACKEND_ENV, backend)
    (tmp_path / "home").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "home")) as instance:
        result = dg.execute_job(
            dg.reconstructable(concurrent_job.concurrent_job), instance=instance
        )
        assert result.success
        starts, ends, pids = {}, {}, set()
        for entry in instance.all_logs(result.run_id):
            event = entry.dagster_event
            if event is None or not event.step_key:
                continue
            pids.add(event.pid)
            if event.event_type_value == "STEP_START":
                starts[event.step_key] = entry.timestamp
            if event.event_type_value == "STEP_SUCCESS":
                ends[event.step_key] = entry.timestamp
    assert len(starts) == 4 and len(pids) >= 4  # four steps in four processes ...
    assert max(starts.values()) < min(ends.values())  # ... running at the same time
    warehouse = BACKENDS[backend](path=str(tmp_path / "warehouse"))
    for i in range(4):
        df = warehouse.read("silver", f"writer_{i}")
        assert len(df) == concurrent_job.ROWS
        assert int(df["amount_minor"].sum()) == sum(range(concurrent_job.ROWS)) * (i + 1)
