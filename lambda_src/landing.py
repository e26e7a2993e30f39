"""Writers for the landing zone: a local folder (default) or S3.

Local writes go to a hidden temporary name in the target folder and are renamed into place, so a
reader never sees half a file. S3 puts are atomic already.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol

DEFAULT_LOCAL_DIR = "data/landing"


class LandingWriter(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> str:
        """Write `body` at `key` (relative to the landing root); return where it went."""


class LocalWriter:
    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def put(self, key: str, body: bytes, content_type: str) -> str:
        target = self.root / key
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return str(target)


class S3Writer:
    def __init__(self, bucket: str, prefix: str, client=None):
        import boto3  # imported lazily: local use needs no AWS SDK

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client or boto3.client("s3")

    def put(self, key: str, body: bytes, content_type: str) -> str:
        full_key = f"{self.prefix}/{key}" if self.prefix else key
        self.client.put_object(
            Bucket=self.bucket, Key=full_key, Body=body, ContentType=content_type
        )
        return f"s3://{self.bucket}/{full_key}"
