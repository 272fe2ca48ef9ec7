"""The ecommerce template on floe's own synthetic generator, and the Cube model on the result.

Two generated batches with every defect switched on (nulls, exact duplicates, orders arriving
up to three days late, one-day batches so they land on earlier days) go through real dbt; the
marts must match the generator's reference cleaner. The Cube model generated from the same
project's manifest must then run, member by member, against the built warehouse.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from floe.semantic import build_cube_model, load_manifest, read_cube_model, verify_cube_model, write_cube_model
from tests.integration.ecommerce.conftest import query, run_dbt

pytestmark = pytest.mark.integration


def load_generated_batch(database: Path, batch_number: int) -> tuple[pa.Table, pa.Table]:
    """Generate a batch with defects, append it to the bronze tables; return its orders and lines."""
    import duckdb

    from floe.synthetic import Burst, DefectConfig, EcommerceConfig, generate_ecommerce_batch

    config = EcommerceConfig(
        rate=Burst(count=400), signups_per_order=0.1, catalog_size=30, interval=timedelta(days=1),
        defects=DefectConfig(
            null_rates={"orders.customer_id": 0.05, "orders.region": 0.05, "customers.email": 0.1},
            duplicate_rate=0.05, late_rate=0.1, late_min=timedelta(hours=1), late_max=timedelta(days=3),
        ),
    )
    batch = generate_ecommerce_batch(seed=11, batch_number=batch_number, config=config)
    with duckdb.connect(str(database)) as connection:
        connection.execute("create schema if not exists bronze")
        for name, table in batch.tables.items():
            connection.register("incoming", table)
            if batch_number == 0:
                connection.execute(f"create table bronze.{name} as select * from incoming")
            else:
                connection.execute(f"insert into bronze.{name} select * from incoming")
            connection.unregister("incoming")
    return batch.orders, batch.order_items


def test_generated_batches_and_their_cube_model(dbt_project: tuple[Path, Path], tmp_path: Path) -> None:
    from floe.synthetic import order_totals

    project, database = dbt_project
    orders: list[pa.Table] = []
    lines: list[pa.Table] = []
    for batch_number in range(2):
        batch_orders, batch_lines = load_generated_batch(database, batch_number)
        orders.append(batch_orders)
        lines.append(batch_lines)
        run_dbt(project, "build")
        expected = order_totals(pa.concat_tables(orders), pa.concat_tables(lines))
        assert query(database, "select sum(orders), sum(revenue) from mart_revenue") == [
            (expected.orders_with_customer, expected.revenue_with_customer)
        ]
        assert query(database, "select count(*) from stg_orders") == [(expected.orders_with_customer,)]
    # Batch 1 covers 2026-01-02; its late orders land on 2026-01-01 (or before) and update that
    # day's rows in the mart.
    late = query(database, "select count(*) from stg_orders where _batch_id = 1 and order_date < '2026-01-02'")
    assert late[0][0] > 0
    assert query(database, "select max(_batch_id) from mart_revenue where order_date = '2026-01-01'") == [(1,)]

    model = build_cube_model(load_manifest(project / "target" / "manifest.json"))
    assert model.skipped == []
    cube_project = tmp_path / "cube"
    write_cube_model(model, cube_project)
    assert verify_cube_model(read_cube_model(cube_project), database) == []

    # A broken member is reported with its cube and name, not hidden.
    orders_file = cube_project / "model" / "cubes" / "orders.yml"
    document = yaml.safe_load(orders_file.read_text())
    revenue = next(m for m in document["cubes"][0]["measures"] if m["name"] == "revenue")
    revenue["sql"] = "{CUBE}.gross_revenue"
    orders_file.write_text(yaml.safe_dump(document))
    problems = [str(problem) for problem in verify_cube_model(read_cube_model(cube_project), database)]
    assert any(p.startswith("orders.revenue: SQL fails") and "gross_revenue" in p for p in problems), problems
    # The derived measures built on it fail too: they expand to its SQL.
    assert any(p.startswith("orders.average_order_value: SQL fails") for p in problems), problems
