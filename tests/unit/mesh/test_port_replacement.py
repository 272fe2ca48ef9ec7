"""Re-registering a port replaces it only once the new one is complete, on a real SQL catalog."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from floe.errors import FloeError
from floe.mesh.publish import STAGING_SUFFIX, _publish

PORT = ("sales", "orders", "customer_revenue")


@pytest.fixture
def catalog(tmp_path: Path):  # type: ignore[no-untyped-def]
    from pyiceberg.catalog.sql import SqlCatalog

    (tmp_path / "lake").mkdir()
    return SqlCatalog("shared", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=(tmp_path / "lake").as_uri())


def _rows(catalog, identifier=PORT) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return sorted(catalog.load_table(identifier).scan().to_arrow().to_pylist(), key=lambda row: str(row))


def test_a_new_schema_replaces_the_port_and_the_old_files_stay_readable(catalog) -> None:  # type: ignore[no-untyped-def]
    _publish(catalog, PORT, pa.table({"customer_id": [1, 2], "revenue": [10.0, 20.0]}), {"floe.port.version": "1.0.0"})
    old = catalog.load_table(PORT)
    columns = _publish(catalog, PORT, pa.table({"customer_id": [3], "revenue": ["30"]}), {"floe.port.version": "2.0.0"})
    assert [(c.name, c.type) for c in columns] == [("customer_id", "long"), ("revenue", "string")]
    assert _rows(catalog) == [{"customer_id": 3, "revenue": "30"}]
    assert catalog.load_table(PORT).properties["floe.port.version"] == "2.0.0"
    # A consumer that opened the old port before still reads it: its files were not touched.
    assert sorted(old.scan().to_arrow().to_pylist(), key=str) == [{"customer_id": 1, "revenue": 10.0},
                                                                    {"customer_id": 2, "revenue": 20.0}]
    assert not catalog.table_exists((*PORT[:2], PORT[2] + STAGING_SUFFIX))


def test_a_registration_that_fails_keeps_the_published_port(catalog) -> None:  # type: ignore[no-untyped-def]
    _publish(catalog, PORT, pa.table({"customer_id": [1], "revenue": [10.0]}), {"floe.port.version": "1.0.0"})
    # Iceberg has no type for an interval: the new port cannot be written.
    unwritable = pa.table({"customer_id": [1], "gap": pa.array([pa.scalar((1, 0, 0), pa.month_day_nano_interval())])})
    with pytest.raises(FloeError, match=r"Column 'gap' has an unsupported type"):
        _publish(catalog, PORT, unwritable, {"floe.port.version": "2.0.0"})
    assert _rows(catalog) == [{"customer_id": 1, "revenue": 10.0}]
    assert catalog.load_table(PORT).properties["floe.port.version"] == "1.0.0"
