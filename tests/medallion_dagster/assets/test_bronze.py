import json

import dagster as dg
import pytest

from medallion_dagster.assets.bronze import bronze_assets
from tests.conftest import TX_HEADER, put_local

TX = next(a for a in bronze_assets if a.key == dg.AssetKey(["bronze", "transactions"]))


def materialize(defs, partition="2026-03-01", config=None):
    return dg.materialize(
        [TX],
        partition_key=partition,
        resources=defs.resources,
        run_config={"ops": {"bronze__transactions": {"config": config or {}}}},
        raise_on_error=False,
    )


def test_every_record_is_kept_as_text_with_lineage(local_defs, landing_dir, warehouse):
    put_local(
        landing_dir,
        "transactions/dt=2026-03-01/20260301T000000000000Z-a.csv",
        TX_HEADER + "t1,C1,2026-03-01T10:00:00Z,12.30,USD,purchase\n",
    )
    put_local(
        landing_dir,
        "transactions/dt=2026-03-01/20260301T010000000000Z-b.jsonl",
        '{"transaction_id": "t2", "amount": 1.10, "note": "extra"}\n{"broken\n',
    )
    put_local(landing_dir, "transactions/dt=2026-03-01/.hidden.jsonl.tmp", "{}\n")
    put_local(landing_dir, "transactions/dt=2026-03-02/other-day.csv", TX_HEADER)
    assert materialize(local_defs).success
    df = warehouse.read("bronze", "transactions")
    assert df["transaction_id"].tolist()[:2] == ["t1", "t2"]
    assert df["amount"].tolist()[:2] == ["12.30", "1.10"]  # exact text, not float
    assert df["_line"].tolist() == [1, 1, 2]
    assert json.loads(df["_extra"][1]) == {"note": "extra"}
    assert df["_parse_error"].notna().tolist() == [False, False, True]
    assert df["_raw"][2] == '{"broken'
    assert set(df["_partition"]) == {"2026-03-01"}
    assert df["_source_key"][0].endswith("-a.csv") and df["_source_etag"].notna().all()


def test_reupload_replaces_instead_of_doubling(local_defs, landing_dir, warehouse):
    key = "transactions/dt=2026-03-01/20260301T000000000000Z-a.csv"
    put_local(landing_dir, key, TX_HEADER + "t1,C1,2026-03-01T10:00:00Z,1.00,USD,purchase\n")
    assert materialize(local_defs).success
    put_local(landing_dir, key, TX_HEADER + "t1,C1,2026-03-01T10:00:00Z,2.00,USD,purchase\n")
    assert materialize(local_defs).success
    assert materialize(local_defs).success
    assert warehouse.read("bronze", "transactions")["amount"].tolist() == ["2.00"]


def test_vanished_file_fails_loudly_unless_allowed(local_defs, landing_dir, warehouse):
    a = put_local(
        landing_dir, "transactions/dt=2026-03-01/a.csv", TX_HEADER + "t1,C,x,1,USD,purchase\n"
    )
    put_local(
        landing_dir, "transactions/dt=2026-03-01/b.csv", TX_HEADER + "t2,C,x,1,USD,purchase\n"
    )
    assert materialize(local_defs).success
    a.unlink()
    result = materialize(local_defs)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "gone" in failure.message and "a.csv" in failure.message
    assert len(warehouse.read("bronze", "transactions")) == 2  # not shrunk
    assert materialize(local_defs, config={"allow_missing_files": True}).success
    assert warehouse.read("bronze", "transactions")["transaction_id"].tolist() == ["t2"]


@pytest.mark.parametrize("body", [b"", b"\x80\x81garbage"])
def test_unreadable_file_becomes_one_error_row(local_defs, landing_dir, warehouse, body):
    put_local(landing_dir, "transactions/dt=2026-03-01/bad.jsonl", body)
    assert materialize(local_defs).success
    df = warehouse.read("bronze", "transactions")
    assert len(df) == 1 and df["_line"][0] == 0 and df["_parse_error"].notna()[0]


