"""Contracts between products: every refusal of an input port, against a real SQL catalog."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from floe.errors import SpecError
from floe.lakehouse import open_catalog
from floe.mesh.ports import PORT_VERSION_PROPERTY, declared_type, readable
from floe.mesh.product_compile import prepare_product
from floe.mesh.records import PortColumn, ProductRecord, RegisteredPort, write_record
from floe.spec.project import Project, load_project

CONSUMER = """\
  ports:
    inputs:
      - name: sales.orders.revenue
        version: "{range}"
        columns: {columns}
"""


def _publish(project: Project, mesh: Path, data: pa.Table, version: str = "1.0.0", *, table: bool = True,
             port: str = "revenue") -> Any:
    """What 'floe product register' leaves: the port's table and the producer's record."""
    environment = project.environment
    catalog = open_catalog(environment.catalog, environment.storage, project.root)
    if table:
        catalog.create_namespace_if_not_exists(("sales", "orders"))
        created = catalog.create_table(("sales", "orders", port), schema=data.schema,
                                       properties={PORT_VERSION_PROPERTY: version})
        created.append(data)
    write_record(mesh / "domains" / "sales" / "products", ProductRecord(
        name="orders", version="0.1.0", domain="sales", domain_version="1.0.0", image_repository="r",
        image_tag="t", artifacts_json="a", registered_at=datetime.now(timezone.utc).isoformat(),
        ports=[RegisteredPort(name=port, version=version, model="m", table=f"sales.orders.{port}",
                              columns=[PortColumn(name=f.name, type=str(f.type)) for f in data.schema],
                              rows=data.num_rows)]))
    return catalog


DATA = pa.table({"customer_id": pa.array([1, 2], pa.int32()), "revenue": pa.array([3.5, 0.0], pa.float64())})


def _consumer(product: Callable[[str, str], Path], range_: str = "^1.0.0",
              columns: str = "{customer_id: bigint, revenue: double}") -> Project:
    return load_project(product("shop", CONSUMER.format(range=range_, columns=columns)), environ={})


def _refusals(project: Project) -> list[str]:
    with pytest.raises(SpecError) as info:
        prepare_product(project)
    return [issue.render() for issue in info.value.issues]


def test_a_compatible_port_is_pinned_and_declared_as_a_dbt_source(mesh: Path, product: Any) -> None:
    project = _consumer(product)
    catalog = _publish(project, mesh, DATA)
    [pinned] = prepare_product(project)
    assert pinned.dataset == "sales.orders.revenue" and pinned.version == "1.0.0"
    assert pinned.metadata_location == catalog.load_table(("sales", "orders", "revenue")).metadata_location
    assert (pinned.schema_name, pinned.table) == ("sales_orders", "revenue")
    sources = (mesh / "shop" / "dbt" / "models" / "_floe_input_ports.yml").read_text(encoding="utf-8")
    assert "name: sales_orders" in sources and "- name: revenue" in sources and "data_type: double" in sources


def test_an_unregistered_producer_is_named(mesh: Path, product: Any) -> None:
    [issue] = _refusals(_consumer(product))
    assert "product.ports.inputs[0].name: input port sales.orders.revenue: product sales.orders is not registered" \
        in issue
    assert "floe product register" in issue


def test_a_port_the_producer_does_not_have_is_named(mesh: Path, product: Any) -> None:
    project = _consumer(product)
    _publish(project, mesh, DATA, port="margin")
    [issue] = _refusals(project)
    assert "product sales.orders has no output port 'revenue'" in issue and "registered ports: margin" in issue


def test_a_registered_port_without_its_table_is_named(mesh: Path, product: Any) -> None:
    project = _consumer(product)
    _publish(project, mesh, DATA, table=False)
    [issue] = _refusals(project)
    assert "is registered but its table is not in the shared catalog" in issue


def test_a_dropped_column_is_named(mesh: Path, product: Any) -> None:
    project = _consumer(product)
    _publish(project, mesh, DATA.drop_columns(["revenue"]), "1.1.0")
    [issue] = _refusals(project)
    assert ("product.ports.inputs[0].columns.revenue: input port sales.orders.revenue (version 1.1.0): "
            "column 'revenue' was dropped") in issue


def test_a_retyped_column_is_named(mesh: Path, product: Any) -> None:
    project = _consumer(product)
    _publish(project, mesh, DATA.set_column(1, "revenue", pa.array(["3.5", "0"])))
    [issue] = _refusals(project)
    assert "column 'revenue' was retyped to string; this product reads it as double" in issue


def test_a_major_version_bump_is_named(mesh: Path, product: Any) -> None:
    project = _consumer(product)
    _publish(project, mesh, DATA, "2.0.0")
    [issue] = _refusals(project)
    assert ("product.ports.inputs[0].version: input port sales.orders.revenue is at version 2.0.0, outside the "
            "accepted range '^1.0.0' — a major version bump to 2.x, a breaking change") in issue


def test_a_version_below_the_range_is_not_called_a_major_bump(mesh: Path, product: Any) -> None:
    project = _consumer(product, range_=">=1.2.0,<2.0.0")
    _publish(project, mesh, DATA, "1.1.0")
    [issue] = _refusals(project)
    assert "outside the accepted range '>=1.2.0,<2.0.0'" in issue and "major" not in issue


def test_an_unknown_declared_type_is_named(mesh: Path, product: Any) -> None:
    project = _consumer(product, columns="{revenue: money}")
    _publish(project, mesh, DATA)
    [issue] = _refusals(project)
    assert "columns.revenue: unknown column type 'money'" in issue


def test_an_untyped_column_only_has_to_exist(mesh: Path, product: Any) -> None:
    project = _consumer(product, columns="{revenue: null, customer_id: integer}")
    _publish(project, mesh, DATA)
    assert len(prepare_product(project)) == 1


@pytest.mark.parametrize(("declared", "iceberg", "ok"), [
    ("bigint", "int", True), ("integer", "long", False), ("double", "float", True), ("float", "double", False),
    ("decimal", "decimal(18, 2)", True), ("timestamp", "timestamptz", True), ("string", "date", False),
])
def test_reading_a_column_may_widen_never_narrow(declared: str, iceberg: str, ok: bool) -> None:
    canonical = declared_type(declared)
    assert canonical is not None and readable(canonical, iceberg) is ok


def test_type_aliases() -> None:
    assert declared_type("VARCHAR") == "string" and declared_type("long") == "bigint"
    assert declared_type("decimal(10,2)") == "decimal" and declared_type("money") is None
