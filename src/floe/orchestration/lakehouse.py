"""The Iceberg catalog of a compiled project, and its DuckDB views."""

from __future__ import annotations

from typing import TYPE_CHECKING

from floe.contract.project import CompiledProject

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog


def open_project_catalog(compiled: CompiledProject) -> Catalog:
    """The environment's Iceberg catalog, paths resolved against the project root."""
    from floe.lakehouse import open_catalog

    environment = compiled.artifacts.environment
    return open_catalog(environment.catalog, environment.storage, compiled.root)


def refresh_project_views(compiled: CompiledProject) -> list[str]:
    """Point the DuckDB views of every ingestion table at its current snapshot."""
    if not compiled.artifacts.ingestion:
        return []
    from floe.ingestion.views import refresh_views

    return refresh_views(open_project_catalog(compiled), compiled.artifacts.environment, compiled.root,
                         list(compiled.artifacts.ingestion))
