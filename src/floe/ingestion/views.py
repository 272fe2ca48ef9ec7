"""DuckDB views over the Iceberg tables, so dbt reads bronze as plain sources.

``<namespace>.<table>`` in the warehouse is ``SELECT * FROM iceberg_scan('<metadata.json>')``
at the table's current snapshot, limited to complete batches: a batch is written table by
table, so while one is half-landed (a crash, a retry pending) dbt must not see its orders
without their lines. Complete means present in the source's last table.

The views are refreshed after every landing and before every dbt build, because an Iceberg
table moves to a new metadata file with each commit and retention deletes old ones. The
extension binaries come from their PyPI wheels, installed into the project's extension
directory, where dbt's DuckDB sessions autoload them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from floe.ingestion.landing import next_batch_number, table_identifier
from floe.spec.ingestion import SyntheticSource
from floe.spec.platform import DuckDBCompute, EnvironmentSpec
from floe.targets.duckdb import EXTENSION_DIR, warehouse_path

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog



def refresh_views(
    catalog: Catalog, environment: EnvironmentSpec, root: Path, sources: list[SyntheticSource]
) -> list[str]:
    """Create or replace the view of every existing table of ``sources``; returns their names.

    Tables not landed yet are left out (dbt then fails on a missing source, which names it).
    """
    import duckdb

    from floe.lakehouse import create_storage_secret, iceberg_views, install_extensions
    from floe.lakehouse.duckdb_read import quote_identifier, quote_literal
    from floe.targets.duckdb_lock import explained_lock_errors

    compute = environment.compute
    if not isinstance(compute, DuckDBCompute):
        return []
    planned: list[tuple[str, int]] = []
    for source in sources:
        complete = next_batch_number(catalog, source) - 1
        planned.extend((table_identifier(source, table), complete) for table in source.tables
                       if catalog.table_exists(table_identifier(source, table)))
    if not planned:
        return []
    views = iceberg_views(catalog, [identifier for identifier, _ in planned])
    database = warehouse_path(compute, root)
    database.parent.mkdir(parents=True, exist_ok=True)
    created = []
    with explained_lock_errors(database), duckdb.connect(str(database)) as connection:
        install_extensions(connection, root / EXTENSION_DIR)
        create_storage_secret(connection, environment.storage)
        for view, (_, complete) in zip(views, planned, strict=True):
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(view.schema)}")
            connection.execute(
                f"CREATE OR REPLACE VIEW {view.qualified_name} AS SELECT * FROM "
                f"iceberg_scan({quote_literal(view.metadata_location)}) WHERE _batch_id <= {complete}")
            created.append(view.qualified_name)
    return created
