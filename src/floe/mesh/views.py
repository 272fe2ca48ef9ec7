"""The DuckDB views a product's dbt reads its input ports through.

Each view reads the one snapshot compile checked (``iceberg_scan('<metadata.json>')``), in
schema ``<domain>_<product>`` named after the port: the dbt source floe declared for it. Made
before every dbt build, so a fresh warehouse (a new machine, a pod) has them too.
"""

from __future__ import annotations

from pathlib import Path

from floe.contract.v1 import InputPortInfo
from floe.spec.platform import DuckDBCompute, EnvironmentSpec


def create_port_views(inputs: list[InputPortInfo], environment: EnvironmentSpec, root: Path) -> list[str]:
    """Create or replace the view of every input port; returns the views' qualified names."""
    compute = environment.compute
    if not inputs or not isinstance(compute, DuckDBCompute):
        return []
    import duckdb

    from floe.lakehouse import create_storage_secret, install_extensions
    from floe.lakehouse.duckdb_read import quote_identifier, quote_literal
    from floe.targets.duckdb import EXTENSION_DIR, warehouse_path
    from floe.targets.duckdb_lock import explained_lock_errors

    database = warehouse_path(compute, root)
    database.parent.mkdir(parents=True, exist_ok=True)
    created = []
    with explained_lock_errors(database), duckdb.connect(str(database)) as connection:
        install_extensions(connection, root / EXTENSION_DIR)
        create_storage_secret(connection, environment.storage)
        for port in inputs:
            name = f"{quote_identifier(port.schema_name)}.{quote_identifier(port.table)}"
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(port.schema_name)}")
            connection.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM "
                               f"iceberg_scan({quote_literal(port.metadata_location)})")
            created.append(name)
    return created
