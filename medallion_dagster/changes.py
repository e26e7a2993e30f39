"""Change logs of partitioned tables, and the all-history tables maintained from them.

A daily run must cost what a day costs, however long the history. So a table over all history
(gold's totals, silver's current state) is not recomputed from its source each day; it absorbs
what the day changed:

- A partitioned table written with a `changes_key` keeps a **change log** `<table>__delta` in its
  layer. Each write appends, tagged with the write's sequence number `_seq`, the rows it replaced
  (`_sign` -1) and the rows it wrote (+1), in the write's own transaction. `_medallion_logs`
  holds, per table, the last sequence number, the key columns and a *generation*: a new one
  whenever the log starts over (the table was created anew, its columns or key changed), so an
  incomplete log is never taken for a complete one.
- A table maintained from it (`SQLQuery(incremental_from=..., merge=Merge(...))`) records, in its
  own layer and in its own transaction, the generation and sequence number it has absorbed
  (`_medallion_watermarks`). A refresh applies exactly the changes after that, netted (a row
  replaced by an identical one cancels out: re-running unchanged data changes nothing and
  recomputes nothing), so any number of consumers, in any layer, each see every change once.
  Log rows every consumer has absorbed are then pruned (a separate transaction: a crash only
  delays the pruning).
- `Merge` says how a consumer absorbs changes without reading history: sums are added (replaced
  rows subtracted), minima and maxima combined, or the row greatest by some columns kept
  (`latest`). A key whose minimum, maximum or latest row was among the replaced rows — or every
  changed key, when no rule is given — is recomputed from that key's source rows alone.
- A consumer is built whole when it does not exist yet, when its definition (query, dtypes,
  merge) changed, or when its watermark is not of the source's current generation.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from medallion_dagster.sql import (
    IN_PARTITIONS,
    WarehouseError,
    column_list,
    fetchall,
    quote,
    result_columns,
)

LOGS = "_medallion_logs"
WATERMARKS = "_medallion_watermarks"
LOG_SUFFIX = "__delta"
MERGE_SUFFIX = "__merge"
SEQ, SIGN = "_seq", "_sign"
RECOMPUTE = "__medallion_recompute"


@dataclass(frozen=True)
class Merge:
    """How an unpartitioned table absorbs its source's changes (module docstring).

    `keys` are the table's key columns and must be the source's `changes_key`. Either aggregate
    roles — every other column is a `sums`, `mins` or `maxs` column of the same name in the
    source, and `count` (one of the sums, positive in every source row) says whether a key still
    has rows — or `latest`: the table holds, per key, the source row greatest by these columns
    (NULL smallest; its other columns copied as they are; rows tied on all of them may win
    either way, so make them a total order, e.g. end with a unique column). With neither, every
    changed key is recomputed with the query from that key's source rows."""

    keys: tuple[str, ...]
    sums: tuple[str, ...] = ()
    mins: tuple[str, ...] = ()
    maxs: tuple[str, ...] = ()
    count: str | None = None
    latest: tuple[str, ...] = ()

    @property
    def aggregate(self) -> bool:
        return bool(self.sums or self.mins or self.maxs)

    def definition(self) -> str:
        return json.dumps(asdict(self))

    def check(self, table: str, columns: Sequence[str], source_columns: Sequence[str]) -> None:
        """Refuse a merge that does not describe `table` (its columns) over the source's."""
        problem = None
        roles = [*self.keys, *self.sums, *self.mins, *self.maxs]
        if not self.keys:
            problem = "no key columns"
        elif self.aggregate and self.latest:
            problem = "aggregate roles and latest are exclusive"
        elif self.aggregate and (len(roles) != len(set(roles)) or set(roles) != set(columns)):
            problem = f"every column needs exactly one of the roles keys/sums/mins/maxs: {roles}"
        elif self.aggregate and self.count not in self.sums:
            problem = f"count must name one of the sums, not {self.count!r}"
        elif not set(self.keys) <= set(columns) or not set(self.latest) <= set(columns):
            problem = "keys and latest must be columns of the table"
        elif self.latest and len(set(self.latest) - set(self.keys)) == 0:
            problem = "latest needs at least one column besides the keys"
        if problem is None:
            needed = columns if (self.aggregate or self.latest) else self.keys
            missing = [c for c in needed if c not in source_columns]
            if missing:
                problem = f"columns {missing} are not in the source"
        if problem:
            raise WarehouseError(f"{table}: merge {self}: {problem}")


