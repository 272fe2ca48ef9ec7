"""What the demo's warehouse holds: bronze row counts and mart totals, read-only; and the latest
batch each source landed (its number, time window and the generator's defect counts, as
recorded in the Iceberg tables: :mod:`floe.ingestion.clock`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.contract.project import CompiledProject
from floe.ingestion.clock import BatchWindow

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

MARTS = ("mart_revenue", "mart_customer_segments", "mart_product_analytics")


@dataclass(frozen=True)
class WarehouseSnapshot:
    """Counts and totals at one moment (zeros before the first batch)."""

    bronze_rows: dict[str, int] = field(default_factory=dict)
    mart_rows: dict[str, int] = field(default_factory=dict)
    orders: int = 0
    items: int = 0
    units: int = 0
    revenue: Decimal = Decimal("0")
    by_region: list[tuple[str, int, Decimal]] = field(default_factory=list)
    by_segment: list[tuple[str, str, int]] = field(default_factory=list)
    by_category: list[tuple[str, int, Decimal]] = field(default_factory=list)
    batches: dict[str, BatchWindow] = field(default_factory=dict)
    """Source name → the latest complete batch it landed (sources with none left out)."""


def read_snapshot(compiled: CompiledProject) -> WarehouseSnapshot:
    """Read the bronze views and the marts of the demo's DuckDB warehouse.

    Raises:
        WarehouseLockedError: another program has the warehouse open for writing.
        FloeError: the Iceberg catalog cannot be read.
    """
    batches = read_batches(compiled)
    snapshot = _read_warehouse(compiled)
    return replace(snapshot, batches=batches)


def read_batches(compiled: CompiledProject) -> dict[str, BatchWindow]:
    """Source name → the latest complete batch it landed, from the tables' records."""
    if not compiled.artifacts.ingestion:
        return {}
    from floe.ingestion.clock import latest_window
    from floe.lakehouse import open_catalog

    environment = compiled.artifacts.environment
    catalog = open_catalog(environment.catalog, environment.storage, compiled.root)
    found = {}
    for source in compiled.artifacts.ingestion:
        window = latest_window(catalog, source)
        if window is not None:
            found[source.name] = window
    return found


def _read_warehouse(compiled: CompiledProject) -> WarehouseSnapshot:
    import duckdb

    from floe.lakehouse import create_storage_secret, install_extensions
    from floe.spec.platform import DuckDBCompute
    from floe.targets.duckdb import EXTENSION_DIR, warehouse_path
    from floe.targets.duckdb_lock import explained_lock_errors

    compute = compiled.artifacts.environment.compute
    if not isinstance(compute, DuckDBCompute):
        return WarehouseSnapshot()
    database = warehouse_path(compute, compiled.root)
    if not database.is_file():
        return WarehouseSnapshot()
    # A program with the file open for writing (a DuckDB shell, Cube) refuses this reader.
    with explained_lock_errors(database), duckdb.connect(str(database), read_only=True) as connection:
        install_extensions(connection, Path(compiled.root) / EXTENSION_DIR)
        # The bronze views scan Iceberg files in the environment's storage (S3: its endpoint and keys).
        create_storage_secret(connection, compiled.artifacts.environment.storage)
        bronze = _bronze_counts(connection, compiled)
        mart_rows = {}
        for mart in MARTS:
            relation = _relation(connection, mart)
            if relation:
                row = connection.execute(f"select count(*) from {relation}").fetchone()
                mart_rows[mart] = int(row[0]) if row else 0
        revenue = _relation(connection, "mart_revenue")
        segments = _relation(connection, "mart_customer_segments")
        products = _relation(connection, "mart_product_analytics")
        totals: tuple[Any, ...] = (0, 0, 0, Decimal("0"))
        by_region: list[tuple[str, int, Decimal]] = []
        if revenue:
            row = connection.execute(
                f"select coalesce(sum(orders), 0), coalesce(sum(items), 0), coalesce(sum(units), 0), "
                f"coalesce(sum(revenue), 0) from {revenue}").fetchone()
            totals = row or totals
            by_region = [(str(r[0]), int(r[1]), Decimal(r[2])) for r in connection.execute(
                f"select region, sum(orders), sum(revenue) from {revenue} group by region order by 3 desc"
            ).fetchall()]
        by_segment = [(str(r[0]), str(r[1]), int(r[2])) for r in connection.execute(
            f"select segment, value_tier, count(*) from {segments} group by all order by 1, 2").fetchall()
        ] if segments else []
        by_category = [(str(r[0]), int(r[1]), Decimal(r[2])) for r in connection.execute(
            f"select category, sum(units), sum(revenue) from {products} group by category order by 3 desc"
        ).fetchall()] if products else []
    return WarehouseSnapshot(bronze, mart_rows, int(totals[0]), int(totals[1]), int(totals[2]), Decimal(totals[3]),
                             by_region, by_segment, by_category)


def _relation(connection: DuckDBPyConnection, name: str) -> str | None:
    row = connection.execute(
        "select table_schema from information_schema.tables where table_name = ? order by table_schema limit 1",
        [name],
    ).fetchone()
    return f'"{row[0]}"."{name}"' if row else None


def _bronze_counts(connection: DuckDBPyConnection, compiled: CompiledProject) -> dict[str, int]:
    counts: dict[str, int] = {}
    for source in compiled.artifacts.ingestion:
        for table in source.tables:
            exists = connection.execute(
                "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
                [source.namespace, table],
            ).fetchone()
            if exists:
                row = connection.execute(f'select count(*) from "{source.namespace}"."{table}"').fetchone()
                counts[f"{source.namespace}.{table}"] = int(row[0]) if row else 0
    return counts
