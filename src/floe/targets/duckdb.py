"""Embedded DuckDB, the default compute target."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from floe.spec.platform import DuckDBCompute

ADAPTER_MODULE = "dbt.adapters.duckdb"
EXTRA: str | None = None  # part of the base install

PROJECT_DIR_REFERENCE = "{{ env_var('FLOE_PROJECT_DIR') }}"


def database_path(compute: DuckDBCompute) -> str:
    """The path dbt opens: absolute as written, else under the project dir known at run time."""
    if PurePosixPath(compute.path).is_absolute():
        return compute.path
    return f"{PROJECT_DIR_REFERENCE}/{compute.path}"


def profile_output(compute: DuckDBCompute) -> dict[str, Any]:
    """dbt-duckdb profile output."""
    output: dict[str, Any] = {"type": "duckdb", "path": database_path(compute), "threads": compute.threads}
    if compute.memory_limit:
        output["settings"] = {"memory_limit": compute.memory_limit}
    return output


def count_rows(compute: DuckDBCompute, project_root: Path, relations: list[str]) -> dict[str, int]:
    """Count rows of dbt relations (already quoted by dbt) in the database file, read-only."""
    import duckdb

    path = Path(compute.path) if Path(compute.path).is_absolute() else project_root / compute.path
    counts: dict[str, int] = {}
    with duckdb.connect(str(path), read_only=True) as connection:
        for relation in relations:
            row = connection.execute(f"select count(*) from {relation}").fetchone()
            if row is not None:
                counts[relation] = int(row[0])
    return counts
