"""A job whose four assets write to the same warehouse layer at the same time (multiprocess).

Loaded by `dagster.reconstructable` in the worker processes, so it lives in an importable module;
the warehouse folder comes from the environment the test sets.
"""

import os
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from medallion_dagster.definitions import BACKENDS
from medallion_dagster.io_manager import WarehouseIOManager

ROWS = 200_000
ENV = "MEDALLION_CONCURRENCY_WAREHOUSE"
BACKEND_ENV = "MEDALLION_CONCURRENCY_BACKEND"


def _all_started(i: int, writers: int = 4, timeout: float = 120.0) -> None:
    """A barrier across the worker processes: every step has started before any writes (process
    start-up is staggered on a small machine; without this the writes might not overlap)."""
    barrier = Path(os.environ[ENV]).parent / "barrier"
    barrier.mkdir(parents=True, exist_ok=True)
    (barrier / str(i)).touch()
    deadline = time.monotonic() + timeout
    while len(list(barrier.iterdir())) < writers:
        if time.monotonic() > deadline:
            raise TimeoutError("the other writers did not start")
        time.sleep(0.05)


def _writer(i: int) -> dg.AssetsDefinition:
    @dg.asset(key=["silver", f"writer_{i}"])
    def _asset() -> pd.DataFrame:
        _all_started(i)
        return pd.DataFrame(
            {
                "id": pd.Series([f"{i}-{n}" for n in range(ROWS)], dtype="str"),
                "amount_minor": pd.array(np.arange(ROWS) * (i + 1), dtype="Int64"),
            }
        )

    return _asset


def concurrent_job() -> dg.JobDefinition:
    backend = BACKENDS[os.environ.get(BACKEND_ENV, "sqlite")]
    warehouse = backend(path=os.environ[ENV], busy_timeout_seconds=120)
    defs = dg.Definitions(
        assets=[_writer(i) for i in range(4)],
        jobs=[
            dg.define_asset_job(
                "four_writers",
                executor_def=dg.multiprocess_executor.configured({"max_concurrent": 4}),
            )
        ],
        resources={"io_manager": WarehouseIOManager(warehouse=warehouse)},
    )
    return defs.resolve_job_def("four_writers")
