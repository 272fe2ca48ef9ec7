"""A project that was moved or copied: point its local Iceberg catalog at the tables here.

The embedded lakehouse (a SQLite catalog and a warehouse folder, both inside the project)
names every file by absolute path. After ``mv project elsewhere`` those paths are gone; after
``cp -a project copy`` they are the original's, and the copy would read *and write* there.

Detection needs no marker: each table's row in the catalog names its metadata file. floe
creates tables at ``<warehouse>/<namespace>/<table>``, so a metadata file at
``X/<namespace>/<table>/metadata/<file>`` whose X is not the current warehouse, while the
same file exists under the current warehouse, is a table that was created at X and carried
here. Such tables are relocated (:mod:`floe.lakehouse.rewrite` writes their metadata again
under the current warehouse, reading only the files here), then all their catalog rows are
switched in one transaction, each on the condition that it still names the old file. The
switch is the commit: before it the catalog is as it was, and a failure leaves only
unreferenced new files. Two processes relocating at once: one switch wins, the other finds
its rows changed, rolls back, deletes its files and finds nothing left to do.

Left alone: catalogs or warehouses outside the project (shared, or remote like ``s3://``:
they do not move with the project), and tables whose files are not under the current
warehouse (a table declared elsewhere, or a warehouse that was renamed in platform.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pyiceberg.catalog.sql import IcebergNamespaceProperties, IcebergTables, SqlCatalog
from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection

from floe.lakehouse.errors import LakehouseError, first_line, translated_errors
from floe.lakehouse.properties import TABLE_ROOT
from floe.lakehouse.rewrite import PathMap, RewrittenTable, delete_written, rewrite_table_metadata

_ATTEMPTS = 3


@dataclass(frozen=True)
class Relocation:
    """Tables moved from another root to this project's warehouse.

    Attributes:
        moved_from: The project folder the tables were created in (or their old warehouse,
            when it did not lie at the same place inside that project).
        warehouse: The current warehouse.
        tables: The tables relocated, ``namespace.table``.
    """

    moved_from: str
    warehouse: str
    tables: tuple[str, ...]

    @property
    def message(self) -> str:
        """One line for the user."""
        count = len(self.tables)
        return f"the project moved from {self.moved_from}: relocated {count} table{'s' if count != 1 else ''}"


@dataclass(frozen=True)
class _Row:
    namespace: str
    name: str
    metadata_location: str
    paths: PathMap

    @property
    def identifier(self) -> str:
        return f"{self.namespace}.{self.name}"


class _Conflict(Exception):
    """Another process changed a catalog row while this one relocated."""


def relocate_catalog(catalog: SqlCatalog, project_root: Path) -> Relocation | None:
    """Relocate the tables of a project-local SQLite catalog that were created at another root.

    Does nothing (and returns None) unless the catalog is a SQLite file inside
    ``project_root`` and the warehouse is a folder inside it too.

    Raises:
        LakehouseError: A table cannot be relocated (delete files, an unreadable file), or other
            processes kept changing the catalog.
    """
    warehouse = _local_warehouse(catalog, Path(project_root).resolve())
    if warehouse is None:
        return None
    with translated_errors(where=f"SQL catalog of {project_root}", action="relocate the moved project's tables"):
        for _ in range(_ATTEMPTS):
            rows = _carried_rows(catalog, warehouse)
            if not rows:
                return None
            try:
                return _relocate(catalog, rows, warehouse, Path(project_root).resolve())
            except _Conflict:
                continue  # another process relocated (or appended) meanwhile: look again
    raise LakehouseError(f"the catalog of {project_root} kept changing while floe relocated its tables",
                         hint="stop the other floe processes of this project and run the command again")


def _local_warehouse(catalog: SqlCatalog, root: Path) -> Path | None:
    """The warehouse folder, when both it and the SQLite catalog file lie inside the project."""
    uri = str(catalog.properties.get("uri", ""))
    table_root = str(catalog.properties.get(TABLE_ROOT, ""))
    if not uri.startswith("sqlite:///") or not table_root or "://" in table_root:
        return None
    database = Path(uri[len("sqlite:///"):].split("?", 1)[0])
    warehouse = Path(table_root)
    if not (database.is_absolute() and warehouse.is_absolute()):
        return None
    if not (database.is_relative_to(root) and warehouse.is_relative_to(root)):
        return None
    return warehouse


def _carried_rows(catalog: SqlCatalog, warehouse: Path) -> list[_Row]:
    """Tables whose metadata file names another root, and whose files are here."""
    here = str(warehouse)
    found = []
    with catalog.engine.connect() as connection:
        result = connection.execute(
            select(IcebergTables.table_namespace, IcebergTables.table_name, IcebergTables.metadata_location)
            .where(IcebergTables.catalog_name == catalog.name)
            .where(or_(IcebergTables.iceberg_type.is_(None), IcebergTables.iceberg_type == "TABLE"))
        )
        for namespace, name, location in result:
            if not location or PathMap(here, here).covers(location):
                continue
            old_root = _old_root(str(location), str(namespace), str(name))
            if old_root is None:
                continue
            paths = PathMap(old_root, here)
            if Path(paths(str(location)).removeprefix("file://").removeprefix("file:")).is_file():
                found.append(_Row(str(namespace), str(name), str(location), paths))
    return found


def _old_root(location: str, namespace: str, name: str) -> str | None:
    """X of ``X/<namespace>/<table>/metadata/<file>``, or None when the location has another shape."""
    tail = "/" + "/".join([*namespace.split("."), name, "metadata"]) + "/"
    head, sep, file_name = location.rpartition(tail)
    if not sep or "/" in file_name or not head:
        return None
    for scheme in ("file://", "file:"):
        if head.startswith(scheme):
            head = head[len(scheme):]
            break
    return head if head.startswith("/") else None


def _relocate(catalog: SqlCatalog, rows: list[_Row], warehouse: Path, root: Path) -> Relocation:
    rewritten: list[tuple[_Row, RewrittenTable]] = []
    try:
        for row in rows:
            rewritten.append((row, _rewrite(catalog, row)))
        _switch(catalog, rewritten)
    except BaseException:
        for _, table in rewritten:
            delete_written(table, catalog.properties)
        raise
    old_roots = sorted({row.paths.old for row in rows})
    return Relocation(_old_project(old_roots[0], warehouse, root) if len(old_roots) == 1 else ", ".join(old_roots),
                      str(warehouse), tuple(row.identifier for row in rows))


def _rewrite(catalog: SqlCatalog, row: _Row) -> RewrittenTable:
    try:
        return rewrite_table_metadata(row.metadata_location, row.paths, catalog.properties)
    except (OSError, ValueError, KeyError, IndexError, EOFError) as exc:  # a missing or damaged file
        raise LakehouseError(
            f"cannot relocate table {row.identifier} from {row.paths.old} to {row.paths.new}: "
            f"{type(exc).__name__}: {first_line(exc)}",
            hint="the table's files here are incomplete or damaged: copy the project again (cp -a) "
            "from where it was, or restore its .floe folder",
        ) from exc


def _switch(catalog: SqlCatalog, rewritten: list[tuple[_Row, RewrittenTable]]) -> None:
    """Point every row at its new metadata file, all or none."""
    with catalog.engine.begin() as connection:
        for row, table in rewritten:
            result = connection.execute(
                update(IcebergTables)
                .where(IcebergTables.catalog_name == catalog.name, IcebergTables.table_namespace == row.namespace,
                       IcebergTables.table_name == row.name,
                       IcebergTables.metadata_location == row.metadata_location)
                .values(metadata_location=table.metadata_location,
                        previous_metadata_location=row.paths(row.metadata_location))
            )
            if result.rowcount != 1:
                raise _Conflict(row.identifier)  # leaving the block rolls every row back
        for paths in {row.paths for row, _ in rewritten}:
            _move_namespace_locations(connection, catalog.name, paths)


def _move_namespace_locations(connection: Connection, catalog_name: str, paths: PathMap) -> None:
    """A namespace's ``location`` property under the old root (floe sets none; others may)."""
    found = connection.execute(
        select(IcebergNamespaceProperties.namespace, IcebergNamespaceProperties.property_value)
        .where(IcebergNamespaceProperties.catalog_name == catalog_name,
               IcebergNamespaceProperties.property_key == "location")
    ).all()
    for namespace, value in found:
        if paths.covers(str(value)):
            connection.execute(
                update(IcebergNamespaceProperties)
                .where(IcebergNamespaceProperties.catalog_name == catalog_name,
                       IcebergNamespaceProperties.namespace == namespace,
                       IcebergNamespaceProperties.property_key == "location")
                .values(property_value=paths(str(value)))
            )


def _old_project(old_warehouse: str, warehouse: Path, root: Path) -> str:
    """The old project folder: the old warehouse less the warehouse's place inside the project."""
    inside = warehouse.relative_to(root).as_posix()
    suffix = "/" + inside if inside != "." else ""
    if suffix and old_warehouse.endswith(suffix):
        return old_warehouse[: -len(suffix)] or "/"
    return old_warehouse
