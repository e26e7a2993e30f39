"""The project's IO manager: every asset is a table in the SQLite warehouse.

Asset key `["silver", "transactions"]` is table `transactions` in layer `silver` (`silver.db`). A
partitioned asset writes only its partitions' rows (delete + insert in one transaction); a
downstream asset loads exactly the upstream partitions Dagster maps to it, or the whole table.
"""

import dagster as dg
import pandas as pd

from medallion_dagster.masking import mask
from medallion_dagster.table_types import PartitionChunks, PartitionedTable, SQLQuery
from medallion_dagster.warehouse import LAYERS, PARTITION_COLUMN, Warehouse, WarehouseError, quote

PREVIEW_ROWS = 5


def table_for(asset_key: dg.AssetKey) -> tuple[str, str]:
    """(layer, table) of an asset key: first part is the layer, last part the table."""
    path = asset_key.path
    if len(path) < 2 or path[0] not in LAYERS:
        raise WarehouseError(
            f"asset key {asset_key.to_user_string()} must start with a layer {LAYERS}"
        )
    return path[0], "__".join(path[1:])


def column_schema(dtypes: dict[str, str], descriptions: dict[str, str]) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=c, type=d, description=descriptions.get(c))
            for c, d in dtypes.items()
        ]
    )


def markdown_preview(df: pd.DataFrame, rows: int = PREVIEW_ROWS) -> str:
    """A small markdown table of the first rows (no extra dependency)."""
    head = df.head(rows)

    def cell(v) -> str:
        text = "" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= 60 else text[:59] + "…"

    lines = [
        "| " + " | ".join(cell(str(c)) for c in head.columns) + " |",
        "|" + "---|" * len(head.columns),
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in head.itertuples(False)]
    return "\n".join(lines)


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores pandas DataFrames, `SQLQuery` results and `PartitionChunks` streams as warehouse
    tables; loads DataFrames, or a lazy `PartitionedTable`. See `docs/ARCHITECTURE.md`.
    The backend is the warehouse's (SQLite by default, or DuckDB): nothing here depends on it."""

    warehouse: Warehouse

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        if obj is None:
            return
        layer, table = table_for(context.asset_key)
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else None
        definition = context.definition_metadata or {}
        indexes = list(definition.get("medallion/indexes") or [])
        changes_key = list(definition.get("medallion/changes_key") or [])
        extra: dict[str, object] = {}
        if isinstance(obj, pd.DataFrame):
            written = self.warehouse.write(
                layer, table, obj, keys, indexes=indexes, changes_key=changes_key
            )
            preview = obj.head(PREVIEW_ROWS)
        elif isinstance(obj, SQLQuery):
            written = self.warehouse.write_query(
                layer,
                table,
                obj.sql,
                obj.dtypes,
                keys,
                indexes=[*indexes, *obj.indexes],
                changes_key=obj.changes_key or changes_key,
                incremental_from=obj.incremental_from,
                merge=obj.merge,
            )
            preview = self._head(layer, table)
            for name, sql in obj.previews.items():
                rows = self.warehouse.query(sql.replace("{table}", f"{layer}.{quote(table)}"))
                extra[name] = dg.MetadataValue.md(markdown_preview(mask(rows), len(rows)))
        elif isinstance(obj, PartitionChunks):
            if keys is None:
                raise WarehouseError(f"{layer}.{table}: a chunk stream needs a partitioned asset")
            written, preview = self._write_chunks(layer, table, obj, keys, indexes, changes_key)
            extra |= obj.metadata
        else:
            raise WarehouseError(
                f"{context.asset_key.to_user_string()} returned {type(obj).__name__}; the "
                "warehouse IO manager stores pandas DataFrames, SQLQuery and PartitionChunks"
            )
        dtypes = self.warehouse.columns(layer, table)
        schema = definition.get("dagster/column_schema")
        descriptions = {
            PARTITION_COLUMN: "Daily partition: the batch date (dt= of the landing key)",
            **({c.name: c.description for c in schema.columns if c.description} if schema else {}),
        }
        metadata: dict[str, object] = {
            "dagster/table_name": f"{layer}.{table}",
            "dagster/column_schema": column_schema(dtypes, descriptions),
            "preview": dg.MetadataValue.md(markdown_preview(mask(preview))),
            **extra,
        }
        if keys is None:
            metadata["dagster/row_count"] = written
        else:
            # Dagster attaches this metadata to every partition of the run: a per-partition count
            # is only true when the run wrote one partition.
            if len(keys) == 1:
                metadata["dagster/partition_row_count"] = written
            else:
                metadata["rows_written"] = written
            metadata["dagster/row_count"] = self.warehouse.row_count(layer, table)
        context.add_output_metadata(metadata)

    def _head(self, layer: str, table: str) -> pd.DataFrame:
        return self.warehouse.query(
            f"SELECT * FROM {quote(layer)}.{quote(table)} LIMIT {PREVIEW_ROWS}"
        )

    def _write_chunks(
        self,
        layer: str,
        table: str,
        chunks: PartitionChunks,
        keys: list[str],
        indexes: list[str],
        changes_key: list[str],
    ) -> tuple[int, pd.DataFrame]:
        """Each chunk replaces its partitions in its own transaction, in order; the stream must
        cover every partition of the run exactly once. The first chunk's transaction also
        empties the run's other partitions, so no commit ever shows a later partition's old rows
        beside new ones (a failed stream leaves them empty, never stale: silver can then not
        hold an id twice)."""
        expected, covered = set(keys), set()
        written, preview = 0, None
        for chunk in chunks:
            outside = set(chunk.partition_keys) - expected
            again = set(chunk.partition_keys) & covered
            if outside or again:
                raise WarehouseError(
                    f"{layer}.{table}: a chunk for partitions {sorted(outside | again)[:5]} "
                    "outside this run's partitions or written twice"
                )
            clear = [k for k in keys if k not in chunk.partition_keys] if not covered else []
            covered |= set(chunk.partition_keys)
            written += self.warehouse.write(
                layer,
                table,
                chunk.frame,
                chunk.partition_keys,
                indexes=indexes,
                clear=clear,
                changes_key=changes_key,
            )
            if preview is None or preview.empty:
                preview = chunk.frame.head(PREVIEW_ROWS)
        if covered != expected:
            missing = sorted(expected - covered)
            raise WarehouseError(
                f"{layer}.{table}: the chunks left {len(missing)} partition(s) unwritten "
                f"({missing[:5]}); the partitions written so far keep their new rows"
            )
        return written, preview if preview is not None else pd.DataFrame()

    def load_input(self, context: dg.InputContext):
        layer, table = table_for(context.asset_key)
        keys = None
        if context.has_asset_partitions:
            keys = list(context.asset_partition_keys)
            if _wants(context, PartitionedTable):
                return PartitionedTable(self.warehouse, layer, table, keys)
            partitions = context.asset_partitions_def
            # Every partition of a time-partitioned asset: read the whole table. (Other kinds,
            # e.g. dynamic partitions, need the instance to enumerate; read the keys asked for.)
            if isinstance(partitions, dg.TimeWindowPartitionsDefinition) and set(keys) >= set(
                partitions.get_partition_keys()
            ):
                keys = None
        return self.warehouse.read(layer, table, keys)


def _wants(context: dg.InputContext, kind: type) -> bool:
    typing_type = getattr(context.dagster_type, "typing_type", None)
    return isinstance(typing_type, type) and issubclass(typing_type, kind)


#: The name this IO manager had when SQLite was the only backend.
SQLiteIOManager = WarehouseIOManager
