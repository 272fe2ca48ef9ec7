"""Table maintenance: expire old snapshots and delete the files nothing refers to any more.

An append-only bronze table keeps every row, so its data files stay. What grows without
maintenance is the bookkeeping: each append writes a metadata file that lists every
snapshot so far, and a manifest list naming every manifest — quadratic growth, which fills
a disk within a day of minute-by-minute appends. :func:`maintain_table` bounds it:

1. The table keeps ``metadata_versions_to_keep`` previous metadata files; older ones are
   deleted by the commit that drops them (Iceberg's ``write.metadata.delete-after-commit``).
2. Snapshots older than ``max_snapshot_age`` are expired, except the newest
   ``min_snapshots_to_keep`` and branch or tag heads.
3. Files only the expired snapshots referred to (manifest lists, manifests, data files
   rewritten away) are deleted. This works on every storage, through the table's FileIO.
4. Orphans: files under the table's location that no retained snapshot and no kept metadata
   file refers to — left by a crashed writer — are deleted once older than ``orphan_grace``
   (younger ones may belong to a commit in flight). This lists the storage, so it needs
   pyiceberg's PyArrow FileIO (floe pins it); it is skipped, and the result says why, when
   the table's location does not end in the table's name (a shared prefix must not be swept).

Batch ids survive expiry in the table property ``floe.batch-ids`` (see
:mod:`floe.lakehouse.tables`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pyarrow.fs import FileSelector, FileSystem, FileType
from pyiceberg.catalog import Catalog as IcebergCatalog
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot

from floe.lakehouse.catalogs import describe_catalog
from floe.lakehouse.errors import translated_errors
from floe.lakehouse.tables import load_table, table_name

logger = logging.getLogger(__name__)

_DELETE_AFTER_COMMIT = "write.metadata.delete-after-commit.enabled"
_PREVIOUS_VERSIONS_MAX = "write.metadata.previous-versions-max"


@dataclass(frozen=True)
class RetentionPolicy:
    """How much history a table keeps.

    Attributes:
        max_snapshot_age: Snapshots older than this are expired (time travel reaches back this far).
        min_snapshots_to_keep: The newest snapshots kept whatever their age (at least 1).
        metadata_versions_to_keep: Previous metadata files kept besides the current one.
        orphan_grace: Unreferenced files younger than this are kept: they may belong to a
            commit in flight. Keep it longer than the slowest append.
        remove_orphans: Whether to list the table's location and delete orphans (step 4).
    """

    max_snapshot_age: timedelta = timedelta(hours=6)
    min_snapshots_to_keep: int = 5
    metadata_versions_to_keep: int = 10
    orphan_grace: timedelta = timedelta(hours=1)
    remove_orphans: bool = True

    def __post_init__(self) -> None:
        if self.max_snapshot_age < timedelta(0) or self.orphan_grace < timedelta(0):
            raise ValueError("max_snapshot_age and orphan_grace must not be negative")
        if self.min_snapshots_to_keep < 1 or self.metadata_versions_to_keep < 1:
            raise ValueError("min_snapshots_to_keep and metadata_versions_to_keep must be at least 1")


@dataclass(frozen=True)
class MaintenanceResult:
    """What :func:`maintain_table` did.

    Attributes:
        table: Table identifier.
        expired_snapshots: Snapshots removed from the metadata.
        kept_snapshots: Snapshots the table still has.
        deleted_files: Files deleted (expired bookkeeping, rewritten data, orphans).
        deleted_bytes: Their size, where the storage reported it.
        orphan_sweep_skipped: Why step 4 did not run, or None when it ran (or was not asked for).
        duration_s: Wall time, in seconds.
        metadata_location: The table's metadata file afterwards.
    """

    table: str
    expired_snapshots: int
    kept_snapshots: int
    deleted_files: int
    deleted_bytes: int
    orphan_sweep_skipped: str | None
    duration_s: float
    metadata_location: str


def maintain_table(
    catalog: IcebergCatalog,
    identifier: str | tuple[str, ...],
    policy: RetentionPolicy | None = None,
    *,
    now: datetime | None = None,
) -> MaintenanceResult:
    """Apply ``policy`` to the table: expire snapshots, delete unreferenced files.

    Args:
        catalog: An open catalog.
        identifier: ``namespace.table``.
        policy: The retention policy; defaults to :class:`RetentionPolicy()`.
        now: The current time (for tests); defaults to the clock.

    Raises:
        LakehouseError: The catalog or the storage failed.
    """
    started = time.perf_counter()
    policy = policy or RetentionPolicy()
    now = now or datetime.now(timezone.utc)
    name = ".".join(table_name(identifier))
    with translated_errors(where=describe_catalog(catalog), action=f"maintain table {name}"):
        table = _apply_metadata_retention(load_table(catalog, identifier), policy)
        expired = _snapshots_to_expire(table, policy, now)
        candidates = _files_only_in(table, expired) if expired else set()
        if expired:
            table.maintenance.expire_snapshots().by_ids([s.snapshot_id for s in expired]).commit()
            table = table.refresh()
        retained = _referenced_files(table)
        deleted, deleted_bytes = _delete(table, sorted(candidates - retained))
        skipped: str | None = None
        if policy.remove_orphans:
            skipped = _orphan_sweep_refusal(table)
            found = _file_system(table)
            if skipped is None and found is not None:
                orphans = _orphans(found, retained, now - policy.orphan_grace)
                more, more_bytes = _delete_paths(found[1], orphans)
                deleted, deleted_bytes = deleted + more, deleted_bytes + more_bytes
            else:
                logger.warning("orphan files of %s not removed: %s", name, skipped)
    return MaintenanceResult(name, len(expired), len(table.snapshots()), deleted, deleted_bytes, skipped,
                             time.perf_counter() - started, table.metadata_location)


def _apply_metadata_retention(table: Table, policy: RetentionPolicy) -> Table:
    wanted = {_DELETE_AFTER_COMMIT: "true", _PREVIOUS_VERSIONS_MAX: str(policy.metadata_versions_to_keep)}
    if all(table.properties.get(key) == value for key, value in wanted.items()):
        return table
    return table.transaction().set_properties(wanted).commit_transaction()


def _snapshots_to_expire(table: Table, policy: RetentionPolicy, now: datetime) -> list[Snapshot]:
    protected = {ref.snapshot_id for ref in table.metadata.refs.values()}
    newest_first = sorted(table.snapshots(), key=lambda s: s.timestamp_ms, reverse=True)
    cutoff_ms = int((now - policy.max_snapshot_age).timestamp() * 1000)
    return [
        snapshot for snapshot in newest_first[policy.min_snapshots_to_keep:]
        if snapshot.timestamp_ms < cutoff_ms and snapshot.snapshot_id not in protected
    ]


def _files_only_in(table: Table, expired: list[Snapshot]) -> set[str]:
    """Manifest lists, manifests and the files in them that only expired snapshots refer to.

    Whether a file is still needed is decided afterwards against the retained snapshots; a
    manifest a retained snapshot also lists is skipped here, its files are retained anyway.
    """
    expired_ids = {s.snapshot_id for s in expired}
    kept_manifests = {
        manifest.manifest_path
        for snapshot in table.snapshots() if snapshot.snapshot_id not in expired_ids
        for manifest in snapshot.manifests(table.io)
    }
    files: set[str] = set()
    for snapshot in expired:
        files.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in kept_manifests or manifest.manifest_path in files:
                continue
            files.add(manifest.manifest_path)
            files.update(e.data_file.file_path for e in manifest.fetch_manifest_entry(table.io, discard_deleted=False))
    return files


def _referenced_files(table: Table) -> set[str]:
    """Every file the table's current metadata refers to, directly or through its snapshots."""
    files = {table.metadata_location, *(entry.metadata_file for entry in table.metadata.metadata_log)}
    files.update(stat.statistics_path for stat in table.metadata.statistics)
    files.update(stat.statistics_path for stat in table.metadata.partition_statistics)
    seen: set[str] = set()
    for snapshot in table.snapshots():
        files.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            if manifest.manifest_path in seen:
                continue
            seen.add(manifest.manifest_path)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                # A file deleted in a retained snapshot is still read by its parent's readers
                # only if that parent is retained too, which keeps it referenced there.
                if entry.status != ManifestEntryStatus.DELETED:
                    files.add(entry.data_file.file_path)
    files.update(seen)
    return files


