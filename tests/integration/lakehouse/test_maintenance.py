"""Retention keeps a table's disk use bounded while appends go on, and idempotence survives it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from floe.lakehouse import append_batch, open_catalog
from floe.lakehouse.maintenance import RetentionPolicy, maintain_table
from floe.spec.platform import LocalStorage, SqlCatalog

from .conftest import orders_batch

pytestmark = pytest.mark.integration

EAGER = RetentionPolicy(max_snapshot_age=timedelta(0), min_snapshots_to_keep=3, metadata_versions_to_keep=3,
                        orphan_grace=timedelta(0))


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in _files(folder))


def test_disk_use_stays_bounded_over_fifty_appends_with_retention(project: Path) -> None:
    kept = open_catalog(SqlCatalog(type="sql", uri="sqlite:///kept.db"), LocalStorage(type="local", path="kept"),
                        project)
    pruned = open_catalog(SqlCatalog(type="sql", uri="sqlite:///pruned.db"),
                          LocalStorage(type="local", path="pruned"), project)
    sizes: dict[int, int] = {}
    for batch in range(50):
        data = orders_batch(batch)
        append_batch(kept, "bronze.orders", data, f"b{batch}")
        append_batch(pruned, "bronze.orders", data, f"b{batch}")
        maintain_table(pruned, "bronze.orders", EAGER)
        sizes[batch] = _size(project / "pruned" / "bronze" / "orders" / "metadata")

    pruned_meta = project / "pruned" / "bronze" / "orders" / "metadata"
    kept_meta = project / "kept" / "bronze" / "orders" / "metadata"
    names = [p.name for p in _files(pruned_meta)]
    assert sum(n.endswith(".metadata.json") for n in names) <= EAGER.metadata_versions_to_keep + 1
    assert sum(n.startswith("snap-") for n in names) == EAGER.min_snapshots_to_keep
    # Manifests are merged (commit.manifest.min-count-to-merge) and the replaced ones deleted.
    assert sum(n.endswith("-m0.avro") or n.endswith("-m1.avro") for n in names) <= 25
    # Bounded: manifests merge every ~20 appends (a sawtooth), so the second half of the run
    # peaks about where the first half did, instead of growing with every append.
    first_half, second_half = max(sizes[b] for b in range(25)), max(sizes[b] for b in range(25, 50))
    assert second_half < 1.5 * first_half, sizes
    assert _size(pruned_meta) * 4 < _size(kept_meta)
    assert len(_files(kept_meta)) > 3 * len(names)

    # Every row is still there, and an old batch is still recognised after its snapshot expired.
    table = pruned.load_table("bronze.orders")
    assert len(table.snapshots()) == 3
    assert table.scan().to_arrow().num_rows == 250
    assert len(_files(project / "pruned" / "bronze" / "orders" / "data")) == 50
    assert append_batch(pruned, "bronze.orders", orders_batch(0), "b0").skipped


def test_orphans_of_a_crashed_append_are_removed_after_the_grace_period(sqlite_catalog, project: Path) -> None:
    append_batch(sqlite_catalog, "bronze.orders", orders_batch(0), "b0")
    table = sqlite_catalog.load_table("bronze.orders")
    # A writer that crashed before the catalog commit: its data file and manifest exist, unreferenced.
    tx = table.transaction()
    tx.append(orders_batch(1))
    before = set(_files(Path(table.location())))
    data_dir = Path(table.location()) / "data"
    assert len(list(data_dir.iterdir())) == 2
    del tx

    young = maintain_table(sqlite_catalog, "bronze.orders", RetentionPolicy(orphan_grace=timedelta(hours=1)))
    assert young.deleted_files == 0
    assert set(_files(Path(table.location()))) == before

    later = datetime.now(timezone.utc) + timedelta(hours=2)
    old = maintain_table(sqlite_catalog, "bronze.orders", RetentionPolicy(orphan_grace=timedelta(hours=1)), now=later)
    assert old.deleted_files >= 2  # the data file and its manifest
    assert len(list(data_dir.iterdir())) == 1
    # The retry of the crashed batch appends it: it never landed.
    assert not append_batch(sqlite_catalog, "bronze.orders", orders_batch(1), "b1").skipped
    assert sqlite_catalog.load_table("bronze.orders").scan().to_arrow().num_rows == 10


def test_recent_snapshots_and_young_snapshots_are_kept(sqlite_catalog) -> None:
    for batch in range(4):
        append_batch(sqlite_catalog, "bronze.orders", orders_batch(batch), f"b{batch}")
    result = maintain_table(sqlite_catalog, "bronze.orders", RetentionPolicy(max_snapshot_age=timedelta(hours=1),
                                                                             min_snapshots_to_keep=1))
    assert (result.expired_snapshots, result.kept_snapshots) == (0, 4)
    result = maintain_table(sqlite_catalog, "bronze.orders", RetentionPolicy(max_snapshot_age=timedelta(0),
                                                                             min_snapshots_to_keep=2))
    assert (result.expired_snapshots, result.kept_snapshots) == (2, 2)
    table = sqlite_catalog.load_table("bronze.orders")
    assert table.properties["write.metadata.previous-versions-max"] == "10"


def test_a_table_whose_location_is_not_its_own_folder_is_not_swept(sqlite_catalog, project: Path) -> None:
    shared = project / "shared"
    sqlite_catalog.create_namespace("raw")
    sqlite_catalog.create_table("raw.events", schema=orders_batch(0).schema, location=str(shared))
    (shared / "someone-elses-file.txt").parent.mkdir(parents=True, exist_ok=True)
    (shared / "someone-elses-file.txt").write_text("keep me")
    append_batch(sqlite_catalog, "raw.events", orders_batch(0), "b0")
    result = maintain_table(sqlite_catalog, "raw.events", EAGER, now=datetime.now(timezone.utc) + timedelta(days=1))
    assert result.orphan_sweep_skipped is not None and "does not end in the table name" in result.orphan_sweep_skipped
    assert (shared / "someone-elses-file.txt").read_text() == "keep me"


def test_policy_values_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RetentionPolicy(min_snapshots_to_keep=0)
    with pytest.raises(ValueError, match="negative"):
        RetentionPolicy(max_snapshot_age=timedelta(seconds=-1))
