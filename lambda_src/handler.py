"""AWS Lambda entry point: `lambda_src.handler.handler`.

Generates one synthetic batch (demo mode) and lands its entity files plus a manifest with control
totals. Configuration (event keys win over environment variables):

| event key    | env var            | meaning                                              |
|--------------|--------------------|------------------------------------------------------|
|              | LANDING_BUCKET     | S3 bucket; required when running inside AWS Lambda   |
|              | LANDING_PREFIX     | key prefix in the bucket (default `landing`)         |
|              | LANDING_DIR        | local landing folder when no bucket (`data/landing`) |
| batch_size   | BATCH_SIZE         | transaction records per batch (default 1000)         |
| dirty_rate   | DIRTY_RATE         | share of deliberately dirty records (default 0)      |
| batch_date   |                    | batch date `YYYY-MM-DD` (default: today, UTC)        |
| batch_id     |                    | batch id (default: the Lambda request id)            |
| format       | LANDING_FORMAT     | `jsonl` (default) or `csv`                           |
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import uuid
from datetime import UTC, date, datetime

from lambda_src.contract import (
    DEFAULT_LANDING_PREFIX,
    ENTITY_COLUMNS,
    data_key,
    manifest_key,
)
from lambda_src.generator import Batch, generate_batch
from lambda_src.landing import DEFAULT_LOCAL_DIR, LandingWriter, LocalWriter, S3Writer
from lambda_src.settings import (
    ENV_BATCH_SIZE,
    ENV_BUCKET,
    ENV_DIRTY_RATE,
    ENV_FORMAT,
    ENV_LOCAL_DIR,
    ENV_PREFIX,
)

_BATCH_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
CONTENT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv"}


class ConfigError(ValueError):
    """The handler was invoked with configuration it cannot honour."""


def writer_from_env(environ: dict[str, str] | None = None) -> LandingWriter:
    env = os.environ if environ is None else environ
    bucket = env.get(ENV_BUCKET, "").strip()
    if bucket:
        return S3Writer(bucket, env.get(ENV_PREFIX, DEFAULT_LANDING_PREFIX))
    if env.get("AWS_LAMBDA_FUNCTION_NAME"):
        raise ConfigError(
            f"running inside AWS Lambda but {ENV_BUCKET} is not set: refusing to write to the "
            "function's local disk"
        )
    return LocalWriter(env.get(ENV_LOCAL_DIR) or DEFAULT_LOCAL_DIR)


def serialize(records: list[dict], columns: tuple[str, ...], fmt: str) -> bytes:
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(records)
        return buf.getvalue().encode()
    raise ConfigError(f"the Lambda writes jsonl or csv, not {fmt!r}")


def land_batch(batch: Batch, writer: LandingWriter, fmt: str = "jsonl", now=None) -> dict:
    """Write the batch's entity files, then its manifest (last: it marks the batch complete)."""
    now = now or datetime.now(UTC)
    files = []
    for entity, columns in ENTITY_COLUMNS.items():
        records = getattr(batch, entity)
        body = serialize(records, columns, fmt)
        key = data_key(entity, batch.batch_date, now, batch.batch_id, fmt)
        writer.put(key, body, CONTENT_TYPES[fmt])
        files.append(
            {
                "entity": entity,
                "key": key,
                "format": fmt,
                "records": len(records),
                "bytes": len(body),
                "sha256": hashlib.sha256(body).hexdigest(),
            }
        )
    manifest = {
        "contract_version": 1,
        "batch_id": batch.batch_id,
        "batch_date": batch.batch_date.isoformat(),
        "landed_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "producer": "lambda_src.handler",
        "files": files,
        "control_totals": batch.control_totals(),
    }
    mkey = manifest_key(batch.batch_date, now, batch.batch_id)
    writer.put(mkey, json.dumps(manifest, indent=2).encode(), "application/json")
    return {"batch_id": batch.batch_id, "manifest_key": mkey, "manifest": manifest}


def _setting(event: dict, key: str, env_name: str, default: str) -> str:
    value = event.get(key)
    if value is None or value == "":
        value = os.environ.get(env_name) or default
    return str(value)


def handler(event: dict | None, context=None) -> dict:
    """Generate and land one batch. Returns the batch id, file keys and control totals."""
    event = event or {}
    try:
        batch_date = date.fromisoformat(
            str(event.get("batch_date") or datetime.now(UTC).date().isoformat())
        )
        size = int(_setting(event, "batch_size", ENV_BATCH_SIZE, "1000"))
        dirty_rate = float(_setting(event, "dirty_rate", ENV_DIRTY_RATE, "0"))
    except ValueError as e:
        raise ConfigError(f"invalid batch setting: {e}") from e
    fmt = _setting(event, "format", ENV_FORMAT, "jsonl")
    batch_id = str(
        event.get("batch_id") or getattr(context, "aws_request_id", None) or uuid.uuid4().hex[:16]
    )
    if not _BATCH_ID_RE.match(batch_id):
        raise ConfigError(f"batch_id {batch_id!r} must match {_BATCH_ID_RE.pattern}")
    writer = writer_from_env()
    batch = generate_batch(batch_date, batch_id, size=size, dirty_rate=dirty_rate)
    result = land_batch(batch, writer, fmt)
    m = result["manifest"]
    return {
        "batch_id": batch_id,
        "batch_date": m["batch_date"],
        "manifest_key": result["manifest_key"],
        "keys": [f["key"] for f in m["files"]],
        "control_totals": m["control_totals"],
    }
