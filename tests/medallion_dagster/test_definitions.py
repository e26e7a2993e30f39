import tomllib
from datetime import UTC
from pathlib import Path

import yaml

from medallion_dagster.definitions import defs
from medallion_dagster.partitions import daily_partitions

ROOT = Path(__file__).resolve().parents[2]


def test_three_groups_with_every_table():
    groups = {}
    for spec in defs.resolve_all_asset_specs():
        groups.setdefault(spec.group_name, set()).add(spec.key.to_user_string())
    assert groups == {
        "bronze": {"bronze/customers", "bronze/transaction_types", "bronze/transactions"},
        "silver": {
            "silver/customer_updates",
            "silver/customers",
            "silver/customers_quarantine",
            "silver/transaction_types",
            "silver/transaction_types_quarantine",
            "silver/transactions",
            "silver/transactions_quarantine",
        },
        "gold": {
            "gold/customer_summary",
            "gold/customer_totals",
            "gold/customer_totals_partials",
            "gold/daily_revenue",
            "gold/daily_revenue_partials",
            "gold/quarantine_summary",
        },
    }


def test_lineage_bronze_to_silver_to_gold():
    graph = defs.resolve_asset_graph()
    from dagster import AssetKey

    parents = graph.get(AssetKey(["gold", "customer_summary"])).parent_keys
    assert parents == {AssetKey(["gold", "customer_totals"]), AssetKey(["silver", "customers"])}
    for name in ("daily_revenue", "customer_totals"):
        assert graph.get(AssetKey(["gold", name])).parent_keys == {
            AssetKey(["gold", f"{name}_partials"])
        }
        assert graph.get(AssetKey(["gold", f"{name}_partials"])).parent_keys == {
            AssetKey(["silver", "transactions"])
        }
    assert graph.get(AssetKey(["silver", "transactions"])).parent_keys == {
        AssetKey(["bronze", "transactions"])
    }
    assert graph.get(AssetKey(["silver", "customers"])).parent_keys == {
        AssetKey(["silver", "customer_updates"])
    }
    assert graph.get(AssetKey(["silver", "customer_updates"])).parent_keys == {
        AssetKey(["bronze", "customers"])
    }


def test_job_sensor_schedule_are_defined():
    job = defs.resolve_job_def("medallion_daily")
    assert job.partitions_def == daily_partitions
    assert defs.resolve_sensor_def("landing_sensor").job_name == "medallion_daily"
    assert defs.resolve_schedule_def("medallion_daily_schedule").job_name == "medallion_daily"


def test_partitions_are_daily_utc_and_include_today():
    from datetime import datetime

    assert daily_partitions.timezone == "UTC"
    today = datetime.now(UTC).date().isoformat()
    assert daily_partitions.get_last_partition_key() == today


def test_dagster_dev_finds_the_code_location():
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    module = workspace["load_from"][0]["python_module"]["module_name"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert module == pyproject["tool"]["dagster"]["module_name"] == "medallion_dagster.definitions"


def test_every_asset_backfills_in_one_run():
    """A partition range (the CLI's, a rebuild's) runs as one run only if every asset says so."""
    from dagster import BackfillPolicy

    graph = defs.resolve_asset_graph()
    policies = {
        key.to_user_string(): graph.get(key).backfill_policy
        for key in graph.materializable_asset_keys
    }
    assert policies and all(p == BackfillPolicy.single_run() for p in policies.values()), policies
