"""DuckDB views over the Iceberg tables, so dbt reads bronze as plain sources.

``<namespace>.<table>`` in the warehouse is ``SELECT * FROM iceberg_scan('<metadata.json>')``
at the table's current snapshot. The views are refreshed after every landing and before
every dbt build, because an Iceberg table moves to a new metadata file with each commit and
retention deletes old ones. The extension binaries come from their PyPI wheels, installed
into the project's extension directory, where dbt's DuckDB sessions autoload them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from floe.ingestion.landing import table_identifier
from floe.spec.ingestion import SyntheticSource
from floe.spec.platform import DuckDBCompute, EnvironmentSpec
from floe.targets.duckdb import EXTENSION_DIR

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog



def warehouse_path(compute: DuckDBCompute, root: Path) -> Path:
    """The DuckDB database file dbt builds in."""
    path = Path(compute.path)
    return path if path.is_absolute() else root / path


def refresh_views(
    catalog: Catalog, environment: EnvironmentSpec, root: Path, sources: list[SyntheticSource]
) -> list[str]:
    """Create or replace the view of every existing table of ``sources``; returns their names.

    Tables not landed yet are left out (dbt then fails on a missing source, which names it).
    """
    import duckdb

    from floe.lakehouse import create_iceberg_views, create_storage_secret, iceberg_views, install_extensions

    compute = environment.compute
    if not isinstance(compute, DuckDBCompute):
        return []
    identifiers = [
        table_identifier(source, table)
        for source in sources
        for table in source.tables
        if catalog.table_exists(table_identifier(source, table))
    ]
    if not identifiers:
        return []
    views = iceberg_views(catalog, identifiers)
    database = warehouse_path(compute, root)
    database.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(database)) as connection:
        install_extensions(connection, root / EXTENSION_DIR)
        create_storage_secret(connection, environment.storage)
        return create_iceberg_views(connection, views)
