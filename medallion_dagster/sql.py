"""What every warehouse module shares: its errors, identifier quoting, and statement helpers.

Identifiers are always quoted with `quote`; values are always bound parameters, never formatted
into SQL. Partition keys are bound as one JSON-array parameter (`IN_PARTITIONS`).
"""

import json
from collections.abc import Sequence

PARTITION_COLUMN = "_partition"


class WarehouseError(Exception):
    """A table operation that cannot be done; the table is left as it was."""


class SchemaMismatchError(WarehouseError):
    """An asset produced a column whose dtype is incompatible with the stored table."""


class TableNotFoundError(WarehouseError, LookupError):
    """The table has not been materialized yet."""


def strip(value):
    """Python's str.strip() (every Unicode space), as the SQL function `medallion_strip`."""
    return value.strip() if isinstance(value, str) else value


def quote(name: str) -> str:
    """Quote an SQL identifier (table or column name); values are never formatted into SQL."""
    if "\x00" in name:
        raise WarehouseError(f"identifier {name!r} contains a NUL byte")
    return '"' + name.replace('"', '""') + '"'


def column_list(names: Sequence[str]) -> str:
    return ", ".join(quote(n) for n in names)


#: Partition keys are bound as one JSON array parameter: any number of keys, one placeholder,
#: and SQLite still uses the `_partition` index for `IN (SELECT value FROM json_each(?))`.
IN_PARTITIONS = f"{quote(PARTITION_COLUMN)} IN (SELECT value FROM json_each(?))"


def keys_param(partition_keys: Sequence[str]) -> str:
    return json.dumps(list(partition_keys))


def fetchall(cur, sql: str, params: Sequence = ()) -> list:
    """Rows of a statement on a stdlib connection or cursor, or an ADBC cursor (whose execute
    returns nothing), or the DuckDB connection wrapper."""
    result = cur.execute(sql, params)
    return (result if result is not None else cur).fetchall()


def result_columns(cur, sql: str, params: Sequence = ()) -> list[str]:
    """The column names a statement returns (run with `LIMIT 0` by the caller)."""
    result = cur.execute(sql, params)
    target = result if result is not None else cur
    names = [d[0] for d in target.description]
    target.fetchall()
    return names
