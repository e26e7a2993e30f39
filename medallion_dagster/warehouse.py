"""The SQLite warehouse: one database file per layer, tables with their pandas dtypes recorded.

Layout: `<dir>/bronze.db`, `<dir>/silver.db`, `<dir>/gold.db`. Opening them together (ATTACH) gives
`bronze.transactions`, `silver.transactions`, `gold.daily_revenue`, ... as in a schema-ful database.

Every table has a row per column in the layer's `_medallion_columns` registry (its pandas dtype), so
a table round-trips to the same dtypes in any process; `codec.py` says how each dtype is stored.
Partitioned tables carry an indexed `_partition` TEXT column: the daily partition key.

Bulk reads and writes go through ADBC's SQLite driver as Arrow tables (columnar, no Python object
per value); everything else uses the standard library's sqlite3. Both open the same files.
"""

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

import adbc_driver_sqlite.dbapi as adbc
import dagster as dg
import pandas as pd
import pyarrow as pa

from medallion_dagster.changes import LOG_SUFFIX, LOGS, MERGE_SUFFIX, WATERMARKS, ChangeLogs, Merge
from medallion_dagster.codec import (
    SENTINELS,
    CodecError,
    decode,
    dtype_key,
    encode,
    family,
    merge,
    sql_type,
)
from medallion_dagster.settings import DEFAULT_WAREHOUSE_DIR
from medallion_dagster.sql import (
    IN_PARTITIONS,
    PARTITION_COLUMN,
    SchemaMismatchError,
    TableNotFoundError,
    WarehouseError,
    quote,
    result_columns,
)
from medallion_dagster.sql import fetchall as _fetchall
from medallion_dagster.sql import keys_param as _keys_param
from medallion_dagster.sql import strip as _strip

LAYERS: tuple[str, ...] = ("bronze", "silver", "gold")
REGISTRY = "_medallion_columns"
#: Per SQL-computed table: a hash of its query and dtypes (a changed definition rebuilds it whole)
#: and, for tables tracking changes, whether those changes are incomplete (rebuild consumers).
STATE = "_medallion_queries"
#: Rows per partition of every partitioned table, kept in the writes' own transactions: a table's
#: size for the metadata costs a sum over its partitions, not a scan of its rows.
COUNTS = "_medallion_partition_rows"
#: Reads map the files into memory (no copy through SQLite's small page cache): index lookups
#: over a large table are several times faster. Address space, not resident memory.
MMAP_BYTES = 256 * 2**20


def _is_all_null(series: pd.Series) -> bool:
    """No values at all (an empty frame, or a column that is NULL/NaN/NaT for the whole write):
    nothing that could conflict with the stored type."""
    return bool(series.isna().all())


def _partitioning_changed(layer: str, table: str, was_partitioned: bool) -> WarehouseError:
    """The stored table and the write disagree on partitioning: an asset's partitioning changed."""
    return WarehouseError(
        f"{layer}.{table} is {'' if was_partitioned else 'not '}partitioned; this write is "
        f"{'not ' if was_partitioned else ''}partitioned. The asset's partitioning changed (an "
        "upgrade of the pipeline): rebuild the warehouse from the landing zone with `make "
        "rebuild` (python -m medallion_dagster.recovery rebuild), which keeps the old one aside."
    )


def _check_table_name(table: str) -> None:
    reserved = {n.lower() for n in (REGISTRY, STATE, COUNTS, LOGS, WATERMARKS)}
    if (
        not table
        or table.lower().startswith("sqlite_")
        or table.lower() in reserved
        or table.lower().endswith((LOG_SUFFIX, MERGE_SUFFIX))
    ):
        raise WarehouseError(
            f"{table!r} is not a usable table name (empty, or reserved by SQLite or the warehouse)"
        )


