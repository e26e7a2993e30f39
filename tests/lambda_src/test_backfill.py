"""History at scale: reproducible, counted in the manifests, bounded in memory."""

import hashlib
import json
import tracemalloc
from datetime import date
from pathlib import Path

import pytest

from lambda_src.backfill import land_history, main, plan
from lambda_src.landing import LocalWriter


def tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_the_plan_spreads_the_total_over_the_days_in_bounded_batches():
    batches = list(plan(date(2025, 1, 1), date(2025, 1, 3), 10, max_batch=2))
    assert sum(size for _, size in batches) == 10
    assert max(size for _, size in batches) == 2
    per_day = {}
    for day, size in batches:
        per_day[day] = per_day.get(day, 0) + size
    assert per_day == {date(2025, 1, 1): 4, date(2025, 1, 2): 3, date(2025, 1, 3): 3}
    with pytest.raises(ValueError):
        list(plan(date(2025, 1, 2), date(2025, 1, 1), 10, 5))


def test_the_same_arguments_land_identical_files(tmp_path):
    for name in ("a", "b"):
        land_history(
            LocalWriter(tmp_path / name),
            date(2025, 3, 1),
            date(2025, 3, 4),
            900,
            0.05,
            max_batch=200,
        )
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert len(tree(tmp_path / "a")) == 4 * 2 * 4  # 4 days x 2 batches x (3 entities + manifest)


def test_the_manifests_count_every_record_dirty_and_resent(tmp_path):
    totals = land_history(
        LocalWriter(tmp_path), date(2025, 3, 1), date(2025, 3, 10), 3_000, 0.1, max_batch=250
    )
    manifests = [json.loads(p.read_text()) for p in (tmp_path / "_manifests").rglob("*.json")]
    tx = [m["control_totals"]["transactions"] for m in manifests]
    assert totals["records"] == sum(t["records"] for t in tx) == 3_000
    assert totals["dirty"] == sum(t["dirty"] for t in tx) > 0
    assert totals["duplicates"] == sum(t["duplicates"] for t in tx) > 0
    lines = sum(
        len(p.read_text().splitlines()) for p in (tmp_path / "transactions").rglob("*.jsonl")
    )
    assert lines == 3_000
    assert {m["batch_date"] for m in manifests} == {f"2025-03-{d:02d}" for d in range(1, 11)}


def peak_memory(tmp_path, transactions: int) -> int:
    tracemalloc.start()
    land_history(
        LocalWriter(tmp_path),
        date(2025, 1, 1),
        date(2025, 1, 2),
        transactions,
        0.02,
        max_batch=1_000,
    )
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_is_bounded_by_the_batch_not_the_total(tmp_path):
    small = peak_memory(tmp_path / "small", 4_000)
    large = peak_memory(tmp_path / "large", 16_000)
    assert large < small * 1.5, (small, large)


def test_the_command_shows_progress_and_a_summary(tmp_path, capsys):
    assert (
        main(
            [
                "--start",
                "2025-05-01",
                "--end",
                "2025-05-02",
                "--transactions",
                "300",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr()
    assert "landed 300 transactions in 2 batches" in out.out
    assert "landed 2/2 batches" in out.err
