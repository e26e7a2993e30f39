"""What an asset can hand the IO manager besides a DataFrame, and what it can ask to be given.

- `SQLQuery`: a table computed *inside* the warehouse (`INSERT ... SELECT`), no rows in Python.
- `PartitionChunks`: a partitioned table written as a stream of chunks of whole partitions, each
  committed on its own, so memory holds one chunk whatever the run's range.
- `PartitionedTable` (an input annotation): a lazy handle on the upstream partitions, read in
  chunks of whole partitions (`.chunks()`) or at once (`.read()`).

See `docs/ARCHITECTURE.md` ("Large runs") for why and when each is used.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pandas as pd

from medallion_dagster.changes import Merge


@dataclass(frozen=True)
class SQLQuery:
    """A table the warehouse computes from other tables.

    `sql` reads other layers by name (`FROM silver.transactions`) and returns the columns of
    `dtypes` in order (plus `_partition` for a partitioned asset), values in their stored form.
    In a partitioned asset, `{partitions}` stands for the keys being written. `previews` are
    small queries (`{table}` = this table) whose results are shown, masked, in the UI.
    See `Warehouse.write_query` for incremental maintenance."""

    sql: str
    dtypes: dict[str, str]
    #: Columns to index: a name, or a tuple of names for one composite (covering) index.
    indexes: tuple[str | tuple[str, ...], ...] = ()
    previews: dict[str, str] = field(default_factory=dict)
    #: Partitioned: keep a change log (`changes.py`) with these key columns, for the tables
    #: maintained from this one.
    changes_key: tuple[str, ...] = ()
    #: Unpartitioned: `"<layer>.<table>"` (a table with a `changes_key`) this one is maintained
    #: from, as `merge` says; `{source}` in `sql` stands for it.
    incremental_from: str | None = None
    merge: Merge | None = None


@dataclass(frozen=True)
class PartitionChunk:
    """The complete new content of `partition_keys` (rows carry `_partition` if more than one)."""

    partition_keys: list[str]
    frame: pd.DataFrame


class PartitionChunks:
    """A stream of `PartitionChunk`s covering exactly the partitions of the run, in order.

    `metadata` may be filled while the stream is consumed; the IO manager records it afterwards.
    """

    def __init__(self, chunks: Iterable[PartitionChunk]):
        self._chunks = chunks
        self.metadata: dict[str, object] = {}

    def __iter__(self) -> Iterator[PartitionChunk]:
        return iter(self._chunks)


def group_partitions(counts: dict[str, int], max_rows: int) -> list[list[str]]:
    """Consecutive keys (in the given order) grouped so each group holds at most `max_rows`
    rows, except a single partition larger than that, which forms its own group."""
    groups: list[list[str]] = []
    rows = 0
    for key, n in counts.items():
        if groups and rows + n <= max_rows:
            groups[-1].append(key)
            rows += n
        else:
            groups.append([key])
            rows = n
    return groups


class PartitionedTable:
    """Lazy handle on some partitions of a warehouse table (given to inputs annotated with it)."""

    def __init__(self, warehouse, layer: str, table: str, partition_keys: list[str]):
        self.warehouse = warehouse
        self.layer = layer
        self.table = table
        self.partition_keys = list(partition_keys)

    def row_counts(self) -> dict[str, int]:
        return self.warehouse.partition_row_counts(self.layer, self.table, self.partition_keys)

    def chunks(self, max_rows: int | None = None) -> Iterator[tuple[list[str], pd.DataFrame]]:
        """(keys, rows of those keys) in key order; every key is in exactly one chunk of about
        `max_rows` rows (default: the warehouse's `chunk_rows`)."""
        for keys in group_partitions(self.row_counts(), max_rows or self.warehouse.chunk_rows):
            yield keys, self.warehouse.read(self.layer, self.table, keys)

    def read(self) -> pd.DataFrame:
        return self.warehouse.read(self.layer, self.table, self.partition_keys)

    def __repr__(self) -> str:
        keys = self.partition_keys
        span = f"{keys[0]}..{keys[-1]}" if keys else "no partitions"
        return f"PartitionedTable({self.layer}.{self.table}, {span})"
