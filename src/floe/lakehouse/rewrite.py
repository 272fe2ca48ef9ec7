"""Rewrite one Iceberg table's metadata for a new root: the same data files, every location moved.

Iceberg names files by absolute location: the metadata JSON names the table's location and
each snapshot's manifest list, a manifest list names its manifests, a manifest its data
files. When the folder holding a table is moved or copied, those names still point at the
old place. :func:`rewrite_table_metadata` writes new copies of the metadata JSON, the
manifest lists and the manifests with every location under ``old`` moved under ``new``.

* It reads through the new locations only, never the old ones (after ``mv`` they are gone;
  after ``cp -a`` they belong to the original, which must not even be relied on).
* It writes new files with new names under the table's new location and changes no existing
  file; data files are not rewritten, only renamed in the manifests.
* Nothing refers to the new files until the caller points the catalog at the new metadata
  file, so until then the table is as it was. On failure the files written so far are
  deleted (if that fails too, maintenance's orphan sweep removes them later).
* The new metadata starts a fresh metadata log: earlier metadata files still name the old
  root, so time travel through them would read the original's files.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from pyiceberg.avro.file import AvroFile
from pyiceberg.io import FileIO, load_file_io
from pyiceberg.manifest import (
    DEFAULT_READ_VERSION,
    MANIFEST_ENTRY_SCHEMAS,
    DataFile,
    DataFileContent,
    FileFormat,
    ManifestContent,
    ManifestEntry,
    ManifestEntryStatus,
    ManifestFile,
    read_manifest_list,
    write_manifest,
    write_manifest_list,
)
from pyiceberg.serializers import FromInputFile, ToOutputFile
from pyiceberg.table import TableProperties

from floe.lakehouse.errors import LakehouseError

if TYPE_CHECKING:
    from pyiceberg.avro.codecs import AvroCompressionCodec
    from pyiceberg.table.metadata import TableMetadata
    from pyiceberg.typedef import Properties

_PATH_PROPERTIES = ("write.data.path", "write.metadata.path", "write.object-storage.path",
                    "write.folder-storage.path")
_LOCAL_SCHEMES = ("", "file://", "file:")  # pyiceberg writes plain paths; other engines file:/ URLs
_VERSION = re.compile(r"^(\d+)-")


@dataclass(frozen=True)
class PathMap:
    """Moves locations under ``old`` to the same place under ``new`` (both without a trailing '/')."""

    old: str
    new: str

    def covers(self, location: str) -> bool:
        """Whether ``location`` lies under ``old`` (plain, or with a ``file:`` scheme)."""
        return self._scheme(location) is not None

    def __call__(self, location: str) -> str:
        """``location`` moved under ``new``; a location elsewhere is returned unchanged."""
        scheme = self._scheme(location)
        return location if scheme is None else scheme + self.new + location[len(scheme + self.old):]

    def _scheme(self, location: str) -> str | None:
        for scheme in _LOCAL_SCHEMES:
            head = scheme + self.old
            if location == head or location.startswith(head + "/"):
                return scheme
        return None


@dataclass(frozen=True)
class RewrittenTable:
    """The new metadata file and every file written for it."""

    metadata_location: str
    written: tuple[str, ...]


def rewrite_table_metadata(metadata_location: str, paths: PathMap, io_properties: Properties) -> RewrittenTable:
    """Write the table's metadata again with every location moved by ``paths``.

    Args:
        metadata_location: The table's current metadata file, as the catalog names it (old root).
        paths: From the old root to the new one; the table must lie under the old root.
        io_properties: FileIO properties (the catalog's).

    Returns:
        The new metadata file (to put into the catalog) and all files written.

    Raises:
        LakehouseError: The table does not lie under the old root, has delete files, or has a
            format version floe cannot write; or its files cannot be read or written.
    """
    source = paths(metadata_location)
    io = load_file_io(dict(io_properties), source)
    written: list[str] = []
    try:
        metadata = FromInputFile.table_metadata(io.new_input(source))
        if not paths.covers(metadata.location):
            raise LakehouseError(f"the table at {metadata.location} does not lie under {paths.old}",
                                 hint="only tables under the project's own warehouse are relocated")
        if metadata.format_version not in (1, 2):
            raise LakehouseError(f"cannot relocate a format-version {metadata.format_version} table "
                                 f"({metadata.location})", hint="relocate it with an Iceberg engine that writes v3")
        new_metadata = _moved_metadata(io, metadata, paths, written)
        target = _next_metadata_location(paths(metadata.location), source)
        written.append(target)
        ToOutputFile.table_metadata(new_metadata, io.new_output(target))
    except BaseException:
        _delete_quietly(io, written)
        raise
    return RewrittenTable(target, tuple(written))


def delete_written(rewritten: RewrittenTable, io_properties: Properties) -> None:
    """Delete what :func:`rewrite_table_metadata` wrote (when the catalog did not take it)."""
    _delete_quietly(load_file_io(dict(io_properties), rewritten.metadata_location), list(rewritten.written))


def _moved_metadata(io: FileIO, metadata: TableMetadata, paths: PathMap, written: list[str]) -> TableMetadata:
    location = paths(metadata.location)
    # The table's codec name, as pyiceberg's own writers take it (the Avro writer maps gzip, zstd).
    compression = cast("AvroCompressionCodec", metadata.properties.get(
        TableProperties.WRITE_AVRO_COMPRESSION, TableProperties.WRITE_AVRO_COMPRESSION_DEFAULT))
    manifests: dict[str, ManifestFile | None] = {}  # old manifest path -> its rewrite (None: empty)
    snapshots = []
    for snapshot in metadata.snapshots:
        listed = []
        for manifest in read_manifest_list(io.new_input(paths(snapshot.manifest_list))):
            if manifest.manifest_path not in manifests:
                manifests[manifest.manifest_path] = _moved_manifest(io, metadata, manifest, paths, location,
                                                                    compression, written)
            moved = manifests[manifest.manifest_path]
            if moved is not None:
                listed.append(moved)
        manifest_list = f"{location}/metadata/snap-{snapshot.snapshot_id}-0-{uuid.uuid4()}.avro"
        written.append(manifest_list)
        with write_manifest_list(metadata.format_version, io.new_output(manifest_list), snapshot.snapshot_id,
                                 snapshot.parent_snapshot_id, snapshot.sequence_number, compression) as writer:
            writer.add_manifests(listed)
        snapshots.append(snapshot.model_copy(update={"manifest_list": manifest_list}))
    properties = {key: paths(value) if key in _PATH_PROPERTIES else value
                  for key, value in metadata.properties.items()}
    return metadata.model_copy(update={
        "location": location,
        "snapshots": snapshots,
        "metadata_log": [],
        "properties": properties,
        "statistics": [s.model_copy(update={"statistics_path": paths(s.statistics_path)})
                       for s in metadata.statistics],
        "partition_statistics": [s.model_copy(update={"statistics_path": paths(s.statistics_path)})
                                 for s in metadata.partition_statistics],
    })


def _moved_manifest(io: FileIO, metadata: TableMetadata, manifest: ManifestFile, paths: PathMap, location: str,
                    compression: AvroCompressionCodec, written: list[str]) -> ManifestFile | None:
    """The manifest written again with its data files' locations moved (None when it lists no file)."""
    if manifest.content != ManifestContent.DATA:
        raise LakehouseError(f"cannot relocate the table at {metadata.location}: it has delete files",
                             hint="compact the table (rewrite its data without deletes) where it was created")
    entries = _raw_entries(io, paths(manifest.manifest_path))
    if not entries:
        return None
    target = f"{location}/metadata/{uuid.uuid4()}-m0.avro"
    written.append(target)
    snapshot_id = manifest.added_snapshot_id if manifest.added_snapshot_id is not None else -1
    writer = write_manifest(metadata.format_version, metadata.specs()[manifest.partition_spec_id],
                            metadata.schema(), io.new_output(target), snapshot_id, compression)
    with writer:
        for entry in entries:
            entry.data_file[1] = paths(entry.data_file.file_path)  # position 1 is file_path
            writer.add_entry(entry)
    length = writer.to_manifest_file().manifest_length
    # Everything else (sequence numbers, counts, partition summaries) is the original's.
    fields = [manifest[position] for position in range(len(manifest))]
    fields[0], fields[1] = target, length  # manifest_path, manifest_length
    return ManifestFile(*fields)


def _raw_entries(io: FileIO, location: str) -> list[ManifestEntry]:
    """A manifest's entries as stored: no sequence numbers or snapshot ids inherited, so that
    writing them again keeps what was explicit explicit and what was inherited inherited."""
    with AvroFile[ManifestEntry](
        io.new_input(location),
        MANIFEST_ENTRY_SCHEMAS[DEFAULT_READ_VERSION],
        read_types={-1: ManifestEntry, 2: DataFile},
        read_enums={0: ManifestEntryStatus, 101: FileFormat, 134: DataFileContent},
    ) as reader:
        return list(reader)


def _next_metadata_location(table_location: str, current: str) -> str:
    """``<location>/metadata/<version + 1>-<uuid>.metadata.json``, keeping a compressed suffix."""
    name = current.rsplit("/", 1)[-1]
    found = _VERSION.match(name)
    version = int(found.group(1)) + 1 if found else 0
    suffix = ".gz.metadata.json" if name.endswith(".gz.metadata.json") else ".metadata.json"
    return f"{table_location}/metadata/{version:05d}-{uuid.uuid4()}{suffix}"


def _delete_quietly(io: FileIO, locations: list[str]) -> None:
    for location in locations:
        try:
            io.delete(location)
        except (OSError, ValueError):
            continue  # never written, or gone: maintenance's orphan sweep covers the rest
