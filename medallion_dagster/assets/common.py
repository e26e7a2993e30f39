"""What every asset shows in the Dagster UI besides its data: owners, tags, column docs."""

import warnings

import dagster as dg

from lambda_src.contract import COLUMN_DESCRIPTIONS

#: Every asset runs a range of partitions in one run — a week's backfill from the UI or the CLI
#: (`dagster asset materialize --partition-range`) is one run, not seven: per-run overhead is paid
#: once, bronze and silver read and write the range in one transaction each, and gold (which
#: spans all days) is refreshed once instead of after every day.
SINGLE_RUN = dg.BackfillPolicy.single_run()
# `backfill_policy=` is marked beta; we rely on it deliberately (above): say so once, here.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)

#: Who answers for the pipeline's tables (Dagster owners: a team or an email).
OWNERS = ["team:data-platform"]


def layer_tags(layer: str) -> dict[str, str]:
    return {"layer": layer, "domain": "payments"}


def schema(columns: dict[str, str]) -> dg.TableSchema:
    """Definition-time column docs. The type is left empty (Dagster would say "string" for every
    column): the IO manager records the stored types with every materialization."""
    return dg.TableSchema(
        columns=[dg.TableColumn(c, type="", description=d) for c, d in columns.items()]
    )


def landing_columns(names, **overrides: str) -> dict[str, str]:
    """Descriptions of contract columns, with the layer's own wording where it differs."""
    return {n: overrides.get(n, COLUMN_DESCRIPTIONS[n]) for n in names}