def _file_system(table: Table) -> tuple[PyArrowFileIO, FileSystem, str] | None:
    io = table.io
    if not isinstance(io, PyArrowFileIO):
        return None
    scheme, netloc, path = io.parse_location(table.location(), io.properties)
    return io, io.fs_by_scheme(scheme, netloc), path


def _orphan_sweep_refusal(table: Table) -> str | None:
    if _file_system(table) is None:
        return f"the table's FileIO is {type(table.io).__name__}, which cannot list files"
    if table.location().rstrip("/").rsplit("/", 1)[-1] != table.name()[-1]:
        return f"its location {table.location()} does not end in the table name, so it may be shared"
    return None


def _orphans(found: tuple[PyArrowFileIO, FileSystem, str], referenced: set[str], older_than: datetime) -> list[str]:
    """Paths under the table's location that nothing refers to and that are older than the grace."""
    io, fs, root = found
    kept = {io.parse_location(location, io.properties)[2] for location in referenced}
    orphans = []
    for info in fs.get_file_info(FileSelector(root, recursive=True, allow_not_found=True)):
        if info.type != FileType.File or info.path in kept:
            continue
        mtime = info.mtime
        if mtime is not None and mtime.tzinfo is None:
            mtime = mtime.replace(tzinfo=timezone.utc)
        if mtime is not None and mtime < older_than:
            orphans.append(info.path)
    return orphans


def _delete(table: Table, locations: Iterable[str]) -> tuple[int, int]:
    """Delete files by location; returns how many and their bytes. A file already gone is skipped."""
    locations = list(locations)
    found = _file_system(table)
    if found is None:
        count = 0
        for location in locations:
            try:
                table.io.delete(location)
            except FileNotFoundError:
                continue
            count += 1
        return count, 0
    io, fs, _ = found
    return _delete_paths(fs, [io.parse_location(location, io.properties)[2] for location in locations])


def _delete_paths(fs: FileSystem, paths: list[str]) -> tuple[int, int]:
    count = size = 0
    for info in fs.get_file_info(paths) if paths else []:
        if info.type != FileType.File:
            continue
        try:
            fs.delete_file(info.path)
        except FileNotFoundError:
            continue
        count += 1
        size += info.size or 0
    return count, size
