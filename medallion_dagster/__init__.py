"""Medallion (bronze -> silver -> gold) pipeline: the Dagster code location."""
