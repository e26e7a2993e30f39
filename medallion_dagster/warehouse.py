"""The SQLite warehouse: one database file per layer, tables with their pandas dtypes recorded.

Layout: `<dir>/bronze.db`, `<dir>/silver.db`, `<dir>/gold.db`. Opening them together (ATTACH) gives
`bronze.transactions`, `silver.transactions`, `gold.daily_revenue`, ... as in a schema-ful database.

Every table has a row per column in the layer's `_medallion_columns` registry (its pandas dtype), so
a table round-trips to the same dtypes in any process. Values are stored in SQLite's own classes:
integers and booleans as INTEGER, floats as REAL, text as TEXT, timestamps as fixed-width ISO-8601
text in UTC (`2026-12-03T14:07:00.000000Z`: readable in the sqlite3 shell, sortable as text), dates
as `YYYY-MM-DD`. Partitioned tables carry a `_partition` TEXT column: the daily partition key.
"""

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from medallion_dagster.settings import DEFAULT_WAREHOUSE_DIR

LAYERS: tuple[str, ...] = ("bronze", "silver", "gold")
PARTITION_COLUMN = "_partition"
REGISTRY = "_medallion_columns"


class WarehouseError(Exception):
    """A table operation that cannot be done; the table is left as it was."""


class SchemaMismatchError(WarehouseError):
    """An asset produced a column whose dtype is incompatible with the stored table."""


class TableNotFoundError(WarehouseError, LookupError):
    """The table has not been materialized yet."""


def quote(name: str) -> str:
    """Quote an SQL identifier (table or column name); values are never formatted into SQL."""
    if "\x00" in name:
        raise WarehouseError(f"identifier {name!r} contains a NUL byte")
    return '"' + name.replace('"', '""') + '"'


# --- dtype codec ---------------------------------------------------------------------------------

_FAMILIES = {
    "int": "INTEGER",
    "bool": "INTEGER",
    "float": "REAL",
    "text": "TEXT",
    "datetime_tz": "TEXT",
    "datetime": "TEXT",
    "date": "TEXT",
    "null": "",  # no values seen yet: no type affinity, so any later type is stored as given
}


def dtype_key(series: pd.Series) -> str:
    """The dtype recorded for a column: pandas' own name, or `date` for datetime.date objects."""
    dt = series.dtype
    if isinstance(dt, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dt):
        return str(dt)
    if pd.api.types.is_bool_dtype(dt) or pd.api.types.is_numeric_dtype(dt):
        return str(dt)
    if isinstance(dt, pd.StringDtype):
        return str(dt)  # "str" (NaN-missing, pandas' default) or "string" (NA-missing)
    if pd.api.types.is_object_dtype(dt):
        values = series.dropna()
        if values.empty:
            return "null"  # an empty frame or an all-NULL column: the type is not known yet
        if values.map(type).eq(str).all():
            return "object"
        if values.map(lambda v: isinstance(v, date) and not isinstance(v, pd.Timestamp)).all():
            return "date"
    raise WarehouseError(
        f"column {series.name!r} has dtype {dt} with values of type "
        f"{sorted({type(v).__name__ for v in series.dropna()})}: not storable (use str, a number, "
        "bool, datetime64 or datetime.date)"
    )


def family(dtype: str) -> str:
    if dtype.startswith("datetime64"):
        return "datetime_tz" if "," in dtype else "datetime"
    if dtype == "date":
        return "date"
    if dtype == "null":
        return "null"
    if dtype in ("bool", "boolean"):
        return "bool"
    if dtype in ("str", "string", "object"):
        return "text"
    d = pd.api.types.pandas_dtype(dtype)
    if pd.api.types.is_integer_dtype(d):
        return "int"
    if pd.api.types.is_float_dtype(d):
        return "float"
    raise WarehouseError(f"unsupported dtype {dtype}")


