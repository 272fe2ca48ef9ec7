"""The ecommerce template built batch after batch with real dbt on DuckDB.

After every batch the marts must hold exactly what the cleaning rules give over the bronze
rows so far (computed independently in ``bronze.expected_after``); a late arrival must update
the earlier day; a run without a new batch must change nothing; and ``--full-refresh`` must
rebuild the very same tables the incremental runs produced.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.ecommerce.bronze import Expected, append_batch, expected_after
from tests.integration.ecommerce.conftest import query, run_dbt

pytestmark = pytest.mark.integration

TABLES = ("stg_customers", "stg_products", "stg_orders", "stg_order_items", "int_orders",
          "int_order_items_enriched", "int_customer_orders", "int_product_performance",
          "mart_revenue", "mart_customer_segments", "mart_product_analytics")


def test_batches_build_incrementally_to_the_expected_marts(dbt_project: tuple[Path, Path]) -> None:
    project, database = dbt_project
    day_one_europe_paid: list[tuple[Any, ...]] = []
    for batch in range(3):
        append_batch(database, batch)
        run_dbt(project, "build")
        assert_marts_hold(database, expected_after(batch), batch)
        day_one_europe_paid.append(query(database, """
            select orders, revenue from mart_revenue
            where order_date = date '2026-03-01' and region = 'europe' and status = 'paid'"""))
        if batch > 0:
            # Incremental runs read only bronze batches above the watermark.
            assert f"where _batch_id > {batch - 1}" in compiled(project, "staging/stg_orders.sql")

    # Order 202 of batch 1 was placed on 2026-03-01: it joins that day's existing row.
    assert day_one_europe_paid[0] == [(1, Decimal("90.00"))]
    assert day_one_europe_paid[1] == [(2, Decimal("140.00"))]
    # Order 104 moved from 2026-02-27 to 2026-03-03 in batch 2: its old day is gone.
    assert query(database, "select count(*) from mart_revenue where order_date = date '2026-02-27'") == [(0,)]

    history = snapshot(database)
    run_dbt(project, "run")  # no new batch
    assert snapshot(database) == history, "a run without a new batch changed a table"
    assert "where _batch_id > 2" in compiled(project, "staging/stg_orders.sql")

    run_dbt(project, "run", "--full-refresh")
    assert "where _batch_id > -1" in compiled(project, "staging/stg_orders.sql")
    rebuilt = snapshot(database)
    for table in TABLES:
        assert rebuilt[table] == history[table], f"{table}: --full-refresh differs from the incremental build"


def assert_marts_hold(database: Path, expected: Expected, batch: int) -> None:
    revenue = {(row[0], row[1], row[2]): tuple(row[3:]) for row in query(database, """
        select order_date, region, status, orders, items, units, revenue from mart_revenue""")}
    assert revenue == expected.revenue, f"mart_revenue after batch {batch}"
    customers = {row[0]: tuple(row[1:]) for row in query(database, """
        select customer_id, segment, order_count, revenue, value_tier from mart_customer_segments""")}
    assert customers == expected.customers, f"mart_customer_segments after batch {batch}"
    products = {row[0]: tuple(row[1:]) for row in query(database, """
        select product_id, orders, units, revenue, revenue_rank_in_category from mart_product_analytics""")}
    assert products == expected.products, f"mart_product_analytics after batch {batch}"
    # The contract's totals: revenue of distinct lines of distinct orders with a customer.
    total_orders, total_revenue = query(database, "select sum(orders), sum(revenue) from mart_revenue")[0]
    assert total_orders == len({key for key in _attributable_orders(batch)})
    assert total_revenue == sum(group[3] for group in expected.revenue.values())


def _attributable_orders(batch: int) -> set[int]:
    from tests.integration.ecommerce.bronze import BATCHES

    return {row[0] for b in range(batch + 1) for row in BATCHES[b]["orders"] if row[1] is not None}


def snapshot(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted, without the bookkeeping lists of earlier keys (a
    full refresh starts them empty by design)."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    for table in TABLES:
        columns = [row[0] for row in query(database, f"describe {table}") if not row[0].startswith("_earlier_")]
        tables[table] = sorted(query(database, f"select {', '.join(columns)} from {table}"), key=repr)
    return tables


def compiled(project: Path, model: str) -> str:
    """The SQL dbt last ran for a model (target/run holds the executed statements)."""
    return (project / "target" / "compiled" / "shop" / "models" / model).read_text(encoding="utf-8")


def test_the_fixture_expectations_cover_each_defect() -> None:
    """The expected marts themselves reflect every rule (guards the fixture against drift)."""
    after_first = expected_after(0)
    days = {key[0] for key in after_first.revenue}
    assert date(2026, 3, 2) in days  # 23:30 in New York is the next day in UTC
    assert "unknown" in {key[1] for key in after_first.revenue}  # null region
    assert after_first.revenue[(date(2026, 3, 1), "europe", "placed")] == (1, 0, 0, Decimal("0.00"))  # no lines
    final = expected_after(2)
    assert final.customers[2][1] == 1  # 101 kept its customer despite the null re-delivery; 106 moved
    assert final.customers[4][1] == 3  # ... to customer 4
    assert final.customers[3][0] == "enterprise"  # re-delivered customer
    assert {tier for *_, tier in final.customers.values()} >= {"high", "medium", "low", "none"}
    assert final.products[5] == (0, 0, Decimal("0.00"), 1)  # never sold, alone in its category
