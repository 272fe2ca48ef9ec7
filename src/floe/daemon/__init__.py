"""Keeping Dagster's daemon running: supervision (mode single) and leader election (mode ha)."""
