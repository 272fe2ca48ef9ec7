"""DuckDB reads the bronze tables: extensions from the PyPI wheels, a storage secret, views.

``INSTALL iceberg`` downloads from DuckDB's extension server, which is not reachable
everywhere (nor from inside many clusters). The extension binaries also ship as PyPI wheels
(``duckdb-extension-iceberg`` and friends, one per DuckDB version); floe installs those
files into a project-local ``extension_directory`` — never ``~/.duckdb`` — and loads them.

A view reads one metadata file, i.e. one snapshot: ``CREATE OR REPLACE VIEW bronze.orders AS
SELECT * FROM iceberg_scan('<metadata.json>')``. The DuckDB extension cannot find the
current snapshot of a catalog table by itself without a version hint, so the views must be
re-created after appends (:func:`create_iceberg_views` is cheap and idempotent).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pyiceberg.catalog import Catalog as IcebergCatalog

from floe.lakehouse.errors import LakehouseError
from floe.lakehouse.properties import DEFAULT_REGION_WITH_ENDPOINT, SecretResolver, StorageSpec, storage_properties
from floe.lakehouse.tables import metadata_location, table_name
from floe.spec.platform import LocalStorage, S3Storage
from floe.targets.duckdb import EXTENSIONS, extension_file

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

STORAGE_SECRET = "floe_storage"


@dataclass(frozen=True)
class IcebergView:
    """A DuckDB view over one Iceberg table's metadata file."""

    schema: str
    name: str
    metadata_location: str

    @property
    def qualified_name(self) -> str:
        """``schema.name`` as written in SQL."""
        return f"{quote_identifier(self.schema)}.{quote_identifier(self.name)}"


def quote_identifier(name: str) -> str:
    """A DuckDB identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A DuckDB string literal (DDL such as CREATE VIEW and CREATE SECRET takes no parameters)."""
    return "'" + value.replace("'", "''") + "'"


def extension_binary(name: str, duckdb_version: str) -> Path:
    """The extension file the ``duckdb-extension-<name>`` wheel ships for this DuckDB version.

    Raises:
        LakehouseError: The wheel is not installed, or not for this DuckDB version.
    """
    found = extension_file(name, duckdb_version)
    if found is not None:
        return found
    package = f"duckdb_extension_{name}"
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    pin = duckdb_version.lstrip("v")
    raise LakehouseError(
        f"the DuckDB extension '{name}' for DuckDB {duckdb_version} is not installed"
        + (f" (package {package} has no {duckdb_version} build)" if locations else ""),
        hint=f'pip install "duckdb-extension-{name}=={pin}" (it must match duckdb=={pin})',
    )


def install_extensions(
    connection: DuckDBPyConnection, extension_dir: Path, names: Sequence[str] = EXTENSIONS
) -> None:
    """Install the extensions from their wheels into ``extension_dir`` and load them.

    Sets the connection's ``extension_directory``; an extension already installed there is
    only loaded.

    Raises:
        LakehouseError: An extension wheel is missing or does not match DuckDB's version.
    """
    row = connection.execute("PRAGMA version").fetchone()
    version = str(row[0]) if row else ""
    directory = Path(extension_dir).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    connection.execute(f"SET extension_directory = {quote_literal(str(directory))}")
    installed = {
        str(found[0]) for found in connection.execute(
            "SELECT extension_name FROM duckdb_extensions() WHERE installed AND install_path <> '(BUILT-IN)'"
        ).fetchall()
    }
    for name in names:
        if name not in installed:
            connection.execute(f"INSTALL {quote_literal(str(extension_binary(name, version)))}")
        connection.execute(f"LOAD {quote_identifier(name)}")


def create_storage_secret(
    connection: DuckDBPyConnection,
    storage: StorageSpec,
    resolve: SecretResolver | None = None,
    *,
    vended: Mapping[str, str] | None = None,
) -> str | None:
    """Let DuckDB read the storage: a temporary secret (in memory, never written to a file).

    The storage's own endpoint, region and addressing are used; credentials come from its
    secret references, else from ``vended`` (a REST table's ``table.io.properties``, where a
    catalog put short-lived credentials), else none (a public bucket or instance credentials).

    Returns:
        The secret's name, or None for local storage (which needs none).

    Raises:
        LakehouseError: A secret is missing, or the storage kind cannot be read by DuckDB here.
    """
    if isinstance(storage, LocalStorage):
        return None
    if not isinstance(storage, S3Storage):
        raise LakehouseError(
            f"DuckDB cannot read {storage.type} storage through floe yet",
            hint="read these tables with pyiceberg (the dbt-duckdb iceberg source), or use S3 storage",
        )
    props = {**(vended or {}), **storage_properties(storage, resolve)}
    params = {"TYPE": "s3", "SCOPE": f"s3://{storage.bucket}",
              "REGION": storage.region or DEFAULT_REGION_WITH_ENDPOINT}
    if storage.endpoint is not None:
        endpoint = urlsplit(storage.endpoint)
        params["ENDPOINT"] = endpoint.netloc + endpoint.path.rstrip("/")
        params["USE_SSL"] = "true" if endpoint.scheme == "https" else "false"
        params["URL_STYLE"] = "path" if storage.path_style else "vhost"
    for key, param in (("s3.access-key-id", "KEY_ID"), ("s3.secret-access-key", "SECRET"),
                       ("s3.session-token", "SESSION_TOKEN")):
        if props.get(key):
            params[param] = props[key]
    body = ", ".join(
        f"{key} {value}" if key in {"TYPE", "USE_SSL"} else f"{key} {quote_literal(value)}"
        for key, value in params.items()
    )
    connection.execute(f"CREATE OR REPLACE TEMPORARY SECRET {STORAGE_SECRET} ({body})")
    return STORAGE_SECRET


def iceberg_views(catalog: IcebergCatalog, identifiers: Iterable[str | tuple[str, ...]]) -> list[IcebergView]:
    """One view per table, named after it: ``bronze.orders`` becomes view ``orders`` in schema
    ``bronze`` (a nested namespace ``a.b`` becomes schema ``a_b``), at its current metadata."""
    views = []
    for identifier in identifiers:
        parts = table_name(identifier)
        views.append(IcebergView("_".join(parts[:-1]), parts[-1], metadata_location(catalog, parts)))
    return views


def create_iceberg_views(connection: DuckDBPyConnection, views: Iterable[IcebergView]) -> list[str]:
    """Create or replace each view (and its schema); returns the qualified view names.

    The iceberg extension must be loaded (:func:`install_extensions`), and for object
    storage a secret must exist (:func:`create_storage_secret`).
    """
    created = []
    for view in views:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(view.schema)}")
        connection.execute(
            f"CREATE OR REPLACE VIEW {view.qualified_name} AS "
            f"SELECT * FROM iceberg_scan({quote_literal(view.metadata_location)})"
        )
        created.append(view.qualified_name)
    return created