class ChangeLogs:
    """The change-log and merge half of `Warehouse` (a mixin: it uses the warehouse's hooks
    `_has_table`, `_table_in`, `_create_index`, `connect` and `BEGIN_WRITE`, so both backends
    share it)."""

    def _exists(self, cur, schema: str, name: str) -> bool:
        if schema == "main":
            return self._has_table(cur, name)
        return self._table_in(cur, schema, name)

    @staticmethod
    def _create_change_bookkeeping(cur, schema: str) -> None:
        s = quote(schema)
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {s}.{LOGS} (table_name TEXT PRIMARY KEY, "
            "generation TEXT NOT NULL, seq BIGINT NOT NULL, key_columns TEXT NOT NULL)"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {s}.{WATERMARKS} (consumer TEXT PRIMARY KEY, "
            "source TEXT NOT NULL, generation TEXT NOT NULL, seq BIGINT NOT NULL)"
        )

    def log_state(self, cur, schema: str, table: str) -> tuple[str, int, list[str]] | None:
        """(generation, last sequence number, key columns) of a table's change log, or None."""
        if not self._exists(cur, schema, LOGS):
            return None
        rows = fetchall(
            cur,
            f"SELECT generation, seq, key_columns FROM {quote(schema)}.{LOGS} WHERE table_name = ?",
            (table,),
        )
        return (rows[0][0], int(rows[0][1]), json.loads(rows[0][2])) if rows else None

    # -- producer: inside a partitioned write's transaction ---------------------------------------

    def _log_replaced(
        self,
        cur,
        schema: str,
        table: str,
        columns: Sequence[str],
        changes_key: Sequence[str],
        fresh: bool,
        replaced: str,
    ) -> int:
        """Before the write deletes its partitions (`replaced`: their keys as a JSON array):
        log their rows with sign -1 and return the write's sequence number. `fresh`: the table
        was created or re-typed by this write (the log starts over: consumers rebuild whole)."""
        if not changes_key or any(c not in columns for c in changes_key):
            raise WarehouseError(f"{table}: changes_key {list(changes_key)} must name columns")
        s = quote(schema)
        log = f"{s}.{quote(table + LOG_SUFFIX)}"
        state = self.log_state(cur, schema, table)
        shape = None
        if self._exists(cur, schema, table + LOG_SUFFIX):
            shape = result_columns(cur, f"SELECT * FROM {log} LIMIT 0")
        restart = (
            fresh
            or state is None
            or state[2] != list(changes_key)
            or shape != [SEQ, SIGN, *columns]
        )
        seq = (state[1] if state else 0) + 1
        generation = uuid.uuid4().hex if restart else state[0]
        cols = column_list(columns)
        if restart:
            cur.execute(f"DROP TABLE IF EXISTS {log}")
            cur.execute(
                f"CREATE TABLE {log} AS SELECT CAST(0 AS BIGINT) AS {SEQ}, "
                f"CAST(0 AS BIGINT) AS {SIGN}, {cols} FROM {s}.{quote(table)} WHERE 1 = 0"
            )
        cur.execute(
            f"INSERT INTO {s}.{LOGS} (table_name, generation, seq, key_columns) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (table_name) DO UPDATE SET "
            "generation = excluded.generation, seq = excluded.seq, "
            "key_columns = excluded.key_columns",
            (table, generation, seq, json.dumps(list(changes_key))),
        )
        if not fresh:
            cur.execute(
                f"INSERT INTO {log} SELECT {seq}, -1, {cols} FROM {s}.{quote(table)} "
                f"WHERE {IN_PARTITIONS}",
                (replaced,),
            )
        return seq

    @staticmethod
    def _log_written(
        cur,
        schema: str,
        table: str,
        columns: Sequence[str],
        changes_key: Sequence[str],
        seq: int,
        written: str,
    ) -> None:
        """After the write inserted its rows: refuse NULL keys, log the new rows with sign +1."""
        s = quote(schema)
        nulls = " OR ".join(f"{quote(c)} IS NULL" for c in changes_key)
        if fetchall(
            cur,
            f"SELECT 1 FROM {s}.{quote(table)} WHERE {IN_PARTITIONS} AND ({nulls}) LIMIT 1",
            (written,),
        ):
            raise WarehouseError(
                f"{table}: NULL in a changes_key column {list(changes_key)}; keys of tables "
                "that others are maintained from must not be NULL"
            )
        cur.execute(
            f"INSERT INTO {s}.{quote(table + LOG_SUFFIX)} SELECT {seq}, 1, {column_list(columns)} "
            f"FROM {s}.{quote(table)} WHERE {IN_PARTITIONS}",
            (written,),
        )

    # -- consumer: inside its write_query transaction (an all-layers connection) ------------------

    def _watermark(self, conn, layer: str, table: str) -> tuple[str, str, int] | None:
        if not self._table_in(conn, layer, WATERMARKS):
            return None
        row = conn.execute(
            f"SELECT source, generation, seq FROM {quote(layer)}.{WATERMARKS} WHERE consumer = ?",
            (table,),
        ).fetchone()
        return (row[0], row[1], int(row[2])) if row else None

    def _set_watermark(self, conn, layer, table, source, state) -> None:
        generation, seq = (state[0], state[1]) if state else ("", 0)
        conn.execute(
            f"INSERT INTO {quote(layer)}.{WATERMARKS} (consumer, source, generation, seq) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (consumer) DO UPDATE SET source = excluded.source, "
            "generation = excluded.generation, seq = excluded.seq",
            (table, source, generation, seq),
        )

    def _merge_changes(
        self,
        conn,
        layer: str,
        table: str,
        sql: str,
        columns: Sequence[str],
        merge: Merge,
        source: tuple[str, str],
        after_seq: int,
    ) -> None:
        """Absorb the source's changes after `after_seq` into `layer.table` (module docstring):
        the changed keys' merged rows are staged in `<table>__merge`, their stored rows
        replaced, and the keys that cannot be merged recomputed from their source rows."""
        target = f"{quote(layer)}.{quote(table)}"
        staged = f"{quote(layer)}.{quote(table + MERGE_SUFFIX)}"
        src = f"{quote(source[0])}.{quote(source[1])}"
        log = f"{quote(source[0])}.{quote(source[1] + LOG_SUFFIX)}"
        logged = column_list(
            [
                c
                for c in result_columns(conn, f"SELECT * FROM {log} LIMIT 0")
                if c not in (SEQ, SIGN)
            ]
        )
        # Net changes: a row replaced by an identical one (a re-run of unchanged data) cancels
        # out, so it neither costs a recomputation nor moves anything; a row logged k times more
        # often written than replaced counts k times (`_sign` = k).
        delta = (
            f"(SELECT {logged}, sum({SIGN}) AS {SIGN} FROM {log} WHERE {SEQ} > {int(after_seq)} "
            f"GROUP BY {logged} HAVING sum({SIGN}) <> 0)"
        )
        k = column_list(merge.keys)
        conn.execute(f"DROP TABLE IF EXISTS {staged}")
        conn.execute(f"CREATE TABLE {staged} AS {merged_rows(columns, merge, target, delta)}")
        conn.execute(f"DELETE FROM {target} WHERE ({k}) IN (SELECT {k} FROM {staged})")
        cols = column_list(columns)
        if merge.aggregate or merge.latest:  # else every changed key is recomputed
            keep = f"{RECOMPUTE} = 0" + (f" AND {quote(merge.count)} > 0" if merge.count else "")
            conn.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {staged} WHERE {keep}")
        rows = (
            f"(SELECT * FROM {src} WHERE ({k}) IN (SELECT {k} FROM {staged} WHERE {RECOMPUTE} = 1))"
        )
        conn.execute(
            f"INSERT INTO {target} ({cols}) SELECT * FROM ({sql.replace('{source}', rows)})"
        )
        conn.execute(f"DROP TABLE {staged}")

    def _prune_log(self, conn, source: tuple[str, str], layers: Sequence[str]) -> None:
        """Delete the log rows every consumer of the current generation has absorbed (all of
        them when no consumer follows this generation: a new consumer starts with a whole build).
        Its own transaction, after the consumer's commit."""
        src_layer, src_table = source
        state = self.log_state(conn, src_layer, src_table)
        log = f"{quote(src_layer)}.{quote(src_table + LOG_SUFFIX)}"
        if state is None or not self._table_in(conn, src_layer, src_table + LOG_SUFFIX):
            return
        name = f"{src_layer}.{src_table}"
        seqs = [
            int(seq)
            for layer in layers
            if self._table_in(conn, layer, WATERMARKS)
            for generation, seq in conn.execute(
                f"SELECT generation, seq FROM {quote(layer)}.{WATERMARKS} WHERE source = ?",
                (name,),
            ).fetchall()
            if generation == state[0]
        ]
        upto = min(seqs) if seqs else state[1]
        if not conn.execute(f"SELECT 1 FROM {log} WHERE {SEQ} <= ? LIMIT 1", (upto,)).fetchone():
            return
        conn.execute(self.BEGIN_WRITE)
        try:
            conn.execute(f"DELETE FROM {log} WHERE {SEQ} <= ?", (upto,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def merged_rows(columns: Sequence[str], merge: Merge, target: str, delta: str) -> str:
    """SQL: per changed key, the merged row and whether the key must be recomputed instead
    (`__medallion_recompute` = 1)."""
    k = column_list(merge.keys)
    cols = column_list(columns)
    stored = f"SELECT {{select}} FROM {target} WHERE ({k}) IN (SELECT {k} FROM {delta} AS d)"
    if merge.latest:
        order = ", ".join(f"{quote(c)} DESC NULLS LAST" for c in merge.latest)
        # ties between a removed row and a present one rank the removed first: recompute
        return (
            f"SELECT {cols}, CASE WHEN __medallion_tag = 2 THEN 1 ELSE 0 END AS {RECOMPUTE} "
            f"FROM (SELECT *, row_number() OVER (PARTITION BY {k} ORDER BY {order}, "
            "__medallion_tag DESC) AS __medallion_rank FROM ("
            + stored.format(select=f"{cols}, 1 AS __medallion_tag")
            + f" UNION ALL SELECT {cols}, CASE WHEN {SIGN} > 0 THEN 1 ELSE 2 END FROM {delta} AS d"
            ") AS c) AS r WHERE __medallion_rank = 1"
        )
    if not merge.aggregate:  # every changed key is recomputed
        return f"SELECT DISTINCT {k}, 1 AS {RECOMPUTE} FROM {delta} AS d"
    extremes = [*merge.mins, *merge.maxs]
    gone = [quote(c + "__gone") for c in extremes]
    from_stored = [*(quote(c) for c in columns), *(f"NULL AS {g}" for g in gone)]
    from_delta = [
        f"{SIGN} * {quote(c)}"
        if c in merge.sums
        else f"CASE WHEN {SIGN} > 0 THEN {quote(c)} END"
        if c in extremes
        else quote(c)
        for c in columns
    ] + [f"CASE WHEN {SIGN} < 0 THEN {quote(c)} END" for c in extremes]
    select = [
        quote(c)
        if c in merge.keys
        else f"{'sum' if c in merge.sums else 'min' if c in merge.mins else 'max'}({quote(c)}) "
        f"AS {quote(c)}"
        for c in columns
    ]
    # an extreme that a removed row held (or tied) may have moved to a row not in the delta
    recompute = [
        f"(min({g}) IS NOT NULL AND (min({quote(c)}) IS NULL OR min({g}) <= min({quote(c)})))"
        for c, g in zip(merge.mins, gone[: len(merge.mins)], strict=True)
    ] + [
        f"(max({g}) IS NOT NULL AND (max({quote(c)}) IS NULL OR max({g}) >= max({quote(c)})))"
        for c, g in zip(merge.maxs, gone[len(merge.mins) :], strict=True)
    ]
    return (
        f"SELECT {', '.join(select)}, CASE WHEN {' OR '.join(recompute) or '1 = 0'} THEN 1 "
        f"ELSE 0 END AS {RECOMPUTE} FROM ("
        + stored.format(select=", ".join(from_stored))
        + f" UNION ALL SELECT {', '.join(from_delta)} FROM {delta} AS d) AS c GROUP BY {k}"
    )
