"""Iceberg bronze tables: catalogs, idempotent appends, maintenance, and DuckDB reading them.

Importing this package imports pyiceberg and pyarrow; the CLI and the spec layer import it
only inside the functions that need it.

::

    properties   platform spec -> pyiceberg catalog properties (secrets resolved)
    catalogs     open_catalog: SQL (SQLite, PostgreSQL) or REST (Polaris, OAuth2)
    relocation   a moved or copied project: its tables relocated to the warehouse here
    rewrite      one table's metadata written again with its locations moved to a new root
    tables       append_batch (at most once per batch id), metadata_location, batch_ids
    maintenance  maintain_table: snapshot expiry, deletion of unreferenced files
    duckdb_read  extensions from the PyPI wheels, a storage secret, iceberg_scan views
    fileio       pyiceberg's PyArrow FileIO, able to open Azure (abfss://container@account) paths
    errors       LakehouseError, and the translation of library failures into it
"""

from __future__ import annotations

from floe.lakehouse.catalogs import open_catalog
from floe.lakehouse.duckdb_read import (
    IcebergView,
    create_iceberg_views,
    create_storage_secret,
    iceberg_views,
    install_extensions,
)
from floe.lakehouse.errors import LakehouseError
from floe.lakehouse.maintenance import MaintenanceResult, RetentionPolicy, maintain_table
from floe.lakehouse.properties import catalog_properties, storage_properties
from floe.lakehouse.relocation import Relocation, relocate_catalog
from floe.lakehouse.tables import AppendResult, append_batch, batch_ids, metadata_location

__all__ = [
    "AppendResult",
    "IcebergView",
    "LakehouseError",
    "MaintenanceResult",
    "Relocation",
    "RetentionPolicy",
    "append_batch",
    "batch_ids",
    "catalog_properties",
    "create_iceberg_views",
    "create_storage_secret",
    "iceberg_views",
    "install_extensions",
    "maintain_table",
    "metadata_location",
    "open_catalog",
    "relocate_catalog",
    "storage_properties",
]
