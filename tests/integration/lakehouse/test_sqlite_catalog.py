"""The embedded default end to end: SQL catalog on SQLite, local warehouse, DuckDB reading it."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from floe.lakehouse import LakehouseError, append_batch, batch_ids, metadata_location, open_catalog
from floe.lakehouse.duckdb_read import create_iceberg_views, iceberg_views
from floe.lakehouse.tables import BATCH_ID_SUMMARY, BATCH_LEDGER_PROPERTY
from floe.spec.platform import LocalStorage, SqlCatalog

from .conftest import ORDERS_SCHEMA, orders_batch

pytestmark = pytest.mark.integration


def test_first_append_creates_namespace_and_table_under_the_project(sqlite_catalog, project: Path) -> None:
    result = append_batch(sqlite_catalog, "bronze.orders", orders_batch(0), "batch-0")

    assert (result.table, result.batch_id, result.rows, result.skipped) == ("bronze.orders", "batch-0", 5, False)
    assert ("bronze",) in sqlite_catalog.list_namespaces()
    table = sqlite_catalog.load_table("bronze.orders")
    assert result.snapshot_id == table.current_snapshot().snapshot_id
    assert result.metadata_location == table.metadata_location
    assert Path(result.metadata_location).is_relative_to(project / ".floe" / "lakehouse" / "bronze" / "orders")
    assert (project / ".floe" / "catalog.db").is_file()
    # Arrow nullability is kept: non-nullable fields are required columns.
    required = {f.name: f.required for f in table.schema().fields}
    assert required == {"order_id": True, "customer": True, "status": False, "amount": True,
                        "ordered_at": True, "_batch_id": True}
    assert str(table.schema().find_field("ordered_at").field_type) == "timestamptz"
    assert str(table.schema().find_field("amount").field_type) == "decimal(12, 2)"
    assert table.current_snapshot().summary.additional_properties[BATCH_ID_SUMMARY] == "batch-0"


def test_retried_batch_is_not_appended_twice(sqlite_catalog) -> None:
    first = append_batch(sqlite_catalog, "bronze.orders", orders_batch(0), "batch-0")
    append_batch(sqlite_catalog, "bronze.orders", orders_batch(1), "batch-1")
    retry = append_batch(sqlite_catalog, "bronze.orders", orders_batch(0), "batch-0")

    assert retry.skipped and retry.rows == 0
    assert retry.snapshot_id == first.snapshot_id
    table = sqlite_catalog.load_table("bronze.orders")
    assert table.scan().to_arrow().num_rows == 10
    assert len(table.snapshots()) == 2
    assert batch_ids(sqlite_catalog, "bronze.orders") == ["batch-0", "batch-1"]
    assert json.loads(table.properties[BATCH_LEDGER_PROPERTY]) == ["batch-0", "batch-1"]


def test_ledger_keeps_only_the_most_recent_batch_ids(sqlite_catalog) -> None:
    for batch in range(4):
        append_batch(sqlite_catalog, "bronze.orders", orders_batch(batch), f"b{batch}", ledger_size=2)
    table = sqlite_catalog.load_table("bronze.orders")
    assert json.loads(table.properties[BATCH_LEDGER_PROPERTY]) == ["b2", "b3"]
    # The snapshots still remember the older ones.
    assert batch_ids(sqlite_catalog, "bronze.orders") == ["b0", "b1", "b2", "b3"]
    assert append_batch(sqlite_catalog, "bronze.orders", orders_batch(0), "b0").skipped


def test_new_column_is_added_and_older_rows_read_null(sqlite_catalog, duck) -> None:
    append_batch(sqlite_catalog, "bronze.orders", orders_batch(0), "b0")
    wider = orders_batch(1).append_column(pa.field("channel", pa.string(), nullable=False),
                                          pa.array(["web"] * 5))
    result = append_batch(sqlite_catalog, "bronze.orders", wider, "b1")

    table = sqlite_catalog.load_table("bronze.orders")
    channel = table.schema().find_field("channel")
    assert not channel.required  # older rows have no value
    assert [f.name for f in table.schema().fields][-1] == "channel"
    create_iceberg_views(duck, iceberg_views(sqlite_catalog, ["bronze.orders"]))
    rows = duck.execute(
        "SELECT _batch_id, count(*), count(channel) FROM bronze.orders GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [(0, 5, 0), (1, 5, 5)]
    assert result.metadata_location == table.metadata_location


def test_widening_a_type_evolves_the_column(sqlite_catalog) -> None:
    narrow = pa.table({"id": pa.array([1], pa.int32())})
    append_batch(sqlite_catalog, "bronze.events", narrow, "n")
    append_batch(sqlite_catalog, "bronze.events", pa.table({"id": pa.array([2**40], pa.int64())}), "w")
    table = sqlite_catalog.load_table("bronze.events")
    assert str(table.schema().find_field("id").field_type) == "long"
    assert sorted(table.scan().to_arrow().column("id").to_pylist()) == [1, 2**40]


def test_a_changed_column_type_is_a_floe_error(sqlite_catalog) -> None:
    append_batch(sqlite_catalog, "bronze.orders", orders_batch(0), "b0")
    changed = orders_batch(1).set_column(2, "status", pa.array([1, 2, 3, 4, 5], pa.int64()))
    with pytest.raises(LakehouseError) as caught:
        append_batch(sqlite_catalog, "bronze.orders", changed, "b1")
    assert "does not fit table bronze.orders" in caught.value.message
    assert "status" in caught.value.message
    assert batch_ids(sqlite_catalog, "bronze.orders") == ["b0"]


def test_a_missing_required_column_is_a_floe_error(sqlite_catalog) -> None:
    append_batch(sqlite_catalog, "bronze.orders", orders_batch(0), "b0")
    with pytest.raises(LakehouseError, match="lacks column the table requires: customer"):
        append_batch(sqlite_catalog, "bronze.orders", orders_batch(1).drop_columns(["customer"]), "b1")
    # A missing optional column is fine: its values are null.
    append_batch(sqlite_catalog, "bronze.orders", orders_batch(2).drop_columns(["status"]), "b2")
    assert sqlite_catalog.load_table("bronze.orders").scan().to_arrow().num_rows == 10


def test_nullable_arrow_data_fits_a_required_column_until_it_holds_nulls(sqlite_catalog) -> None:
    append_batch(sqlite_catalog, "bronze.orders", orders_batch(0), "b0")
    relaxed_schema = pa.schema([f.with_nullable(True) for f in ORDERS_SCHEMA])
    no_nulls = orders_batch(1).cast(relaxed_schema)
    append_batch(sqlite_catalog, "bronze.orders", no_nulls, "b1")
    assert sqlite_catalog.load_table("bronze.orders").schema().find_field("customer").required

    with_nulls = orders_batch(2).cast(relaxed_schema).set_column(1, "customer", pa.array([None] * 5, pa.string()))
    append_batch(sqlite_catalog, "bronze.orders", with_nulls, "b2")
    table = sqlite_catalog.load_table("bronze.orders")
    assert not table.schema().find_field("customer").required
    assert table.schema().find_field("order_id").required


def test_nanosecond_timestamps_are_stored_as_microseconds(sqlite_catalog) -> None:
    data = pa.table({"at": pa.array([1_700_000_000_123_456_789], pa.timestamp("ns", tz="UTC"))})
    append_batch(sqlite_catalog, "bronze.clicks", data, "b0")
    stored = sqlite_catalog.load_table("bronze.clicks").scan().to_arrow().column("at")
    assert stored.type == pa.timestamp("us", tz="UTC")
    assert stored[0].value == 1_700_000_000_123_456


def test_duckdb_reads_the_metadata_location_with_equal_rows_and_values(sqlite_catalog, duck) -> None:
    for batch in range(3):
        append_batch(sqlite_catalog, "bronze.orders", orders_batch(batch), f"b{batch}")
    location = metadata_location(sqlite_catalog, "bronze.orders")
    expected = sqlite_catalog.load_table("bronze.orders").scan().to_arrow().sort_by("order_id")

    views = iceberg_views(sqlite_catalog, ["bronze.orders"])
    assert views[0].metadata_location == location
    assert create_iceberg_views(duck, views) == ['"bronze"."orders"']
    got = duck.execute("SELECT * FROM bronze.orders ORDER BY order_id").fetch_arrow_table()
    assert got.num_rows == expected.num_rows == 15
    assert got.column("order_id").to_pylist() == expected.column("order_id").to_pylist()
    assert got.column("amount").to_pylist() == expected.column("amount").to_pylist()
    assert got.column("amount").to_pylist()[1] == Decimal("3.25")
    assert got.column("status").to_pylist() == expected.column("status").to_pylist()
    assert [v.timestamp() for v in got.column("ordered_at").to_pylist()] == \
        [v.timestamp() for v in expected.column("ordered_at").to_pylist()]

    # A view reads one snapshot; re-creating it after an append shows the new rows.
    append_batch(sqlite_catalog, "bronze.orders", orders_batch(3), "b3")
    assert duck.execute("SELECT count(*) FROM bronze.orders").fetchone() == (15,)
    create_iceberg_views(duck, iceberg_views(sqlite_catalog, ["bronze.orders"]))
    assert duck.execute("SELECT count(*) FROM bronze.orders").fetchone() == (20,)


def test_concurrent_writers_of_the_same_batch_append_it_once(project: Path) -> None:
    """Two processes' worth of catalogs race the same batch id: the optimistic commit lets one win."""
    spec, storage = SqlCatalog(type="sql"), LocalStorage(type="local")
    setup = open_catalog(spec, storage, project)
    append_batch(setup, "bronze.orders", orders_batch(0), "b0")
    catalogs = [open_catalog(spec, storage, project) for _ in range(4)]
    barrier = threading.Barrier(len(catalogs))
    results = []

    def write(catalog) -> None:
        barrier.wait()
        results.append(append_batch(catalog, "bronze.orders", orders_batch(1), "b1"))

    threads = [threading.Thread(target=write, args=(c,)) for c in catalogs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.skipped for r in results) == [False, True, True, True]
    table = setup.load_table("bronze.orders")
    assert table.scan().to_arrow().num_rows == 10
    assert batch_ids(setup, "bronze.orders") == ["b0", "b1"]


def test_a_table_floe_did_not_create_gets_its_commit_retries_switched_off(sqlite_catalog) -> None:
    sqlite_catalog.create_namespace("raw")
    sqlite_catalog.create_table("raw.events", schema=pa.schema([pa.field("id", pa.int64())]))
    append_batch(sqlite_catalog, "raw.events", pa.table({"id": [1]}), "b0")
    assert sqlite_catalog.load_table("raw.events").properties["commit.retry.num-retries"] == "0"


def test_bad_identifiers_and_batch_ids_are_floe_errors(sqlite_catalog) -> None:
    with pytest.raises(LakehouseError, match="needs a namespace"):
        append_batch(sqlite_catalog, "orders", orders_batch(0), "b0")
    with pytest.raises(LakehouseError, match="invalid batch id"):
        append_batch(sqlite_catalog, "bronze.orders", orders_batch(0), "  ")
    with pytest.raises(LakehouseError, match="does not exist"):
        metadata_location(sqlite_catalog, "bronze.nothing")