def _is_all_null(series: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(series.dtype) and bool(series.isna().all())


def encode(series: pd.Series, dtype: str) -> list:
    """Column values as SQLite-native Python values (None for missing)."""
    fam = family(dtype)
    mask = series.isna().to_numpy()
    if fam in ("int", "bool"):
        values = series.to_numpy(dtype="int64", na_value=0).tolist()
    elif fam == "float":
        values = series.to_numpy(dtype="float64", na_value=np.nan).tolist()
    elif fam in ("datetime_tz", "datetime"):
        s = series.dt.tz_convert("UTC").dt.tz_localize(None) if fam == "datetime_tz" else series
        unit = np.datetime_data(s.to_numpy().dtype)[0]
        text = np.datetime_as_string(s.to_numpy(), unit="us" if unit == "s" else unit)
        values = [v + "Z" for v in text.tolist()] if fam == "datetime_tz" else text.tolist()
    elif fam == "date":
        values = [None if m else v.isoformat() for v, m in zip(series.tolist(), mask, strict=True)]
    else:
        values = series.to_numpy(dtype=object, na_value=None).tolist()
    if mask.any():
        values = [None if m else v for v, m in zip(values, mask, strict=True)]
    return values


def decode(values: Sequence, dtype: str) -> pd.Series:
    fam = family(dtype)
    has_null = any(v is None for v in values)
    if fam == "int":
        arr = pd.array(values, dtype="Int64")
        target = "Int64" if has_null and dtype[0].islower() else dtype
        return pd.Series(arr).astype(target)
    if fam == "bool":
        arr = pd.array([None if v is None else bool(v) for v in values], dtype="boolean")
        return pd.Series(arr).astype("boolean" if has_null else dtype)
    if fam == "float":
        return pd.Series(
            np.array([np.nan if v is None else v for v in values], dtype="float64")
        ).astype(dtype)
    if fam == "datetime_tz":
        s = pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")
        return s.astype(dtype)
    if fam == "datetime":
        return pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601").astype(dtype)
    if fam == "date":
        return pd.Series(
            [None if v is None else date.fromisoformat(v) for v in values], dtype=object
        )
    if fam == "null":
        return pd.Series([None] * len(values), dtype=object)
    return pd.Series(values, dtype=object).astype(dtype)


# --- the warehouse -------------------------------------------------------------------------------


class Warehouse(dg.ConfigurableResource):
    """The SQLite warehouse folder. Used by the IO manager and by assets that query SQL directly."""

    path: str = DEFAULT_WAREHOUSE_DIR
    busy_timeout_seconds: float = 60.0

    def layer_file(self, layer: str) -> Path:
        if layer not in LAYERS:
            raise WarehouseError(f"unknown layer {layer!r}; layers are {LAYERS}")
        return Path(self.path) / f"{layer}.db"

    @contextmanager
    def connect(self, layer: str | None = None) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode. With `layer`, that layer is `main`; without, every
        layer is ATTACHed under its name (`SELECT * FROM gold.daily_revenue`)."""
        Path(self.path).mkdir(parents=True, exist_ok=True)
        target = str(self.layer_file(layer)) if layer else ":memory:"
        conn = sqlite3.connect(target, timeout=self.busy_timeout_seconds, isolation_level=None)
        try:
            if layer:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            else:
                for name in LAYERS:
                    conn.execute(
                        "ATTACH DATABASE ? AS " + quote(name), (str(self.layer_file(name)),)
                    )
                    conn.execute(f"PRAGMA {quote(name)}.journal_mode=WAL")
            yield conn
        finally:
            conn.close()

    # -- schema registry --------------------------------------------------------------------------

    @staticmethod
    def _ensure_registry(conn: sqlite3.Connection) -> None:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {REGISTRY} (table_name TEXT NOT NULL, "
            "position INTEGER NOT NULL, column_name TEXT NOT NULL, dtype TEXT NOT NULL, "
            "PRIMARY KEY (table_name, column_name))"
        )

    @staticmethod
    def _registered(conn: sqlite3.Connection, table: str) -> dict[str, str]:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (REGISTRY,)
        ).fetchone()
        if not exists:
            return {}
        rows = conn.execute(
            f"SELECT column_name, dtype FROM {REGISTRY} WHERE table_name=? ORDER BY position",
            (table,),
        ).fetchall()
        return dict(rows)

    def columns(self, layer: str, table: str) -> dict[str, str]:
        """Column name -> pandas dtype of a stored table ({} if it does not exist)."""
        with self.connect(layer) as conn:
            return self._registered(conn, table)

    def table_exists(self, layer: str, table: str) -> bool:
        return bool(self.columns(layer, table))

    # -- write ------------------------------------------------------------------------------------

    def write(
        self,
        layer: str,
        table: str,
        df: pd.DataFrame,
        partition_keys: Sequence[str] | None = None,
        indexes: Sequence[str] = (),
    ) -> int:
        """Replace a table (or, with `partition_keys`, exactly those partitions) by `df`, in one
        transaction: on any error the previous rows stay. Returns the rows written.
        `indexes` names columns to index (created once, with the table or the column)."""
        df = self._with_partition(table, df, partition_keys)
        new_dtypes = {str(c): dtype_key(df[c]) for c in df.columns}
        if len(set(new_dtypes)) != len(df.columns):
            raise WarehouseError(f"{layer}.{table}: duplicate column names {list(df.columns)}")
        columns_values = [encode(df[c], new_dtypes[str(c)]) for c in df.columns]
        rows = list(zip(*columns_values, strict=True)) if len(df.columns) else []
        with self.connect(layer) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._ensure_registry(conn)
                old = self._registered(conn, table)
                dtypes = self._evolve(conn, layer, table, old, new_dtypes, df, partition_keys)
                for column in indexes:
                    conn.execute(
                        f"CREATE INDEX IF NOT EXISTS {quote(table + '__' + column)} "
                        f"ON {quote(table)} ({quote(column)})"
                    )
                if partition_keys is None:
                    conn.execute(f"DELETE FROM {quote(table)}")
                else:
                    marks = ",".join("?" * len(partition_keys))
                    conn.execute(
                        f"DELETE FROM {quote(table)} WHERE {quote(PARTITION_COLUMN)} IN ({marks})",
                        list(partition_keys),
                    )
                if rows:
                    cols = ", ".join(quote(str(c)) for c in df.columns)
                    marks = ", ".join("?" * len(df.columns))
                    conn.executemany(f"INSERT INTO {quote(table)} ({cols}) VALUES ({marks})", rows)
                conn.executemany(
                    f"INSERT OR REPLACE INTO {REGISTRY} VALUES (?, ?, ?, ?)",
                    [(table, i, name, dtype) for i, (name, dtype) in enumerate(dtypes.items())],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return len(rows)

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
        return df.assign(
            **{PARTITION_COLUMN: pd.Series([partition_keys[0]] * len(df), dtype="str")}
        )

    def _evolve(self, conn, layer, table, old, new, df, partition_keys) -> dict[str, str]:
        """Create the table or add new columns; refuse incompatible dtype changes."""
        if not old:
            cols = ", ".join(f"{quote(c)} {_FAMILIES[family(d)]}" for c, d in new.items())
            conn.execute(f"CREATE TABLE {quote(table)} ({cols})")
            if partition_keys is not None:
                conn.execute(
                    f"CREATE INDEX {quote(table + '__partition')} ON {quote(table)} "
                    f"({quote(PARTITION_COLUMN)})"
                )
            return dict(new)
        was_partitioned = PARTITION_COLUMN in old
        if was_partitioned != (partition_keys is not None):
            raise WarehouseError(
                f"{layer}.{table} is {'' if was_partitioned else 'not '}partitioned; this write "
                f"is {'' if partition_keys is not None else 'not '}partitioned"
            )
        merged = dict(old)
        for column, dtype in new.items():
            if column not in old:
                conn.execute(
                    f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column)} "
                    f"{_FAMILIES[family(dtype)]}"
                )
                merged[column] = dtype
            elif family(old[column]) == "null":
                merged[column] = dtype  # first values for a column that had only NULLs
            elif family(old[column]) != family(dtype) and not _is_all_null(df[column]):
                raise SchemaMismatchError(
                    f"table {layer}.{table}: column {column!r} is stored as {old[column]} but the "
                    f"asset now produces {dtype}; the table was left unchanged"
                )
            elif not _is_all_null(df[column]):
                merged[column] = dtype
        return merged

    # -- read -------------------------------------------------------------------------------------

    def read(
        self,
        layer: str,
        table: str,
        partition_keys: Sequence[str] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Load a table, or only the given partitions, with the dtypes it was written with."""
        with self.connect(layer) as conn:
            dtypes = self._registered(conn, table)
            if not dtypes:
                raise TableNotFoundError(f"{layer}.{table} has not been materialized yet")
            if columns is not None:
                missing = [c for c in columns if c not in dtypes]
                if missing:
                    raise WarehouseError(f"{layer}.{table} has no column(s) {missing}")
                dtypes = {c: dtypes[c] for c in columns}
            sql = f"SELECT {', '.join(quote(c) for c in dtypes)} FROM {quote(table)}"
            params: list[str] = []
            if partition_keys is not None:
                if PARTITION_COLUMN not in self._registered(conn, table):
                    raise WarehouseError(f"{layer}.{table} is not partitioned")
                params = list(partition_keys)
                sql += f" WHERE {quote(PARTITION_COLUMN)} IN ({','.join('?' * len(params))})"
            rows = conn.execute(sql + " ORDER BY rowid", params).fetchall()
        values = list(zip(*rows, strict=True)) if rows else [()] * len(dtypes)
        return pd.DataFrame(
            {c: decode(list(v), d) for (c, d), v in zip(dtypes.items(), values, strict=True)}
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
                return conn.execute(sql).fetchone()[0]
            marks = ",".join("?" * len(partition_keys))
            return conn.execute(
                sql + f" WHERE {quote(PARTITION_COLUMN)} IN ({marks})", list(partition_keys)
            ).fetchone()[0]
