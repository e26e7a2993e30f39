"""The warehouse on DuckDB: the same layers, tables, registry and SQL, in DuckDB files.

Selected by configuration alone (`WAREHOUSE_BACKEND=duckdb`, see `definitions.py`): assets, checks
and the IO manager are unchanged. Layout: `<dir>/bronze.duckdb`, `silver.duckdb`, `gold.duckdb`;
a per-layer connection opens that file, an all-layers connection ATTACHes the three under their
names, so `silver.transactions` means the same as on SQLite. Values are stored exactly as on
SQLite (`codec.py`: integers, floats, ISO text), so both backends give identical tables.

What differs, and how it is bridged (the only dialect code in the project):
- connections come from dagster-duckdb's `DuckDBResource` (which retries a file another process
  holds); DuckDB lets one process at a time open a file for writing, so opening waits (up to
  `busy_timeout_seconds`) while another step or the sensor holds it;
- `json_each(<JSON array of text>)` is a temporary macro (DuckDB's own returns JSON values);
  `:name` parameters become `$name`; `/` on integers divides as SQLite does (`integer_division`);
- no secondary indexes (DuckDB scans with per-row-group min/max; ART indexes cost memory and
  write time for nothing here); column types are DuckDB's (BIGINT, DOUBLE, VARCHAR);
- one transaction writes to one database file (DuckDB's rule): every write here stays in one
  layer, as on SQLite.
"""

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import ClassVar

import duckdb
import pyarrow as pa
from dagster_duckdb import DuckDBResource

from medallion_dagster.codec import family
from medallion_dagster.sql import WarehouseError, quote
from medallion_dagster.sql import strip as _strip
from medallion_dagster.warehouse import LAYERS, Warehouse

#: DuckDB type per codec family (codec.SQL_TYPES holds SQLite's); "null" columns are VARCHAR
#: until their first values set the type (`_retype`).
DUCKDB_TYPES = {
    "int": "BIGINT",
    "bool": "BIGINT",
    "float": "DOUBLE",
    "text": "VARCHAR",
    "datetime_tz": "VARCHAR",
    "datetime": "VARCHAR",
    "date": "VARCHAR",
    "null": "VARCHAR",
}
#: `SELECT value FROM json_each(?)` with a JSON array of text, as SQLite's json_each gives it.
JSON_EACH = (
    "CREATE OR REPLACE TEMP MACRO json_each(j) AS TABLE "
    "SELECT unnest(from_json(j, '[\"VARCHAR\"]')) AS value"
)
#: Named parameters: SQLite's `:name`, DuckDB's `$name` (not inside quoted text).
_NAMED = re.compile(r"('(?:[^']|'')*')|(?<![:\w]):([A-Za-z_]\w*)")
_USED = re.compile(r"\$([A-Za-z_]\w*)")
_INGEST_VIEW = "__medallion_rows"


def translate(sql: str) -> str:
    """The project's SQL as DuckDB reads it (named parameters)."""
    return _NAMED.sub(lambda m: m.group(1) or f"${m.group(2)}", sql)


class DuckDBConnection:
    """The slice of the sqlite3 / ADBC connection and cursor API the warehouse code uses, over a
    DuckDB connection."""

    def __init__(self, conn: duckdb.DuckDBPyConnection):
        self._conn = conn

    def execute(self, sql: str, params: Sequence | dict = ()):
        sql = translate(sql)
        if isinstance(params, dict):  # SQLite ignores named values the SQL does not use
            used = set(_USED.findall(sql))
            params = {k: v for k, v in params.items() if k in used}
        self._conn.execute(sql, params if params else None)
        return self

    def executemany(self, sql: str, rows):
        rows = list(rows)
        if rows:
            self._conn.executemany(translate(sql), rows)
        return self

    def cursor(self):
        return self

    def fetchone(self):
        return self._conn.fetchone()

    def fetchall(self):
        return self._conn.fetchall()

    def __iter__(self):
        return iter(self._conn.fetchall())

    @property
    def description(self):
        return self._conn.description

    @property
    def rowcount(self) -> int:
        return self._conn.rowcount

    def select_arrow(self, sql: str, params: Sequence = ()) -> pa.Table:
        """A query's result as one Arrow table (no intermediate copy)."""
        return self._conn.sql(translate(sql), params=list(params) or None).to_arrow_table()

    def adbc_ingest(self, table: str, data: pa.Table, mode: str = "append") -> None:
        """Append an Arrow table to `table` (columns matched by name), in the open transaction."""
        assert mode == "append"
        self._conn.register(_INGEST_VIEW, data)
        try:
            self._conn.execute(f"INSERT INTO {quote(table)} BY NAME SELECT * FROM {_INGEST_VIEW}")
        finally:
            self._conn.unregister(_INGEST_VIEW)


