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


EXTENSION_DIR = ".floe/duckdb_extensions"
"""DuckDB extension directory, relative to the project root: the wheels' binaries are
installed there (never in ~/.duckdb) and dbt's sessions autoload iceberg from it."""


EXTENSIONS = ("avro", "httpfs", "iceberg")
"""What reading Iceberg takes: avro (manifests), httpfs (object stores), iceberg."""


def extension_file(name: str, duckdb_version: str) -> Path | None:
    """The binary the ``duckdb-extension-<name>`` wheel ships for this DuckDB version, if installed.

    Found without importing DuckDB or pyiceberg, so cheap callers (preflight) can use it too.
    """
    import importlib.util

    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    for location in list(spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(location) / "extensions" / duckdb_version / f"{name}.duckdb_extension"
        if candidate.is_file():
            return candidate
    return None


def add_iceberg_reading(output: dict[str, Any], storage: Any) -> None:
    """Let dbt's DuckDB sessions read the Iceberg views floe creates over ``storage``."""
    from floe.spec.platform import S3Storage

    directory = f"{PROJECT_DIR_REFERENCE}/{EXTENSION_DIR}"
    output.setdefault("settings", {})["extension_directory"] = directory
    # dbt-duckdb creates the storage secret right after connecting, before it applies
    # `settings`: only a connect-time option makes that secret's httpfs load from the project's
    # folder. Without it DuckDB looks in ~/.duckdb and, in a fresh container, tries to download.
    output.setdefault("config_options", {})["extension_directory"] = directory
    if isinstance(storage, S3Storage):
        secret: dict[str, Any] = {"type": "s3", "scope": f"s3://{storage.bucket}"}
        if storage.region:
            secret["region"] = storage.region
        if storage.endpoint:
            scheme, _, rest = storage.endpoint.partition("://")
            secret["endpoint"] = rest.rstrip("/") if rest else scheme
            secret["use_ssl"] = scheme == "https"
            secret["url_style"] = "path" if storage.path_style else "vhost"
        if storage.access_key_id is not None:
            secret["key_id"] = storage.access_key_id.dbt_reference()
        if storage.secret_access_key is not None:
            secret["secret"] = storage.secret_access_key.dbt_reference()
        output["secrets"] = [secret]


def warehouse_path(compute: DuckDBCompute, root: Path) -> Path:
    """The DuckDB database file dbt builds in, resolved against the project root."""
    path = Path(compute.path)
    return path if path.is_absolute() else root / path


def count_rows(compute: DuckDBCompute, project_root: Path, relations: list[str]) -> dict[str, int]:
    """Count rows of dbt relations (already quoted by dbt) in the database file, read-only."""
    import duckdb

    from floe.targets.row_counts import count_relations

    path = warehouse_path(compute, project_root)
    with duckdb.connect(str(path), read_only=True) as connection:
        return count_relations(lambda sql: connection.execute(sql).fetchall(), relations)
