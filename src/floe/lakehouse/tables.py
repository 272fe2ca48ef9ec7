"""Bronze tables: append an Arrow batch at most once, creating and evolving the table on the way.

Idempotence. Every append records its batch id twice, in the same commit:

* in the snapshot summary (``floe.batch-id``), which says which snapshot holds the batch, and
* in the table property ``floe.batch-ids``, a JSON list of the most recent batch ids
  (``ledger_size``, default 1000, oldest dropped first). Snapshot expiry forgets summaries;
  the property survives it.

Before appending, :func:`append_batch` looks for the batch id in both and, if found, returns a
result with ``skipped=True``. The check and the append are one optimistic commit: the commit
requires the branch head the check saw, so if another writer appended in between (possibly
the same batch) the commit fails, floe reloads the table, checks again and retries. For that,
pyiceberg's own retry — which would re-apply the append and a stale ledger on the new head —
is switched off on floe's tables (``commit.retry.num-retries = 0``).

The crash window. Data files, manifests and the new metadata file are written first; the
catalog's pointer swap is the commit. A crash before the swap leaves unreferenced files and
no batch: the retry appends it, and maintenance removes the orphans. A crash after the swap,
before the caller learns of it, leaves the batch committed: the retry finds its id and skips.
If the response of a REST commit is lost, floe reloads the table and decides by the ledger.
What is not covered: a batch retried after more than ``ledger_size`` later batches *and*
after its snapshot expired is appended again. Batch ids must be deterministic for their data
(the same id always means the same rows) — floe cannot check that.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.catalog import Catalog as IcebergCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    CommitStateUnknownException,
    NoSuchTableError,
    TableAlreadyExistsError,
    ValidationError,
)
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.schema import Schema
from pyiceberg.table import Table

from floe.lakehouse.catalogs import describe_catalog
from floe.lakehouse.errors import LakehouseError, translated_errors
from floe.lakehouse.properties import TABLE_ROOT

BATCH_ID_SUMMARY = "floe.batch-id"
BATCH_LEDGER_PROPERTY = "floe.batch-ids"
DEFAULT_LEDGER_SIZE = 1000
MAX_BATCH_ID_LENGTH = 200
MAX_COMMIT_ATTEMPTS = 5

DEFAULT_TABLE_PROPERTIES: dict[str, str] = {
    "format-version": "2",
    # floe retries itself, re-checking the batch ledger (see the module docstring).
    "commit.retry.num-retries": "0",
    # Each commit writes a new metadata file; keep a few, delete the rest as part of the commit.
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "10",
    # One manifest per append would grow the manifest list of every later snapshot; merge
    # small manifests once there are this many, so expiry can delete the replaced ones.
    "commit.manifest-merge.enabled": "true",
    "commit.manifest.min-count-to-merge": "20",
}
"""Properties floe gives the tables it creates (maintenance may change the metadata ones)."""


@dataclass(frozen=True)
class AppendResult:
    """What :func:`append_batch` did.

    Attributes:
        table: Table identifier, e.g. ``bronze.orders``.
        batch_id: The batch id given.
        rows: Rows appended by this call (0 when skipped).
        snapshot_id: Snapshot that holds the batch; None if skipped and that snapshot expired.
        skipped: True when the batch was already in the table and nothing was written.
        duration_s: Wall time of the call, in seconds.
        metadata_location: The table's metadata file after the call (for ``iceberg_scan``).
    """

    table: str
    batch_id: str
    rows: int
    snapshot_id: int | None
    skipped: bool
    duration_s: float
    metadata_location: str


def table_name(identifier: str | tuple[str, ...]) -> tuple[str, ...]:
    """``"bronze.orders"`` as ``("bronze", "orders")``; a namespace is required."""
    parts = tuple(identifier.split(".")) if isinstance(identifier, str) else tuple(identifier)
    if len(parts) < 2 or any(not part.strip() for part in parts):
        raise LakehouseError(f"table identifier {'.'.join(parts)!r} needs a namespace and a name",
                             hint="write it as namespace.table, e.g. bronze.orders")
    return parts


def load_table(catalog: IcebergCatalog, identifier: str | tuple[str, ...]) -> Table:
    """Load a table, with floe's error when it does not exist or the catalog fails."""
    parts = table_name(identifier)
    with translated_errors(where=describe_catalog(catalog), action=f"load table {'.'.join(parts)}"):
        try:
            return catalog.load_table(parts)
        except NoSuchTableError:
            raise LakehouseError(f"table {'.'.join(parts)} does not exist in {describe_catalog(catalog)}",
                                 hint="append a batch to create it") from None


def metadata_location(catalog: IcebergCatalog, identifier: str | tuple[str, ...]) -> str:
    """The table's current metadata file, which DuckDB's ``iceberg_scan`` reads."""
    return load_table(catalog, identifier).metadata_location