class DuckDBWarehouse(Warehouse):
    """The warehouse folder on DuckDB (`WAREHOUSE_BACKEND=duckdb`)."""

    BACKEND: ClassVar[str] = "duckdb"
    FILE_SUFFIX: ClassVar[str] = ".duckdb"
    BEGIN_WRITE: ClassVar[str] = "BEGIN TRANSACTION"

    def _resource(self, database: str) -> DuckDBResource:
        return DuckDBResource(database=database, connection_config={"integer_division": True})

    def _open(self, stack: ExitStack, database: str) -> duckdb.DuckDBPyConnection:
        """A connection from dagster-duckdb's resource; while another process holds the file,
        wait (the resource's own retries, then ours) up to `busy_timeout_seconds`."""
        deadline = time.monotonic() + self.busy_timeout_seconds
        while True:
            try:
                conn = stack.enter_context(self._resource(database).get_connection())
                stack.callback(conn.close)  # the resource closes only on success
                return conn
            except (duckdb.IOException, RuntimeError) as e:
                if time.monotonic() > deadline or "lock" not in str(e).lower():
                    raise WarehouseError(f"cannot open the DuckDB warehouse: {e}") from e
                time.sleep(0.2)

    def _attach(self, conn: duckdb.DuckDBPyConnection, layer: str) -> None:
        deadline = time.monotonic() + self.busy_timeout_seconds
        while True:
            try:
                conn.execute(f"ATTACH ? AS {quote(layer)}", [str(self.layer_file(layer))])
                return
            except duckdb.IOException as e:
                if time.monotonic() > deadline or "lock" not in str(e).lower():
                    raise WarehouseError(f"cannot open the DuckDB warehouse: {e}") from e
                time.sleep(0.2)

    @contextmanager
    def connect(self, layer: str | None = None) -> Iterator[DuckDBConnection]:
        """As `Warehouse.connect`: with `layer`, that layer is the default database (`main`);
        without, every layer is ATTACHed under its name."""
        Path(self.path).mkdir(parents=True, exist_ok=True)
        with ExitStack() as stack:
            conn = self._open(stack, str(self.layer_file(layer)) if layer else ":memory:")
            if not layer:
                for name in LAYERS:
                    self._attach(conn, name)
            conn.execute(JSON_EACH)
            conn.create_function(
                "medallion_strip",
                _strip,
                ["VARCHAR"],
                "VARCHAR",
                null_handling="special",
                side_effects=False,
            )
            yield DuckDBConnection(conn)

    @contextmanager
    def _columnar(self, layer: str):
        with self.connect(layer) as conn:
            yield conn

    # -- hooks ------------------------------------------------------------------------------------

    @staticmethod
    def sql_type(dtype: str) -> str:
        return DUCKDB_TYPES[family(dtype)]

    def _has_table(self, cur, name: str) -> bool:
        cur.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_catalog = current_database() "
            "AND table_schema = 'main' AND table_name = ?",
            (name,),
        )
        return bool(cur.fetchall())

    def _table_in(self, conn, schema: str, name: str) -> bool:
        return bool(
            conn.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_catalog = ? "
                "AND table_schema = 'main' AND table_name = ?",
                (schema, name),
            ).fetchone()
        )

    def _check_case_collision(self, cur, layer: str, table: str) -> None:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
            "current_database() AND lower(table_name) = lower(?) AND table_name != ?",
            (table, table),
        )
        clash = cur.fetchall()
        if clash:
            raise WarehouseError(
                f"{layer}.{table}: table names are case-insensitive and {clash[0][0]!r} exists"
            )

    def _create_index(self, cur, layer, table, columns) -> None:
        """No secondary indexes on DuckDB (module docstring)."""

    def _retype(self, cur, table: str, column: str, dtype: str) -> None:
        cur.execute(f"ALTER TABLE {quote(table)} ALTER {quote(column)} TYPE {self.sql_type(dtype)}")

    @staticmethod
    def is_missing_table(error: Exception) -> bool:
        return isinstance(error, duckdb.CatalogException) and "does not exist" in str(error)

    @staticmethod
    def _fetch_arrow(cur, sql: str, params: Sequence) -> pa.Table:
        return cur.select_arrow(sql, params)

    def _pin_types(self, dtypes: dict[str, str]) -> None:
        return None  # the result types are the table's
