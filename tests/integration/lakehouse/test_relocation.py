"""A moved or copied project: its SQLite catalog is relocated to the tables beside it.

Real pyiceberg SQL catalog on SQLite, real files, real DuckDB reading the relocated metadata.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from floe.lakehouse import LakehouseError, Relocation, append_batch, batch_ids, open_catalog
from floe.lakehouse.duckdb_read import create_iceberg_views, iceberg_views
from floe.lakehouse.maintenance import RetentionPolicy, maintain_table
from floe.spec.platform import LocalStorage, SqlCatalog

from .conftest import orders_batch

pytestmark = pytest.mark.integration

TABLES = ("bronze.orders", "bronze.customers")


def _open(root: Path, found: list[Relocation] | None = None, storage: LocalStorage | None = None):
    return open_catalog(SqlCatalog(type="sql"), storage or LocalStorage(type="local"), root,
                        on_relocated=None if found is None else found.append)


def _build(root: Path, batches: int = 3) -> dict[str, int]:
    """Both tables with ``batches`` batches; enough appends that a retention run expires some."""
    catalog = _open(root)
    for batch in range(batches):
        for table in TABLES:
            append_batch(catalog, table, orders_batch(batch), f"b{batch}")
    maintain_table(catalog, "bronze.customers", RetentionPolicy(max_snapshot_age=timedelta(0),
                                                                min_snapshots_to_keep=2))
    counts = {table: catalog.load_table(table).scan().to_arrow().num_rows for table in TABLES}
    catalog.engine.dispose()
    return counts


def _tree_hash(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def _every_location(catalog, identifier: str) -> list[str]:
    """The metadata file, manifest lists, manifests and data files the table refers to."""
    table = catalog.load_table(identifier)
    found = [table.metadata_location, table.location()]
    for snapshot in table.snapshots():
        found.append(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            found.append(manifest.manifest_path)
            found.extend(e.data_file.file_path for e in manifest.fetch_manifest_entry(table.io, discard_deleted=False))
    return found


def test_a_moved_project_is_relocated_once_and_keeps_its_data_and_batches(tmp_path: Path, duck) -> None:
    original = tmp_path / "project"
    counts = _build(original)
    moved = tmp_path / "elsewhere" / "renamed"
    moved.parent.mkdir()
    shutil.move(original, moved)

    found: list[Relocation] = []
    catalog = _open(moved, found)
    assert len(found) == 1
    assert found[0].message == f"the project moved from {original}: relocated 2 tables"
    assert sorted(found[0].tables) == sorted(TABLES)
    for table in TABLES:
        assert catalog.load_table(table).scan().to_arrow().num_rows == counts[table]
        locations = _every_location(catalog, table)
        assert all(location.startswith(f"{moved}/.floe/lakehouse/") for location in locations), locations
        assert all(Path(location).exists() for location in locations)
        assert batch_ids(catalog, table) == ["b0", "b1", "b2"]
    # The snapshots (and so time travel and expiry) survive, each at its own rows.
    orders = catalog.load_table("bronze.orders")
    assert [orders.scan(snapshot_id=s.snapshot_id).to_arrow().num_rows for s in orders.snapshots()] == [5, 10, 15]

    # DuckDB reads the relocated metadata (iceberg_scan follows the paths inside it).
    create_iceberg_views(duck, iceberg_views(catalog, list(TABLES)))
    assert duck.execute("SELECT count(*) FROM bronze.orders").fetchone() == (counts["bronze.orders"],)
    assert duck.execute("SELECT count(*) FROM bronze.customers").fetchone() == (counts["bronze.customers"],)

    # Appends go on here; a retried batch is still recognised; maintenance works on the new root.
    assert append_batch(catalog, "bronze.orders", orders_batch(1), "b1").skipped
    appended = append_batch(catalog, "bronze.orders", orders_batch(3), "b3")
    assert appended.rows == 5 and appended.metadata_location.startswith(str(moved))
    maintain_table(catalog, "bronze.orders", RetentionPolicy(max_snapshot_age=timedelta(0), min_snapshots_to_keep=2,
                                                             orphan_grace=timedelta(0)))
    assert catalog.load_table("bronze.orders").scan().to_arrow().num_rows == counts["bronze.orders"] + 5
    catalog.engine.dispose()

    again: list[Relocation] = []
    _open(moved, again).engine.dispose()
    assert again == [], "a relocated project is not relocated again"


def test_a_copy_reads_and_writes_only_its_own_files(tmp_path: Path) -> None:
    original = tmp_path / "project"
    counts = _build(original)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy, symlinks=True)  # copy2 keeps times and modes, as cp -a does
    before = _tree_hash(original)

    found: list[Relocation] = []
    catalog = _open(copy, found)
    assert found and found[0].message == f"the project moved from {original}: relocated 2 tables"
    assert {t: catalog.load_table(t).scan().to_arrow().num_rows for t in TABLES} == counts
    for batch in (3, 4):
        append_batch(catalog, "bronze.orders", orders_batch(batch), f"b{batch}")
    # Maintenance deletes files: in the copy only (grace 0 sweeps the copy's stale metadata too).
    eager = RetentionPolicy(max_snapshot_age=timedelta(0), min_snapshots_to_keep=1, orphan_grace=timedelta(0))
    for table in TABLES:
        maintain_table(catalog, table, eager)
        assert all(location.startswith(str(copy)) for location in _every_location(catalog, table))
    assert catalog.load_table("bronze.orders").scan().to_arrow().num_rows == counts["bronze.orders"] + 10
    catalog.engine.dispose()

    assert _tree_hash(original) == before, "the copy changed the original's files"
    # The original still works, on its own files, with its own data.
    untouched: list[Relocation] = []
    own = _open(original, untouched)
    assert untouched == []
    assert {t: own.load_table(t).scan().to_arrow().num_rows for t in TABLES} == counts
    assert own.load_table("bronze.orders").metadata_location.startswith(str(original))
    own.engine.dispose()


def test_a_failed_relocation_changes_nothing_and_can_be_retried(tmp_path: Path) -> None:
    original = tmp_path / "project"
    counts = _build(original)
    catalog = _open(original)
    customers = catalog.load_table("bronze.customers")
    manifest = customers.current_snapshot().manifests(customers.io)[0].manifest_path
    catalog.engine.dispose()
    moved = tmp_path / "moved"
    shutil.move(original, moved)
    # A manifest of one table is unreadable: its relocation fails (after the other table's
    # metadata may have been written again).
    victim = moved / Path(manifest).relative_to(original)
    kept = victim.read_bytes()
    victim.write_bytes(b"not avro")
    files_before = _tree_hash(moved / ".floe" / "lakehouse")
    with pytest.raises(LakehouseError):
        _open(moved)
    # Nothing was switched, and what was written was removed: the tree is as it was.
    import sqlite3

    with sqlite3.connect(moved / ".floe" / "catalog.db") as connection:
        rows = connection.execute("select metadata_location from iceberg_tables").fetchall()
    assert rows and all(str(location).startswith(str(original)) for (location,) in rows)
    assert _tree_hash(moved / ".floe" / "lakehouse") == files_before

    victim.write_bytes(kept)
    found: list[Relocation] = []
    catalog = _open(moved, found)
    assert len(found) == 1 and len(found[0].tables) == 2
    assert {t: catalog.load_table(t).scan().to_arrow().num_rows for t in TABLES} == counts
    catalog.engine.dispose()


def test_concurrent_openers_of_a_moved_project_relocate_it_once(tmp_path: Path) -> None:
    original = tmp_path / "project"
    counts = _build(original, batches=2)
    moved = tmp_path / "moved"
    shutil.move(original, moved)
    lake = moved / ".floe" / "lakehouse"
    before = set(lake.rglob("*.metadata.json"))
    found: list[Relocation] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_one() -> None:
        try:
            start.wait(timeout=120)
            _open(moved, found).engine.dispose()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert len(found) == 1, [r.message for r in found]
    catalog = _open(moved)
    assert {t: catalog.load_table(t).scan().to_arrow().num_rows for t in TABLES} == counts
    # A loser's files were deleted: the only new metadata files are the ones the catalog names.
    live = {Path(catalog.load_table(t).metadata_location) for t in TABLES}
    assert set(lake.rglob("*.metadata.json")) - before == live
    catalog.engine.dispose()


def test_a_warehouse_outside_the_project_is_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared-lake"
    storage = LocalStorage(type="local", path=str(shared))
    original = tmp_path / "project"
    original.mkdir()
    catalog = _open(original, storage=storage)
    append_batch(catalog, "bronze.orders", orders_batch(0), "b0")
    location = catalog.load_table("bronze.orders").metadata_location
    catalog.engine.dispose()
    moved = tmp_path / "moved"
    shutil.move(original, moved)

    found: list[Relocation] = []
    catalog = _open(moved, found, storage=storage)
    assert found == []
    assert catalog.load_table("bronze.orders").metadata_location == location
    assert catalog.load_table("bronze.orders").scan().to_arrow().num_rows == 5
    catalog.engine.dispose()
