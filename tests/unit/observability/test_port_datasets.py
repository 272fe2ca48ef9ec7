"""A data product's ports are named alike in the producer's and the consumer's lineage."""

from __future__ import annotations

from pathlib import Path

from floe.observability.lineage_naming import DatasetId, DatasetNamer, PortDatasets
from floe.spec.platform import EnvironmentSpec

MANIFEST = {
    "nodes": {
        "model.p.customer_revenue": {"resource_type": "model", "name": "customer_revenue", "schema": "main",
                                     "database": "warehouse", "config": {"materialized": "table"}},
        "model.p.other": {"resource_type": "model", "name": "other", "schema": "main", "database": "warehouse",
                          "config": {"materialized": "table"}},
    },
    "sources": {
        "source.c.sales_orders.customer_revenue": {"resource_type": "source", "name": "customer_revenue",
                                                   "schema": "sales_orders", "database": "warehouse"},
    },
}
PORTS = PortDatasets("file:///mesh/lake", {"sales_orders.customer_revenue": "sales.orders.customer_revenue"},
                     {"customer_revenue": "sales.orders.customer_revenue"})


def test_the_output_port_and_the_input_port_are_one_dataset(tmp_path: Path) -> None:
    namer = DatasetNamer(MANIFEST, EnvironmentSpec(), tmp_path, ports=PORTS)
    port = DatasetId("file:///mesh/lake", "sales.orders.customer_revenue")
    assert namer.output_port("model.p.customer_revenue") == port
    assert namer.node("source.c.sales_orders.customer_revenue") == port
    # The model itself is still its warehouse table; other models publish no port.
    assert namer.node("model.p.customer_revenue") == DatasetId(
        f"duckdb://{(tmp_path / '.floe/warehouse.duckdb').as_posix()}", "warehouse.main.customer_revenue")
    assert namer.output_port("model.p.other") is None


def test_without_ports_nothing_changes(tmp_path: Path) -> None:
    namer = DatasetNamer(MANIFEST, EnvironmentSpec(), tmp_path)
    assert namer.output_port("model.p.customer_revenue") is None
    assert namer.node("source.c.sales_orders.customer_revenue") is not None
    assert namer.node("source.c.sales_orders.customer_revenue").namespace.startswith("duckdb://")  # type: ignore[union-attr]
