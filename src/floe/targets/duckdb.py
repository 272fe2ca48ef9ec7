"""Embedded DuckDB, the default compute target."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from floe.spec.compute import FLOE_PLUGIN_ALIAS, DuckDBAttachment, DuckDBCompute
from floe.spec.duckdb_extensions import extension_file as extension_file  # read here by preflight, lakehouse
from floe.spec.secrets import SecretRef

ADAPTER_MODULE = "dbt.adapters.duckdb"
EXTRA: str | None = None  # part of the base install

PROJECT_DIR_REFERENCE = "{{ env_var('FLOE_PROJECT_DIR') }}"


def database_path(compute: DuckDBCompute) -> str:
    """The path dbt opens: absolute as written, else under the project dir known at run time."""
    if PurePosixPath(compute.path).is_absolute():
        return compute.path
    return f"{PROJECT_DIR_REFERENCE}/{compute.path}"


def project_path(path: str) -> str:
    """A path dbt reads at run time: absolute or a URL as written, else under the project dir."""
    if PurePosixPath(path).is_absolute() or "://" in path or path.startswith(("md:", "motherduck:")):
        return path
    return f"{PROJECT_DIR_REFERENCE}/{path}"


def profile_output(compute: DuckDBCompute) -> dict[str, Any]:
    """dbt-duckdb profile output: every key of the compute block, paths resolved, secrets as env_var().

    Extensions are not handed to dbt-duckdb's own ``extensions`` key, whose ``INSTALL`` downloads
    (even a built-in one); floe's plugin (:mod:`floe.targets.duckdb_plugin`) installs them from
    their wheels into the project's extension directory and loads them instead.
    """
    output: dict[str, Any] = {"type": "duckdb", "path": database_path(compute), "schema": compute.schema_,
                              "threads": compute.threads}
    settings = compute.effective_settings()
    if settings:
        output["settings"] = {name: _rendered(value) for name, value in settings.items()}
    if compute.external_root is not None:
        output["external_root"] = project_path(compute.external_root.rstrip("/") or "/")
    if compute.attach:
        output["attach"] = [_attachment(attachment) for attachment in compute.attach]
    plugins: list[dict[str, Any]] = []
    floe_plugin: dict[str, Any] = {}
    extensions = compute.extensions_to_load()
    if extensions:
        use_project_extension_directory(output)
        floe_plugin["extensions"] = extensions
    if compute.external_root is not None and "://" not in compute.external_root:
        # DuckDB's COPY does not create folders: dbt-duckdb would fail on the first external model.
        floe_plugin["create_external_root"] = True
    if floe_plugin:
        plugins.append({"module": PLUGIN_MODULE, "alias": FLOE_PLUGIN_ALIAS, "config": floe_plugin})
    for plugin in compute.plugins:
        entry: dict[str, Any] = {"module": plugin.module}
        if plugin.alias is not None:
            entry["alias"] = plugin.alias
        if plugin.config:
            entry["config"] = _rendered(plugin.config)
        plugins.append(entry)
    if plugins:
        output["plugins"] = plugins
    return output


def _attachment(attachment: DuckDBAttachment) -> dict[str, Any]:
    # A postgres or mysql "path" is a connection string, not a file.
    path = project_path(attachment.path) if attachment.type in ("duckdb", "sqlite") else attachment.path
    entry: dict[str, Any] = {"path": path}
    if attachment.alias is not None:
        entry["alias"] = attachment.alias
    if attachment.type != "duckdb":
        entry["type"] = attachment.type
    if attachment.read_only:
        entry["read_only"] = True
    return entry


def _rendered(value: Any) -> Any:
    """A value for profiles.yml: secret references become env_var() calls, at any depth."""
    if isinstance(value, SecretRef):
        return value.dbt_reference()
    if isinstance(value, dict):
        return {key: _rendered(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rendered(item) for item in value]
    return value


PLUGIN_MODULE = "floe.targets.duckdb_plugin"


EXTENSION_DIR = ".floe/duckdb_extensions"
"""DuckDB extension directory, relative to the project root: the wheels' binaries are
installed there (never in ~/.duckdb) and dbt's sessions autoload iceberg from it."""


EXTENSIONS = ("avro", "httpfs", "iceberg")
"""What reading Iceberg takes: avro (manifests), httpfs (object stores), iceberg."""


def use_project_extension_directory(output: dict[str, Any]) -> None:
    """Point dbt's DuckDB sessions at the project's extension directory, from the first moment."""
    directory = f"{PROJECT_DIR_REFERENCE}/{EXTENSION_DIR}"
    output.setdefault("settings", {})["extension_directory"] = directory
    # dbt-duckdb creates the storage secret right after connecting, before it applies
    # `settings`: only a connect-time option makes that secret's httpfs load from the project's
    # folder. Without it DuckDB looks in ~/.duckdb and, in a fresh container, tries to download.
    output.setdefault("config_options", {})["extension_directory"] = directory


def add_iceberg_reading(output: dict[str, Any], storage: Any) -> None:
    """Let dbt's DuckDB sessions read the Iceberg views floe creates over ``storage``."""
    from floe.spec.platform import S3Storage

    use_project_extension_directory(output)
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
