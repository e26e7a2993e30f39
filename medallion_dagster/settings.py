"""Environment variables the code location reads, with their local defaults.

The landing variables are the same names the collector Lambda reads (see `lambda_src.handler`), so
one set of values (Terraform outputs, or nothing for the local default) configures both.
"""

from __future__ import annotations

import os

from lambda_src.settings import ENV_BUCKET, ENV_LOCAL_DIR, ENV_PREFIX

ENV_WAREHOUSE_DIR = "WAREHOUSE_DIR"
#: Which database holds the warehouse: "sqlite" (default) or "duckdb". Nothing else changes.
ENV_WAREHOUSE_BACKEND = "WAREHOUSE_BACKEND"
ENV_PARTITIONS_START = "MEDALLION_START_DATE"
ENV_QUEUE_URL = "LANDING_QUEUE_URL"
ENV_LOOKBACK_DAYS = "LANDING_LOOKBACK_DAYS"
ENV_ALERT_WEBHOOK_URL = "ALERT_WEBHOOK_URL"
#: Every variable the code location reads (besides AWS's own, e.g. AWS_REGION, AWS_ENDPOINT_URL).
ENV_VARS = (
    ENV_BUCKET,
    ENV_PREFIX,
    ENV_LOCAL_DIR,
    ENV_WAREHOUSE_DIR,
    ENV_WAREHOUSE_BACKEND,
    ENV_PARTITIONS_START,
    ENV_QUEUE_URL,
    ENV_LOOKBACK_DAYS,
    ENV_ALERT_WEBHOOK_URL,
)

DEFAULT_WAREHOUSE_DIR = "data/warehouse"
DEFAULT_WAREHOUSE_BACKEND = "sqlite"
DEFAULT_PARTITIONS_START = "2026-01-01"


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, "").strip() or default
