"""Cube model generation from the ecommerce template's real manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from floe.errors import CompileError
from floe.semantic import build_cube_model, load_manifest
from floe.semantic.generate import cube_type

# The manifest these tests read comes from a real `dbt parse` (see conftest.py).
pytestmark = pytest.mark.process


def test_one_cube_per_semantic_model_on_its_mart(manifest: dict[str, Any]) -> None:
    model = build_cube_model(manifest)
    tables = {cube.name: cube.sql_table for cube in model.cubes}
    assert tables == {
        "orders": "main.mart_orders",
        "order_items": "main.mart_order_items",
        "daily_revenue": "main.mart_revenue",
        "customers": "main.mart_customer_segments",
        "products": "main.mart_product_analytics",
    }
    assert model.skipped == []


def test_orders_cube_keys_joins_and_measures(manifest: dict[str, Any]) -> None:
    orders = build_cube_model(manifest).cube("orders")
    dimensions = {d.name: d for d in orders.dimensions}
    assert dimensions["order_id"].primary_key and dimensions["order_id"].type == "number"
    assert not dimensions["customer_id"].primary_key
    assert dimensions["ordered_at"].type == "time"
    assert dimensions["status"].sql == "{CUBE}.status"
    assert [(j.name, j.relationship, j.sql) for j in orders.joins] == [
        ("customers", "many_to_one", "{CUBE.customer_id} = {customers.customer_id}")
    ]
    measures = {m.name: m for m in orders.measures}
    assert {name: m.type for name, m in measures.items()} == {
        "order_count": "count", "revenue": "sum", "units": "sum", "order_lines": "sum",
        "ordering_customers": "count_distinct", "average_order_value": "number", "units_per_order": "number",
    }
    assert measures["order_lines"].sql == "{CUBE}.items"
    # Derived and ratio metrics reference the measures behind their input metrics.
    assert measures["average_order_value"].sql == "{revenue} / nullif({order_count}, 0)"
    assert measures["units_per_order"].sql == "1.0 * {units} / NULLIF({order_count}, 0)"
    # A simple metric's label titles its measure.
    assert measures["revenue"].title == "Revenue"
    assert measures["order_count"].title == "Orders"


def test_lines_join_orders_and_products(manifest: dict[str, Any]) -> None:
    lines = build_cube_model(manifest).cube("order_items")
    assert {(j.name, j.sql) for j in lines.joins} == {
        ("orders", "{CUBE.order_id} = {orders.order_id}"),
        ("products", "{CUBE.product_id} = {products.product_id}"),
    }
    assert {m.name: m.type for m in lines.measures}["average_unit_price"] == "avg"


def test_dimension_types_follow_declared_column_types(manifest: dict[str, Any]) -> None:
    model = build_cube_model(manifest)
    customers = {d.name: d.type for d in model.cube("customers").dimensions}
    assert customers == {"customer_id": "number", "signup_at": "time", "segment": "string", "region": "string",
                         "value_tier": "string", "has_email": "boolean"}
    products = {d.name: d.type for d in model.cube("products").dimensions}
    assert products["revenue_rank_in_category"] == "number"
    assert products["first_ordered_date"] == "time"


def test_fact_cubes_get_a_daily_rollup_of_additive_measures(manifest: dict[str, Any]) -> None:
    model = build_cube_model(manifest)
    rollups = {cube.name: cube.pre_aggregations for cube in model.cubes if cube.pre_aggregations}
    assert set(rollups) == {"orders", "order_items"}  # the tables with foreign keys
    document = rollups["orders"][0].to_document()
    assert document == {
        "name": "ordered_at_day_rollup",
        "type": "rollup",
        # count_distinct (ordering_customers) and the number measures cannot be re-aggregated.
        "measures": ["CUBE.order_count", "CUBE.revenue", "CUBE.units", "CUBE.order_lines"],
        "dimensions": ["CUBE.status", "CUBE.region", "CUBE.channel"],
        "time_dimension": "CUBE.ordered_at",
        "granularity": "day",
        # Built in the database Cube reads (no Cube Store), rebuilt whole when its key changes.
        "external": False,
        "refresh_key": {"every": "1 hour"},
    }
    assert rollups["order_items"][0].measures == ("line_revenue", "line_units", "line_discount")


def test_with_serving_cubes_read_the_published_tables(manifest: dict[str, Any]) -> None:
    model = build_cube_model(manifest, serving_schema="floe_serving")
    tables = {cube.name: cube.sql_table for cube in model.cubes}
    assert tables == {
        "orders": "floe_serving.mart_orders",
        "order_items": "floe_serving.mart_order_items",
        "daily_revenue": "floe_serving.mart_revenue",
        "customers": "floe_serving.mart_customer_segments",
        "products": "floe_serving.mart_product_analytics",
    }


def test_with_serving_rollups_follow_the_publish_ledger(manifest: dict[str, Any]) -> None:
    model = build_cube_model(manifest, serving_schema="marts_for_cube")
    for cube in ("orders", "order_items"):
        document = model.cube(cube).pre_aggregations[0].to_document()
        # Every published batch changes the key, and the whole rollup is rebuilt: no partition
        # outside an update window keeps stale totals after a late arrival.
        assert document["refresh_key"] == {"sql": "SELECT max(batch) FROM marts_for_cube._floe_publish"}
        assert document["external"] is False
        assert "partition_granularity" not in document and "update_window" not in document["refresh_key"]


def test_meta_overrides_the_rollup_choice(manifest: dict[str, Any]) -> None:
    models = manifest["semantic_models"]
    models["semantic_model.shop.customers"]["config"]["meta"] = {"cube_rollup": True}
    models["semantic_model.shop.orders"]["config"]["meta"] = {"cube_rollup": False}
    model = build_cube_model(manifest)
    assert model.cube("orders").pre_aggregations == []
    rollup = model.cube("customers").pre_aggregations[0]
    assert (rollup.time_dimension, rollup.measures) == ("signup_at", ("customer_count", "lifetime_revenue",
                                                                       "lifetime_orders"))


def test_what_cube_cannot_express_is_listed_not_dropped(manifest: dict[str, Any]) -> None:
    orders = manifest["semantic_models"]["semantic_model.shop.orders"]
    orders["measures"].append({"name": "median_revenue", "agg": "median", "expr": "revenue"})
    metrics = manifest["metrics"]
    metrics["metric.shop.revenue_per_product"] = {
        **metrics["metric.shop.average_order_value"], "name": "revenue_per_product",
        "type_params": {**metrics["metric.shop.average_order_value"]["type_params"],
                        "expr": "revenue / products", "metrics": [{"name": "revenue"}, {"name": "products"}]},
    }
    metrics["metric.shop.products"] = {**metrics["metric.shop.revenue"], "name": "products", "label": None,
                                       "type_params": {"measure": {"name": "product_count"}}}
    metrics["metric.shop.cumulative_revenue"] = {**metrics["metric.shop.revenue"], "name": "cumulative_revenue",
                                                 "type": "cumulative"}
    model = build_cube_model(manifest)
    assert model.skipped == [
        "orders.median_revenue: aggregation 'median' has no portable Cube measure type; measure not generated",
        "metric cumulative_revenue: type 'cumulative' has no Cube equivalent; not generated",
        "metric revenue_per_product: its inputs live in different cubes (orders, products); not generated",
    ]
    assert "median_revenue" not in {m.name for m in model.cube("orders").measures}


def test_a_semantic_model_without_its_model_is_an_error(manifest: dict[str, Any]) -> None:
    del manifest["nodes"]["model.shop.mart_orders"]
    with pytest.raises(CompileError, match=r"semantic model 'orders'.*not in the manifest"):
        build_cube_model(manifest)


def test_load_manifest_explains_a_missing_or_broken_file(tmp_path: Path) -> None:
    with pytest.raises(CompileError, match="no dbt manifest here") as missing:
        load_manifest(tmp_path / "manifest.json")
    assert "floe compile" in str(missing.value)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CompileError, match="cannot read the dbt manifest"):
        load_manifest(broken)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"cubes": []}))
    with pytest.raises(CompileError, match="not a dbt manifest"):
        load_manifest(other)


@pytest.mark.parametrize(("data_type", "expected"), [
    ("bigint", "number"), ("DECIMAL(18,2)", "number"), ("double", "number"), ("integer", "number"),
    ("date", "time"), ("timestamp with time zone", "time"), ("TIMESTAMP", "time"),
    ("TIMESTAMP_NS", "time"), ("boolean", "boolean"), ("varchar", "string"), ("interval", "string"),
    ("INTEGER[]", "string"), ("uuid", "string"), (None, "string"), ("", "string"),
])
def test_cube_type_of_a_warehouse_type(data_type: str | None, expected: str) -> None:
    assert cube_type(data_type) == expected