class Warehouse(ChangeLogs, dg.ConfigurableResource):
    """The SQLite warehouse folder. Used by the IO manager and by assets that query SQL directly.

    The SQL the project runs is written once, in the SQL both backends share (`IN (SELECT value
    FROM json_each(?))` for lists of keys, `IS DISTINCT FROM`, `->>`, integer `/`); the backend
    differences (transactions, catalogs, indexes, bulk transfer) are the hooks below, which
    `DuckDBWarehouse` (`warehouse_duckdb.py`) overrides."""

    path: str = DEFAULT_WAREHOUSE_DIR
    busy_timeout_seconds: float = 60.0
    chunk_rows: int = 100_000
    """Large runs read and write whole partitions about this many rows at a time (memory)."""

    #: The value of WAREHOUSE_BACKEND that selects this class (settings.py).
    BACKEND: ClassVar[str] = "sqlite"
    FILE_SUFFIX: ClassVar[str] = ".db"
    #: Starts a write transaction (SQLite: take the write lock now, not at the first write).
    BEGIN_WRITE: ClassVar[str] = "BEGIN IMMEDIATE"

    def layer_file(self, layer: str) -> Path:
        if layer not in LAYERS:
            raise WarehouseError(f"unknown layer {layer!r}; layers are {LAYERS}")
        return Path(self.path) / f"{layer}{self.FILE_SUFFIX}"

    # -- backend hooks (DuckDBWarehouse overrides these) -----------------------------------------

    @staticmethod
    def sql_type(dtype: str) -> str:
        """The declared column type of a pandas dtype (codec.py)."""
        return sql_type(dtype)

    def _has_table(self, cur, name: str) -> bool:
        """Whether the layer a per-layer connection (or cursor) is on has table `name`."""
        cur.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
        return bool(cur.fetchall())

    def _create_index(self, cur, layer: str | None, table: str, columns: Sequence[str]) -> None:
        """Index `columns` of `table` (in `layer` on an all-layers connection, else `main`)."""
        schema = f"{quote(layer)}." if layer else ""
        cur.execute(
            f"CREATE INDEX IF NOT EXISTS {schema}{quote(table + '__idx__' + '__'.join(columns))} "
            f"ON {quote(table)} ({', '.join(quote(c) for c in columns)})"
        )

    def _retype(self, cur, table: str, column: str, dtype: str) -> None:
        """A column that held only NULLs gets its first values (SQLite: untyped, nothing to do)."""

    @staticmethod
    def is_missing_table(error: Exception) -> bool:
        """Whether a query failed because a table it reads does not exist (yet)."""
        return isinstance(error, sqlite3.OperationalError) and "no such table" in str(error)

    @staticmethod
    def _fetch_arrow(cur, sql: str, params: Sequence) -> pa.Table:
        cur.execute(sql, params)
        return cur.fetch_arrow_table()

    def _pin_types(self, dtypes: dict[str, str]) -> str | None:
        """A first row that pins each result column's Arrow type (ADBC's SQLite driver infers
        types from the first rows), or None where the result types come from the table."""
        return ", ".join(f"{SENTINELS[sql_type(d)]} AS {quote(c)}" for c, d in dtypes.items())

    @contextmanager
    def connect(self, layer: str | None = None) -> Iterator[sqlite3.Connection]:
        """A stdlib connection in autocommit mode. With `layer`, that layer is `main`; without,
        every layer is ATTACHed under its name (`SELECT * FROM gold.daily_revenue`)."""
        Path(self.path).mkdir(parents=True, exist_ok=True)
        target = str(self.layer_file(layer)) if layer else ":memory:"
        conn = sqlite3.connect(target, timeout=self.busy_timeout_seconds, isolation_level=None)
        # Python's str.strip() in SQL: silver normalises ids with it, checks compare the same way
        conn.create_function("medallion_strip", 1, _strip, deterministic=True)
        try:
            if layer:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            else:
                for name in LAYERS:
                    conn.execute(
                        "ATTACH DATABASE ? AS " + quote(name), (str(self.layer_file(name)),)
                    )
                    conn.execute(f"PRAGMA {quote(name)}.journal_mode=WAL")
                    conn.execute(f"PRAGMA {quote(name)}.mmap_size={MMAP_BYTES}")
            yield conn
        finally:
            conn.close()

    @contextmanager
    def _columnar(self, layer: str):
        """An ADBC (Arrow) cursor on a layer file, autocommit: transactions are explicit."""
        Path(self.path).mkdir(parents=True, exist_ok=True)
        conn = adbc.connect(str(self.layer_file(layer)), autocommit=True)
        try:
            cur = conn.cursor()
            try:
                cur.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_seconds * 1000)}")
                cur.execute("PRAGMA journal_mode=WAL")
                cur.fetchall()
                cur.execute("PRAGMA synchronous=NORMAL")
                yield cur
            finally:
                cur.close()
        finally:
            conn.close()

    # -- schema registry --------------------------------------------------------------------------

    def _registered(self, cur, table: str) -> dict[str, str]:
        if not self._has_table(cur, REGISTRY):
            return {}
        cur.execute(
            f"SELECT column_name, dtype FROM {REGISTRY} WHERE table_name=? ORDER BY position",
            (table,),
        )
        return dict(cur.fetchall())

    def columns(self, layer: str, table: str) -> dict[str, str]:
        """Column name -> pandas dtype of a stored table ({} if it does not exist)."""
        with self.connect(layer) as conn:
            return self._registered(conn.cursor(), table)

    def table_exists(self, layer: str, table: str) -> bool:
        return bool(self.columns(layer, table))

    # -- write ------------------------------------------------------------------------------------

    def write(
        self,
        layer: str,
        table: str,
        df: pd.DataFrame,
        partition_keys: Sequence[str] | None = None,
        indexes: Sequence[str | Sequence[str]] = (),
        clear: Sequence[str] = (),
        changes_key: Sequence[str] = (),
    ) -> int:
        """Replace a table (or, with `partition_keys`, exactly those partitions) by `df`, in one
        transaction: on any error the previous rows stay. Returns the rows written.
        `indexes` names columns to index, or tuples of columns for one composite index (created
        once, with the table or the column); `clear`
        names more partitions to empty in the same transaction; `changes_key` (partitioned)
        keeps the table's change log (`changes.py`) with these key columns."""
        _check_table_name(table)
        if changes_key and partition_keys is None:
            raise WarehouseError(f"{layer}.{table}: only partitioned tables keep a change log")
        df = self._with_partition(table, df.rename(columns=str), partition_keys)
        names = list(df.columns)
        if not names:
            raise WarehouseError(f"{layer}.{table}: a table needs at least one column")
        if len({n.lower() for n in names}) != len(names):  # SQLite names are case-insensitive
            raise WarehouseError(
                f"{layer}.{table}: column names that differ only in case (or repeat): {names}"
            )
        indexes = [(index,) if isinstance(index, str) else tuple(index) for index in indexes]
        unknown = [c for index in indexes for c in index if c not in names]
        if unknown:
            raise WarehouseError(f"{layer}.{table}: cannot index missing column(s) {unknown}")
        try:
            new_dtypes = {str(c): dtype_key(df[c]) for c in df.columns}
            data = pa.table({str(c): encode(df[c], new_dtypes[str(c)]) for c in df.columns})
        except CodecError as e:
            raise WarehouseError(f"{layer}.{table}: {e}") from e
        with self._columnar(layer) as cur:
            cur.execute(self.BEGIN_WRITE)
            try:
                self._create_bookkeeping(cur, "main")
                self._check_case_collision(cur, layer, table)
                if partition_keys is None:
                    # An unpartitioned write replaces the whole table, schema included.
                    cur.execute(f"DROP TABLE IF EXISTS {quote(table)}")
                    cur.execute(f"DELETE FROM {REGISTRY} WHERE table_name = ?", (table,))
                    old = {}
                else:
                    old = self._registered(cur, table)
                if not old:
                    cur.execute(f"DELETE FROM {COUNTS} WHERE table_name = ?", (table,))
                dtypes = self._evolve(cur, layer, table, old, new_dtypes, df, partition_keys)
                for index in indexes:
                    self._create_index(cur, None, table, list(index))
                if changes_key:
                    seq = self._log_replaced(
                        cur,
                        "main",
                        table,
                        list(dtypes),
                        changes_key,
                        fresh=dtypes != old,
                        replaced=_keys_param([*partition_keys, *clear]),
                    )
                if partition_keys is not None:
                    cur.execute(
                        f"DELETE FROM {quote(table)} WHERE {IN_PARTITIONS}",
                        (_keys_param([*partition_keys, *clear]),),
                    )
                if data.num_rows:
                    cur.adbc_ingest(table, data, mode="append")
                if changes_key:
                    self._log_written(
                        cur, "main", table, list(dtypes), changes_key, seq,
                        _keys_param(partition_keys),
                    )  # fmt: skip
                if partition_keys is not None:
                    self._count_partitions(cur, "main", table, partition_keys, clear)
                cur.execute(f"DELETE FROM {REGISTRY} WHERE table_name = ?", (table,))
                for position, (name, dtype) in enumerate(dtypes.items()):
                    cur.execute(
                        f"INSERT INTO {REGISTRY} VALUES (?, ?, ?, ?)",
                        (table, position, name, dtype),
                    )
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
        return data.num_rows

    @staticmethod
    def _with_partition(
        table: str, df: pd.DataFrame, partition_keys: Sequence[str] | None
    ) -> pd.DataFrame:
        if partition_keys is None:
            if PARTITION_COLUMN in df.columns:
                raise WarehouseError(f"{table}: {PARTITION_COLUMN} is reserved for partitions")
            return df
        if not partition_keys:
            raise WarehouseError(f"{table}: a partitioned write needs at least one partition key")
        if PARTITION_COLUMN in df.columns:
            outside = set(df[PARTITION_COLUMN].dropna().astype(str)) - set(partition_keys)
            if outside or df[PARTITION_COLUMN].isna().any():
                raise WarehouseError(
                    f"{table}: rows for partitions {sorted(outside) or ['<null>']} outside the "
                    f"partitions being written ({partition_keys[0]}..{partition_keys[-1]})"
                )
            return df.astype({PARTITION_COLUMN: "str"})
        if len(partition_keys) > 1:
            raise WarehouseError(
                f"{table}: writing {len(partition_keys)} partitions at once needs a "
                f"{PARTITION_COLUMN} column saying which partition each row belongs to"
            )
        # An array, not a Series: assigned by position whatever the frame's index is.
        key = pd.array([partition_keys[0]] * len(df), dtype="str")
        return df.assign(**{PARTITION_COLUMN: key})

    def _evolve(self, cur, layer, table, old, new, df, partition_keys) -> dict[str, str]:
        """Create the table or add new columns; refuse incompatible dtype changes."""
        if not old:
            cols = ", ".join(f"{quote(c)} {self.sql_type(d)}".rstrip() for c, d in new.items())
            cur.execute(f"CREATE TABLE {quote(table)} ({cols})")
            if partition_keys is not None:
                self._create_index(cur, None, table, [PARTITION_COLUMN])
            return dict(new)
        if (PARTITION_COLUMN in old) != (partition_keys is not None):
            raise _partitioning_changed(layer, table, PARTITION_COLUMN in old)
        merged = dict(old)
        for column, dtype in new.items():
            if column not in old:
                cur.execute(
                    f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)} {self.sql_type(dtype)}"
                )
                merged[column] = dtype
            elif _is_all_null(df[column]):
                continue  # no values: nothing to conflict with; the stored type stays
            elif family(old[column]) == "null":
                merged[column] = dtype  # the first values of a column that had only NULLs
                self._retype(cur, table, column, dtype)
            elif family(old[column]) != family(dtype):
                raise SchemaMismatchError(
                    f"table {layer}.{table}: column {column!r} is stored as {old[column]} but the "
                    f"asset now produces {dtype}; the table was left unchanged"
                )
            else:
                merged[column] = merge(old[column], dtype)
        return merged

    def _check_case_collision(self, cur, layer: str, table: str) -> None:
        cur.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') "
            "AND lower(name) = lower(?) AND name != ?",
            (table, table),
        )
        clash = cur.fetchall()
        if clash:
            raise WarehouseError(
                f"{layer}.{table}: SQLite names are case-insensitive and {clash[0][0]!r} exists"
            )

    # -- write from a query, inside the warehouse -------------------------------------------------

    def write_query(
        self,
        layer: str,
        table: str,
        sql: str,
        dtypes: dict[str, str],
        partition_keys: Sequence[str] | None = None,
        indexes: Sequence[str | Sequence[str]] = (),
        changes_key: Sequence[str] = (),
        incremental_from: str | None = None,
        merge: Merge | None = None,
    ) -> int:
        """Materialize `sql` (run with every layer attached) into a table, in the database.

        `dtypes` names the query's columns, in order, and the pandas dtype each is read back as;
        the query returns values already in their stored form (see `codec.py`). With
        `partition_keys`, the query also returns `_partition` and `{partitions}` in it stands for
        the list of keys being written (`WHERE _partition IN {partitions}`): exactly those
        partitions are replaced. One transaction: on any error the previous rows stay.

        Incremental maintenance (`changes.py`, and `docs/ARCHITECTURE.md`, "Gold"):
        - `changes_key` (partitioned): the table keeps a change log with these key columns;
        - `incremental_from="<layer>.<table>"` (unpartitioned): the table is maintained from that
          table's change log as `merge` says (without one, every key the changes name is
          recomputed); `{source}` in `sql` stands for that table (whole, for a whole build; the
          rows of the keys to recompute, otherwise).
        Returns the rows written (partitioned) or the table's rows (unpartitioned)."""
        _check_table_name(table)
        names = list(dtypes)
        partitioned = partition_keys is not None
        if partitioned:
            if not partition_keys:
                raise WarehouseError(f"{table}: a partitioned write needs at least one key")
            names.append(PARTITION_COLUMN)
            dtypes = {**dtypes, PARTITION_COLUMN: "str"}
        elif "{partitions}" in sql:
            raise WarehouseError(f"{layer}.{table}: {{partitions}} in an unpartitioned query")
        if changes_key and not partitioned:
            raise WarehouseError(f"{layer}.{table}: only partitioned tables keep a change log")
        source: tuple[str, str] | None = None
        if incremental_from is not None:
            src_layer, _, src_table = incremental_from.partition(".")
            if partitioned or "{source}" not in sql or src_layer not in LAYERS:
                raise WarehouseError(
                    f"{layer}.{table}: incremental_from needs an unpartitioned table, "
                    "{source} in the query and a source named <layer>.<table>"
                )
            source = (src_layer, src_table)
        keys = list(partition_keys or [])
        placeholders = "(" + ", ".join("?" * len(keys)) + ")"
        query = sql.replace("{partitions}", placeholders)
        params = keys * sql.count("{partitions}")
        whole = (
            query.replace("{source}", f"{quote(source[0])}.{quote(source[1])}") if source else query
        )
        target = f"{quote(layer)}.{quote(table)}"
        registry = f"{quote(layer)}.{REGISTRY}"
        state = f"{quote(layer)}.{STATE}"
        definition = hashlib.sha256(
            json.dumps([sql, dtypes, merge.definition() if merge else None]).encode()
        ).hexdigest()
        with self.connect() as conn:
            got = result_columns(conn, f"SELECT * FROM ({whole}) LIMIT 0", params)
            if got != names:
                raise WarehouseError(f"{layer}.{table}: the query returns {got}, declared {names}")
            conn.execute(self.BEGIN_WRITE)
            try:
                self._create_bookkeeping(conn, layer)  # this layer only: one file per transaction
                old = dict(
                    conn.execute(
                        f"SELECT column_name, dtype FROM {registry} WHERE table_name = ? "
                        "ORDER BY position",
                        (table,),
                    ).fetchall()
                )
                if old and (PARTITION_COLUMN in old) != partitioned:
                    raise _partitioning_changed(layer, table, PARTITION_COLUMN in old)
                if old and partitioned and old != dtypes:
                    raise SchemaMismatchError(
                        f"table {layer}.{table} is stored as {old} but the query now gives "
                        f"{dtypes}; the table was left unchanged (drop it, then backfill every "
                        "partition: the tables maintained from it are then rebuilt whole)"
                    )
                log = None
                incremental = False
                if source is not None:
                    src_columns = result_columns(
                        conn, f"SELECT * FROM {quote(source[0])}.{quote(source[1])} LIMIT 0"
                    )
                    log = self.log_state(conn, *source)
                    if merge is None and log is not None and set(log[2]) <= set(names):
                        # no rule: every key the source's changes name is recomputed (a source
                        # keyed on columns this table lacks: built whole each time)
                        merge = Merge(keys=tuple(log[2]))
                    if merge is not None:
                        merge.check(f"{layer}.{table}", names, src_columns)
                    if merge is not None and log is not None and list(merge.keys) != log[2]:
                        raise WarehouseError(
                            f"{layer}.{table}: merge keys {list(merge.keys)} are not the "
                            f"changes_key {log[2]} of {incremental_from}"
                        )
                    mark = self._watermark(conn, layer, table)
                    stored = conn.execute(
                        f"SELECT definition FROM {state} WHERE table_name = ?", (table,)
                    ).fetchone()
                    incremental = (
                        bool(old)
                        and old == dtypes
                        and stored == (definition,)
                        and merge is not None
                        and log is not None
                        and self._table_in(conn, source[0], source[1] + LOG_SUFFIX)
                        and mark is not None
                        and mark[:2] == (incremental_from, log[0])
                        and mark[2] <= log[1]
                    )
                if not old or not (partitioned or incremental):
                    conn.execute(f"DROP TABLE IF EXISTS {target}")
                    conn.execute(f"DELETE FROM {registry} WHERE table_name = ?", (table,))
                    conn.execute(
                        f"DELETE FROM {quote(layer)}.{COUNTS} WHERE table_name = ?", (table,)
                    )
                    cols = ", ".join(
                        f"{quote(c)} {self.sql_type(d)}".rstrip() for c, d in dtypes.items()
                    )
                    conn.execute(f"CREATE TABLE {target} ({cols})")
                    conn.executemany(
                        f"INSERT INTO {registry} VALUES (?, ?, ?, ?)",
                        [(table, i, c, d) for i, (c, d) in enumerate(dtypes.items())],
                    )
                    old_dtypes = {}
                else:
                    old_dtypes = old
                extra = [merge.keys] if merge is not None else []
                for index in [*([PARTITION_COLUMN] if partitioned else []), *indexes, *extra]:
                    columns = (index,) if isinstance(index, str) else tuple(index)
                    self._create_index(conn, layer, table, columns)
                column_list = ", ".join(quote(c) for c in names)
                run_keys = _keys_param(keys)
                if incremental:
                    self._merge_changes(conn, layer, table, sql, names, merge, source, mark[2])
                    written = 0
                else:
                    if changes_key:
                        seq = self._log_replaced(
                            conn, layer, table, names, changes_key, not old_dtypes, run_keys
                        )
                    if partitioned:
                        conn.execute(f"DELETE FROM {target} WHERE {IN_PARTITIONS}", (run_keys,))
                    written = conn.execute(
                        f"INSERT INTO {target} ({column_list}) SELECT * FROM ({whole})", params
                    ).rowcount
                    if partitioned:
                        # The run's partitions were emptied above: every row written must be
                        # in them, as write() demands (rows of other partitions would sit
                        # beside those partitions' own rows, outside their counts).
                        inside = conn.execute(
                            f"SELECT count(*) FROM {target} WHERE {IN_PARTITIONS}", (run_keys,)
                        ).fetchone()[0]
                        if inside != written:
                            raise WarehouseError(
                                f"{layer}.{table}: the query returned {written - inside} rows "
                                "outside the run's partitions (their _partition must be one of "
                                f"{list(keys)[:5]}{'…' if len(keys) > 5 else ''}); nothing written"
                            )
                    if changes_key:
                        self._log_written(conn, layer, table, names, changes_key, seq, run_keys)
                if partitioned:
                    self._count_partitions(conn, layer, table, keys, [])
                if source is not None:
                    self._set_watermark(conn, layer, table, incremental_from, log)
                conn.execute(
                    f"INSERT INTO {state} (table_name, definition) VALUES (?, ?) "
                    "ON CONFLICT (table_name) DO UPDATE SET definition = excluded.definition",
                    (table, definition),
                )
                if not partitioned:
                    written = conn.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if source is not None:
                self._prune_log(conn, source, LAYERS)
        return written

    def _table_in(self, conn, schema: str, name: str) -> bool:
        return bool(
            conn.execute(
                f"SELECT 1 FROM {quote(schema)}.sqlite_master WHERE type = 'table' AND name = ?",
                (name,),
            ).fetchone()
        )

    def _count_partitions(
        self, cur, schema: str, table: str, keys: Sequence[str], cleared: Sequence[str]
    ) -> None:
        """Record the rows of the partitions just written (in the write's transaction). A table
        with no counts yet (new, or from before counting) is counted whole, once."""
        counts = f"{quote(schema)}.{COUNTS}"
        target = f"{quote(schema)}.{quote(table)}"
        part = quote(PARTITION_COLUMN)
        if _fetchall(cur, f"SELECT 1 FROM {counts} WHERE table_name = ? LIMIT 1", (table,)):
            cur.execute(
                f"DELETE FROM {counts} WHERE table_name = ? "
                "AND partition_key IN (SELECT value FROM json_each(?))",
                (table, _keys_param([*keys, *cleared])),
            )
            cur.execute(
                f"INSERT INTO {counts} SELECT ?, {part}, count(*) FROM {target} "
                f"WHERE {IN_PARTITIONS} GROUP BY {part}",
                (table, _keys_param(keys)),
            )
        else:
            cur.execute(
                f"INSERT INTO {counts} SELECT ?, {part}, count(*) FROM {target} GROUP BY {part}",
                (table,),
            )

    def _create_bookkeeping(self, conn, schema: str) -> None:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{REGISTRY} (table_name TEXT NOT NULL, "
            "position INTEGER NOT NULL, column_name TEXT NOT NULL, dtype TEXT NOT NULL, "
            "PRIMARY KEY (table_name, column_name))"
        )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{COUNTS} (table_name TEXT NOT NULL, "
            "partition_key TEXT NOT NULL, row_count INTEGER NOT NULL, "
            "PRIMARY KEY (table_name, partition_key))"
        )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {quote(schema)}.{STATE} (table_name TEXT PRIMARY KEY, "
            "definition TEXT)"
        )
        self._create_change_bookkeeping(conn, schema)

    def partition_row_counts(self, layer: str, table: str, keys: Sequence[str]) -> dict[str, int]:
        """Rows per partition key (0 for keys without rows), from the `_partition` index."""
        counts = dict.fromkeys(keys, 0)
        if not self.table_exists(layer, table):
            raise TableNotFoundError(f"{layer}.{table} has not been materialized yet")
        with self.connect(layer) as conn:
            counts |= dict(
                conn.execute(
                    f"SELECT {quote(PARTITION_COLUMN)}, count(*) FROM {quote(table)} "
                    f"WHERE {IN_PARTITIONS} GROUP BY 1",
                    (_keys_param(keys),),
                ).fetchall()
            )
        return counts

    # -- read -------------------------------------------------------------------------------------

    def read(
        self,
        layer: str,
        table: str,
        partition_keys: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Load a table, or only the given partitions, with the dtypes it was written with.
        Rows come back in storage order; a partition read uses the `_partition` index."""
        with self._columnar(layer) as cur:
            cur.execute("BEGIN")  # one snapshot for the registry and the rows
            try:
                dtypes = self._registered(cur, table)
                if not dtypes:
                    raise TableNotFoundError(f"{layer}.{table} has not been materialized yet")
                if columns is not None:
                    missing = [c for c in columns if c not in dtypes]
                    if missing:
                        raise WarehouseError(f"{layer}.{table} has no column(s) {missing}")
                    dtypes = {c: dtypes[c] for c in columns}
                if partition_keys is not None and PARTITION_COLUMN not in self._registered(
                    cur, table
                ):
                    raise WarehouseError(f"{layer}.{table} is not partitioned")
                # A first row with a value of every column's storage class pins the result
                # types where the driver infers them (dropped below).
                sentinel = self._pin_types(dtypes)
                sql = f"SELECT 1, {', '.join(quote(c) for c in dtypes)} FROM {quote(table)}"
                if sentinel is not None:
                    sql = f"SELECT 0 AS __sentinel__, {sentinel} UNION ALL {sql}"
                params: tuple = ()
                if partition_keys is not None:
                    sql += f" WHERE {IN_PARTITIONS}"
                    params = (_keys_param(partition_keys),)
                result = self._fetch_arrow(cur, sql, params)
            finally:
                cur.execute("COMMIT")
        if sentinel is not None:
            if result.column(0)[0].as_py() != 0:  # pragma: no cover - SQLite keeps this order
                raise WarehouseError("internal: the type-pinning row did not come first")
            result = result.slice(1)
        return pd.DataFrame(
            {c: decode(result.column(i + 1), d) for i, (c, d) in enumerate(dtypes.items())}
        )

    def query(self, sql: str, params: Sequence | dict = ()) -> pd.DataFrame:
        """Run a read-only query with every layer attached (`FROM silver.transactions`)."""
        with self.connect() as conn:
            cur = conn.execute(sql, params)
            names = [d[0] for d in cur.description]
            return pd.DataFrame.from_records(cur.fetchall(), columns=names)

    def row_count(self, layer: str, table: str, partition_keys: Sequence[str] | None = None) -> int:
        with self.connect(layer) as conn:
            sql = f"SELECT count(*) FROM {quote(table)}"
            if partition_keys is None:
                if self._has_table(conn.cursor(), COUNTS):
                    counted = conn.execute(
                        f"SELECT count(*), sum(row_count) FROM {COUNTS} WHERE table_name = ?",
                        (table,),
                    ).fetchone()
                    if counted[0]:  # a partitioned table's counts (complete once present)
                        return int(counted[1])
                return conn.execute(sql).fetchone()[0]
            return conn.execute(
                sql + f" WHERE {IN_PARTITIONS}", (_keys_param(partition_keys),)
            ).fetchone()[0]