def batch_ids(catalog: IcebergCatalog, identifier: str | tuple[str, ...]) -> list[str]:
    """Batch ids the table holds as far as it remembers: the ledger plus retained snapshots, oldest first."""
    return table_batch_ids(load_table(catalog, identifier))


def table_batch_ids(table: Table) -> list[str]:
    """Like :func:`batch_ids`, for a table already loaded."""
    ledger = _ledger(table)
    in_ledger = set(ledger)
    # The ledger holds the newest ids; retained snapshots may remember older ones it dropped.
    older = [
        batch for snapshot in sorted(table.snapshots(), key=lambda s: s.timestamp_ms)
        if snapshot.summary is not None
        and (batch := snapshot.summary.additional_properties.get(BATCH_ID_SUMMARY)) is not None
        and batch not in in_ledger
    ]
    return list(dict.fromkeys(older + ledger))


def _ledger(table: Table) -> list[str]:
    raw = table.properties.get(BATCH_LEDGER_PROPERTY)
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise LakehouseError(
            f"table property {BATCH_LEDGER_PROPERTY} of {'.'.join(table.name())} is not a JSON list of "
            "batch ids; floe cannot tell which batches the table holds",
            hint=f"restore it, or remove it to rely on the retained snapshots only: {raw[:80]!r}",
        )
    return value


def _snapshot_holding(table: Table, batch_id: str) -> int | None:
    for snapshot in table.snapshots():
        if snapshot.summary and snapshot.summary.additional_properties.get(BATCH_ID_SUMMARY) == batch_id:
            return snapshot.snapshot_id
    return None


def _holds(table: Table, batch_id: str) -> bool:
    return batch_id in _ledger(table) or _snapshot_holding(table, batch_id) is not None


def append_batch(
    catalog: IcebergCatalog,
    identifier: str | tuple[str, ...],
    data: pa.Table,
    batch_id: str,
    *,
    ledger_size: int = DEFAULT_LEDGER_SIZE,
    properties: Mapping[str, str] | None = None,
    summary: Mapping[str, str] | None = None,
) -> AppendResult:
    """Append ``data`` as batch ``batch_id``, unless the table already holds that batch.

    On first use the namespace and the table are created from the Arrow schema (a
    non-nullable Arrow field becomes a required column). New columns in ``data`` are added
    to the table (as optional: older rows have no value); a column the table requires but
    ``data`` has nulls in becomes optional. Nanosecond timestamps are truncated to
    microseconds, Iceberg's precision.

    Args:
        catalog: An open catalog (see :func:`floe.lakehouse.open_catalog`).
        identifier: ``namespace.table``, e.g. ``bronze.orders``.
        data: The rows.
        batch_id: Deterministic id of this batch; a retry must use the same id.
        ledger_size: How many recent batch ids the table property keeps.
        properties: Table properties to set in the same commit (what the caller must find
            again with the batch, e.g. the time window it covers).
        summary: Extra snapshot summary entries of the append.

    Returns:
        What happened, with the snapshot and the new metadata location.

    Raises:
        LakehouseError: The catalog or storage failed, the batch does not fit the table's
            schema, or other writers kept committing for all attempts.
    """
    started = time.perf_counter()
    parts = table_name(identifier)
    name = ".".join(parts)
    _check_batch_id(batch_id)
    if ledger_size < 1:
        raise ValueError("ledger_size must be at least 1")
    data = _microsecond_timestamps(data)
    with translated_errors(where=describe_catalog(catalog), action=f"append batch {batch_id!r} to {name}"):
        table = _load_or_create(catalog, parts, data.schema)
        outcome_unknown = False
        for _ in range(MAX_COMMIT_ATTEMPTS):
            if _holds(table, batch_id):
                # Present: appended earlier (a retry), or by this call if its commit's response was lost.
                mine = outcome_unknown
                return AppendResult(name, batch_id, data.num_rows if mine else 0, _snapshot_holding(table, batch_id),
                                    not mine, time.perf_counter() - started, table.metadata_location)
            try:
                table = _commit_append(table, data, batch_id, ledger_size, properties or {}, summary or {})
            except CommitFailedException:
                table = table.refresh()  # another writer committed first: check again
                continue
            except CommitStateUnknownException:
                outcome_unknown = True
                table = table.refresh()  # the response was lost: the ledger tells
                continue
            snapshot = table.current_snapshot()
            return AppendResult(name, batch_id, data.num_rows, snapshot.snapshot_id if snapshot else None,
                                False, time.perf_counter() - started, table.metadata_location)
    raise LakehouseError(
        f"cannot append batch {batch_id!r} to {name}: other writers committed first {MAX_COMMIT_ATTEMPTS} times",
        hint="retry the batch later; it is appended at most once",
    )


def _check_batch_id(batch_id: str) -> None:
    if not isinstance(batch_id, str) or not batch_id.strip() or len(batch_id) > MAX_BATCH_ID_LENGTH:
        raise LakehouseError(f"invalid batch id {batch_id!r}",
                             hint=f"use a non-empty string of at most {MAX_BATCH_ID_LENGTH} characters")


