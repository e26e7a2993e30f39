"""The landing zone resource: one small interface, a local-folder and an S3 implementation.

Keys are relative to the landing root (`transactions/dt=2026-12-03/<stamp>-<batch>.jsonl`).
`etag` identifies the content (S3's ETag; for a local file its size, mtime, ctime and inode, which
change whenever the file is rewritten or replaced, even by `cp -p` or `rsync -t`). `version`
identifies one upload: an S3 object re-uploaded with content it had before has the same ETag but a
new LastModified, so a revert (v1 -> v2 -> v1) is still seen as a change.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

from lambda_src.contract import DEFAULT_LANDING_PREFIX
from lambda_src.landing import DEFAULT_LOCAL_DIR
from lambda_src.settings import ENV_BUCKET, ENV_LOCAL_DIR, ENV_PREFIX
from medallion_dagster.settings import env


@dataclass(frozen=True)
class LandingObject:
    key: str
    etag: str
    size: int
    last_modified: datetime

    @property
    def version(self) -> str:
        return f"{self.etag}@{self.last_modified.astimezone(UTC):%Y%m%dT%H%M%S%fZ}"


class LandingZone(dg.ConfigurableResource):
    """Where the collector lands files. Subclasses implement listing and reading."""

    def list_objects(self, prefix: str = "", start_after: str = "") -> Iterator[LandingObject]:
        """Every object whose key starts with `prefix` (relative to the landing root), in key
        order; with `start_after`, only keys that sort after it (S3's StartAfter)."""
        raise NotImplementedError

    def read(self, key: str) -> bytes:
        raise NotImplementedError

    def uri(self, key: str = "") -> str:
        raise NotImplementedError


class LocalLandingZone(LandingZone):
    """A folder on this machine (default `data/landing`)."""

    root: str = DEFAULT_LOCAL_DIR

    def list_objects(self, prefix: str = "", start_after: str = "") -> Iterator[LandingObject]:
        root = Path(self.root)
        # Walk only the deepest folder the prefix names, not the whole tree.
        base = root / prefix.rsplit("/", 1)[0] if "/" in prefix else root
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            rel = Path(dirpath).relative_to(root).as_posix()
            rel = "" if rel == "." else rel + "/"
            # Skip folders whose every key sorts before start_after (older dt= folders).
            dirnames[:] = sorted(
                d
                for d in dirnames
                if not start_after
                or f"{rel}{d}/" > start_after
                or start_after.startswith(f"{rel}{d}/")
            )
            for name in sorted(filenames):
                path = Path(dirpath) / name
                key = path.relative_to(root).as_posix()
                if not key.startswith(prefix) or (start_after and key <= start_after):
                    continue
                try:
                    key.encode("utf-8")
                    st = path.stat()
                except FileNotFoundError:  # renamed or removed while we listed
                    continue
                except (UnicodeEncodeError, OSError) as e:  # undecodable name, symlink loop, ...
                    dg.get_dagster_logger().warning(
                        f"skipping unreadable landing entry {key!r}: {e}"
                    )
                    continue
                yield LandingObject(
                    key=key,
                    etag=f"{st.st_size:x}-{st.st_mtime_ns:x}-{st.st_ctime_ns:x}-{st.st_ino:x}",
                    size=st.st_size,
                    last_modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
                )

    def read(self, key: str) -> bytes:
        return (Path(self.root) / key).read_bytes()

    def uri(self, key: str = "") -> str:
        return str(Path(self.root) / key)


class S3LandingZone(LandingZone):
    """`s3://<bucket>/<prefix>/`; the client comes from dagster-aws's S3Resource (which honours
    AWS_ENDPOINT_URL, AWS_REGION and the usual credential chain)."""

    bucket: str
    prefix: str = DEFAULT_LANDING_PREFIX
    s3: S3Resource

    def _full(self, key: str) -> str:
        p = self.prefix.strip("/")
        return f"{p}/{key}" if p else key

    _client: object = PrivateAttr(default=None)

    def client(self):
        """One S3 client per resource instance (a tick makes several calls)."""
        if self._client is None:
            self._client = self.s3.get_client()
        return self._client

    def list_objects(self, prefix: str = "", start_after: str = "") -> Iterator[LandingObject]:
        root = self._full("")
        paginator = self.client().get_paginator("list_objects_v2")
        extra = {"StartAfter": self._full(start_after)} if start_after else {}
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._full(prefix), **extra):
            for obj in page.get("Contents", []):
                yield LandingObject(
                    key=obj["Key"][len(root) :],
                    etag=obj["ETag"].strip('"'),
                    size=obj["Size"],
                    last_modified=obj["LastModified"],
                )

    def read(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.bucket, Key=self._full(key))["Body"].read()

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self._full(key)}"


def landing_zone_from_env() -> LandingZone:
    """S3 when LANDING_BUCKET is set, else the local folder LANDING_DIR (default data/landing)."""
    bucket = env(ENV_BUCKET)
    if bucket:
        return S3LandingZone(
            bucket=bucket, prefix=env(ENV_PREFIX, DEFAULT_LANDING_PREFIX), s3=S3Resource()
        )
    return LocalLandingZone(root=env(ENV_LOCAL_DIR, DEFAULT_LOCAL_DIR))
