"""Collector Lambda: generates (demo) or collects data and lands it in the landing zone."""