def _load_or_create(catalog: IcebergCatalog, parts: tuple[str, ...], schema: pa.Schema) -> Table:
    try:
        table = catalog.load_table(parts)
    except NoSuchTableError:
        catalog.create_namespace_if_not_exists(parts[:-1])
        root = catalog.properties.get(TABLE_ROOT)
        location = f"{root.rstrip('/')}/{'/'.join(parts)}" if root else None
        try:
            return catalog.create_table(parts, schema=schema, location=location,
                                        properties=DEFAULT_TABLE_PROPERTIES)
        except TableAlreadyExistsError:  # another writer created it a moment ago
            table = catalog.load_table(parts)
    if table.properties.get("commit.retry.num-retries") != "0":
        # A table floe did not create: switch pyiceberg's retry off before the first append.
        table = table.transaction().set_properties({"commit.retry.num-retries": "0"}).commit_transaction()
    return table


def _commit_append(table: Table, data: pa.Table, batch_id: str, ledger_size: int, properties: Mapping[str, str],
                   summary: Mapping[str, str]) -> Table:
    evolve, aligned = _align(table.schema(), data)
    tx = table.transaction()
    if _may_change(table.schema(), evolve):
        try:
            with tx.update_schema() as update:
                update.union_by_name(evolve)
        except (ValidationError, ValueError) as exc:
            raise LakehouseError(
                f"batch {batch_id!r} does not fit table {'.'.join(table.name())}: {exc}",
                hint="only new columns and widening changes (int to long, float to double) are evolved; "
                "write a changed column under a new name",
            ) from exc
    ledger = [*_ledger(table), batch_id][-ledger_size:]
    tx.set_properties({**properties, BATCH_LEDGER_PROPERTY: json.dumps(ledger, separators=(",", ":"))})
    tx.append(aligned, snapshot_properties={**summary, BATCH_ID_SUMMARY: batch_id})
    return tx.commit_transaction()


def _align(schema: Schema, data: pa.Table) -> tuple[pa.Schema, pa.Table]:
    """The schema to union into the table's, and the data to append.

    Unioning a schema that adds and widens nothing changes nothing, so it is always done:
    that is how new columns and widened types (int to long) reach the table. pyiceberg
    refuses a nullable Arrow field for a required column even without nulls, so such a
    field is declared non-nullable when it has no nulls, and the column is relaxed to
    optional when it has some.
    """
    columns = {field.name: field for field in schema.fields}
    evolve_fields: list[pa.Field] = []
    data_fields: list[pa.Field] = []
    for index, field in enumerate(data.schema):
        column = columns.get(field.name)
        if column is None:  # a new column is optional: older rows have no value
            evolve_fields.append(field.with_nullable(True))
            data_fields.append(field)
        elif column.required and field.nullable and data.column(index).null_count > 0:
            evolve_fields.append(field)
            data_fields.append(field)
        else:
            evolve_fields.append(field.with_nullable(not column.required))
            data_fields.append(field.with_nullable(field.nullable and not column.required))
    missing = [c.name for c in schema.fields if c.required and c.name not in data.schema.names]
    if missing:
        raise LakehouseError(f"the batch lacks column{'s' if len(missing) > 1 else ''} the table requires: "
                             + ", ".join(missing), hint="add the columns to the batch")
    target = pa.schema(data_fields, metadata=data.schema.metadata)
    aligned = data if target.equals(data.schema) else pa.Table.from_arrays(data.columns, schema=target)
    return pa.schema(evolve_fields), aligned


_LARGE = {pa.string(): pa.large_string(), pa.binary(): pa.large_binary()}


def _may_change(schema: Schema, evolve: pa.Schema) -> bool:
    """Whether unioning ``evolve`` could change the table's schema (a new column, a relaxed or
    a differently typed one). Skipping the no-op union saves pyiceberg several copies of the
    table metadata per append, which is most of floe's own cost for small batches."""
    current = schema_to_pyarrow(schema, include_field_ids=False)
    for field in evolve:
        index = current.get_field_index(field.name)
        if index < 0:
            return True
        column = current.field(index)
        if field.nullable != column.nullable or _LARGE.get(field.type, field.type) != column.type:
            return True
    return False


def _microsecond_timestamps(data: pa.Table) -> pa.Table:
    """Cast top-level nanosecond timestamps to microseconds (Iceberg v2 has no nanoseconds)."""
    if not any(pa.types.is_timestamp(f.type) and f.type.unit == "ns" for f in data.schema):
        return data
    fields = [
        f.with_type(pa.timestamp("us", tz=f.type.tz)) if pa.types.is_timestamp(f.type) and f.type.unit == "ns" else f
        for f in data.schema
    ]
    return data.cast(pa.schema(fields, metadata=data.schema.metadata), safe=False)
