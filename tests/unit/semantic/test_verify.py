"""Verification of Cube models against a real (small, hand-built) DuckDB database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from floe.errors import FloeError
from floe.semantic import verify_cube_model


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("""
            create table main.customers as
                select * from (values (1, 'consumer'), (2, 'enterprise')) as t(customer_id, segment);
            create table main.orders as
                select * from (values (10, 1, 20.50, timestamptz '2026-03-01 10:00:00+00', 'web'),
                                      (11, 1, 5.00, timestamptz '2026-03-02 10:00:00+00', 'mobile'),
                                      (12, 2, 7.25, timestamptz '2026-03-02 11:00:00+00', 'web'))
                    as t(order_id, customer_id, revenue, ordered_at, channel);
            create table main.segments_twice as
                select * from (values (1, 'a'), (1, 'b')) as t(customer_id, label);
        """)
    return path


def cube(name: str, table: str, dimensions: list[dict[str, Any]], measures: list[dict[str, Any]],
         **extra: Any) -> dict[str, Any]:
    return {"name": name, "sql_table": table, **extra, "dimensions": dimensions, "measures": measures}


def good_model() -> list[dict[str, Any]]:
    return [
        cube("orders", "main.orders",
             [{"name": "order_id", "sql": "{CUBE}.order_id", "type": "number", "primary_key": True},
              {"name": "customer_id", "sql": "{CUBE}.customer_id", "type": "number"},
              {"name": "ordered_at", "sql": "{CUBE}.ordered_at", "type": "time"},
              {"name": "channel", "sql": "{CUBE}.channel", "type": "string"}],
             [{"name": "count", "type": "count"},
              {"name": "revenue", "type": "sum", "sql": "{CUBE}.revenue"},
              {"name": "customers", "type": "count_distinct", "sql": "{CUBE.customer_id}"},
              {"name": "average_order_value", "type": "number", "sql": "{revenue} / NULLIF({count}, 0)"}],
             joins=[{"name": "customers", "relationship": "many_to_one",
                     "sql": "{CUBE.customer_id} = {customers.customer_id}"}],
             pre_aggregations=[{"name": "daily", "type": "rollup", "measures": ["CUBE.count", "CUBE.revenue"],
                                "dimensions": ["CUBE.channel"], "time_dimension": "CUBE.ordered_at",
                                "granularity": "day"}]),
        cube("customers", "main.customers",
             [{"name": "customer_id", "sql": "{CUBE}.customer_id", "type": "number", "primary_key": True},
              {"name": "segment", "sql": "{CUBE}.segment", "type": "string"}],
             [{"name": "count", "type": "count", "sql": "{CUBE}.customer_id"}]),
    ]


def messages(cubes: list[dict[str, Any]], warehouse: Path) -> list[str]:
    return [str(problem) for problem in verify_cube_model(cubes, warehouse)]


def test_a_working_model_has_no_problems(warehouse: Path) -> None:
    assert messages(good_model(), warehouse) == []


def test_a_missing_table_is_reported_once_and_so_are_joins_to_it(warehouse: Path) -> None:
    model = good_model()
    model[1]["sql_table"] = "main.people"
    found = sorted(messages(model, warehouse))
    assert len(found) == 2, found
    assert found[0].startswith("customers: table main.people cannot be read: Catalog Error")
    assert found[1].startswith("orders.joins.customers: SQL fails: Catalog Error")


def test_member_sql_and_types_are_checked(warehouse: Path) -> None:
    model = good_model()
    orders = model[0]
    orders["dimensions"][3]["type"] = "time"  # channel is text
    orders["dimensions"].append({"name": "discount", "sql": "{CUBE}.discount", "type": "number"})
    orders["measures"].append({"name": "channels", "type": "sum", "sql": "{CUBE}.channel"})
    orders["measures"].append({"name": "margin", "type": "number", "sql": "{revenue} - {cost}"})
    found = messages(model, warehouse)
    assert "orders.channel: declared time, but the warehouse type is VARCHAR" in found
    assert any(p.startswith("orders.discount: SQL fails: Binder Error") for p in found), found
    assert any(p.startswith("orders.channels: SQL fails") for p in found), found
    assert "orders.margin: unknown member 'orders.cost'" in found


def test_primary_keys_must_be_unique_and_joins_must_not_fan_out(warehouse: Path) -> None:
    model = good_model()
    model[1]["sql_table"] = "main.segments_twice"
    model[1]["dimensions"][1]["sql"] = "{CUBE}.label"
    found = messages(model, warehouse)
    assert "customers.customer_id: primary key is not unique and non-null (2 rows, 1 distinct, 2 non-null)" in found
    assert "orders.joins.customers: many_to_one join multiplies rows (3 before, 5 after)" in found


def test_joins_need_an_existing_target_with_a_primary_key(warehouse: Path) -> None:
    model = good_model()
    model[0]["joins"].append({"name": "returns", "relationship": "many_to_one", "sql": "1 = 1"})
    model[1]["dimensions"][0]["primary_key"] = False
    found = messages(model, warehouse)
    assert "orders.joins.returns: joins a cube that does not exist" in found
    assert "orders.joins.customers: cube 'customers' has no primary key" in found


def test_rollups_name_additive_measures_and_a_time_dimension(warehouse: Path) -> None:
    model = good_model()
    rollup = model[0]["pre_aggregations"][0]
    rollup["measures"].append("CUBE.customers")
    rollup["dimensions"].append("CUBE.region")
    rollup["time_dimension"] = "CUBE.channel"
    rollup["granularity"] = "fortnight"
    found = messages(model, warehouse)
    assert found == [
        "orders.pre_aggregations.daily: CUBE.customers is not additive; a rollup cannot re-aggregate it",
        "orders.pre_aggregations.daily: CUBE.region is not a dimension of this cube",
        "orders.pre_aggregations.daily: CUBE.channel is not a time dimension of this cube",
        "orders.pre_aggregations.daily: granularity 'fortnight' is unknown",
    ]


def test_duplicate_member_names_are_reported(warehouse: Path) -> None:
    model = good_model()
    model[1]["measures"].append({"name": "segment", "type": "count"})
    assert "customers.segment: more than one member has this name" in messages(model, warehouse)


def test_the_database_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FloeError, match="no DuckDB database here"):
        verify_cube_model(good_model(), tmp_path / "missing.duckdb")


def test_verification_leaves_the_database_unchanged(warehouse: Path) -> None:
    before = warehouse.stat().st_mtime_ns
    verify_cube_model(good_model(), warehouse)
    assert warehouse.stat().st_mtime_ns == before