def test_day_without_files_is_an_empty_partition(local_defs, warehouse):
    result = materialize(local_defs)
    assert result.success
    assert len(warehouse.read("bronze", "transactions")) == 0
    mat = result.asset_materializations_for_node("bronze__transactions")[0]
    assert mat.metadata["dagster/partition_row_count"].value == 0


def test_a_file_too_large_to_read_is_one_error_row_not_a_crash(local_defs, landing_dir, warehouse):
    put_local(
        landing_dir, "transactions/dt=2026-03-01/big.csv", TX_HEADER + "t1,C,x,1,USD,purchase\n"
    )
    put_local(landing_dir, "transactions/dt=2026-03-01/ok.csv", TX_HEADER)
    assert materialize(local_defs, config={"max_file_bytes": 80}).success
    df = warehouse.read("bronze", "transactions")
    assert len(df) == 1 and "file too large" in df["_parse_error"][0]
    assert df["_source_key"][0].endswith("big.csv")


def test_a_transient_landing_error_is_retried_by_the_step(landing_dir, warehouse, instance):
    """The step's RetryPolicy, not an ad-hoc loop: the first read fails, the retry succeeds."""
    from medallion_dagster.definitions import build_definitions
    from medallion_dagster.landing_zone import LocalLandingZone
    from tests.conftest import TX_HEADER, WIDE, put_local

    class FlakyZone(LocalLandingZone):
        def read(self, key: str) -> bytes:
            marker = landing_dir.parent / "failed-once"
            if not marker.exists():
                marker.touch()
                raise ConnectionError("connection reset by peer (simulated)")
            return super().read(key)

    put_local(
        landing_dir,
        "transactions/dt=2026-03-01/a.csv",
        TX_HEADER + "t1,c1,2026-03-01T10:00:00Z,1.00,USD,purchase\n",
    )
    defs = build_definitions(
        landing_zone=FlakyZone(root=str(landing_dir)), warehouse=warehouse, discovery=WIDE
    )
    result = dg.materialize(
        [a for a in defs.assets if "bronze" in str(a.keys)],
        partition_key="2026-03-01",
        instance=instance,
        resources=defs.resources,
    )
    assert result.success
    restarts = [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"]
    assert restarts and (landing_dir.parent / "failed-once").exists()
    assert warehouse.row_count("bronze", "transactions") == 1


def test_a_large_range_parsed_by_worker_processes_equals_in_process(
    local_zone, landing_dir, monkeypatch
):
    """Above PARALLEL_MIN_BYTES the files are parsed in worker processes: the chunks (partition
    order, rows, lineage, unparseable counts) are exactly those of the in-process path."""
    import os
    from datetime import UTC, datetime

    import pandas as pd

    from medallion_dagster.assets import bronze

    days = [f"2026-03-0{d}" for d in range(1, 8)]
    for i, day in enumerate(days):
        body = TX_HEADER + "".join(
            f"t{i}-{n},c{n % 3},{day}T10:00:00Z,{n}.00,USD,purchase\n" for n in range(1, 40)
        )
        put_local(landing_dir, f"transactions/dt={day}/a.csv", body + ('"broken\n' if i else ""))
    plan = [(day, list(local_zone.list_objects(f"transactions/dt={day}/"))) for day in days]
    at = datetime(2026, 3, 8, tzinfo=UTC)
    runs = {}
    for floor in (10**12, 0):  # in-process; then every range is "large"
        monkeypatch.setattr(bronze, "PARALLEL_MIN_BYTES", floor)
        stats = {"unparseable_records": 0}
        chunks = list(bronze._read_chunks("transactions", plan, local_zone, 10**9, at, stats, 100))
        runs[floor] = (chunks, stats)
    assert bronze._workers(plan) == min(os.cpu_count() or 1, 4)  # floor 0: the pool path
    (serial, s_stats), (parallel, p_stats) = runs[10**12], runs[0]
    assert [c.partition_keys for c in parallel] == [c.partition_keys for c in serial]
    assert sum(len(c.partition_keys) for c in serial) == len(days) and len(serial) > 1
    for a, b in zip(serial, parallel, strict=True):
        pd.testing.assert_frame_equal(a.frame, b.frame)
    assert s_stats == p_stats == {"unparseable_records": 6}
