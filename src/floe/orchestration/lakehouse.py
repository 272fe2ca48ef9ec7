"""The Iceberg catalog of a compiled project, and its DuckDB views."""

from __future__ import annotations

from typing import TYPE_CHECKING

from floe.contract.project import CompiledProject

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from floe.lakehouse import Relocation


def open_project_catalog(compiled: CompiledProject) -> Catalog:
    """The environment's Iceberg catalog, paths resolved against the project root."""
    from floe.lakehouse import open_catalog

    environment = compiled.artifacts.environment
    return open_catalog(environment.catalog, environment.storage, compiled.root)


def refresh_project_views(compiled: CompiledProject) -> list[str]:
    """Point the DuckDB views of every ingestion table at its current snapshot, and of every input port
    at the snapshot compile checked."""
    created: list[str] = []
    if compiled.artifacts.ingestion:
        from floe.ingestion.views import refresh_views

        created = refresh_views(open_project_catalog(compiled), compiled.artifacts.environment, compiled.root,
                                list(compiled.artifacts.ingestion))
    if has_input_ports(compiled):
        from floe.mesh.views import create_port_views

        assert compiled.artifacts.mesh is not None
        created += create_port_views(compiled.artifacts.mesh.inputs, compiled.artifacts.environment, compiled.root)
    return created


def has_input_ports(compiled: CompiledProject) -> bool:
    """Whether the project is a data product that reads other products' ports."""
    return compiled.artifacts.mesh is not None and bool(compiled.artifacts.mesh.inputs)


def relocate_project_lakehouse(compiled: CompiledProject) -> str | None:
    """After the project was moved or copied: relocate its tables and re-point the DuckDB views.

    Returns the one line to tell the user, or None when nothing had to move. Runs open the
    catalog (and relocate) anyway; commands call this first so that nothing reads a view that
    still names the old folder (the demo reads the warehouse before its first run) and the
    user sees what happened.
    """
    if not compiled.artifacts.ingestion:
        return None
    from floe.lakehouse import open_catalog
    from floe.spec.platform import SqlCatalog

    environment = compiled.artifacts.environment
    if not isinstance(environment.catalog, SqlCatalog):
        return None
    found: list[Relocation] = []
    open_catalog(environment.catalog, environment.storage, compiled.root, on_relocated=found.append)
    if not found:
        return None
    refresh_project_views(compiled)
    return found[0].message
