"""The live demo end to end, as users run it: floe CLI, Dagster, Iceberg, dbt, DuckDB.

Three batches land through the whole pipeline; bronze holds exactly what was generated, the
marts hold the generated totals minus exactly the rows the models remove, growth is
monotonic, and landing an old batch again changes nothing.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.demo_project import use_virtual_clock

pytestmark = pytest.mark.integration


def _expected(root: Path, batches: int) -> tuple[dict[str, int], int, Decimal]:
    """Rows per bronze table, attributable orders and their revenue, from the generator itself."""
    from floe.contract.project import open_compiled_project
    from floe.ingestion.synthetic import generate

    source = open_compiled_project(root / ".floe" / "artifacts.json").artifacts.ingestion[0]
    rows: dict[str, int] = {}
    orders, revenue = 0, Decimal("0")
    for number in range(batches):
        report = generate(source, number).report
        for table, table_report in report.tables.items():
            rows[f"bronze.{table}"] = rows.get(f"bronze.{table}", 0) + table_report.rows_written
        orders += report.orders_with_customer  # type: ignore[attr-defined]
        revenue += report.revenue_with_customer  # type: ignore[attr-defined]
    return rows, orders, revenue


def test_three_batches_through_the_medallion(floe, tmp_path: Path) -> None:
    created = floe("init", "shop", "--template", "ecommerce", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    root = tmp_path / "shop"
    use_virtual_clock(root)  # exact totals per batch number (the wall clock: test_wall_clock.py)

    result = floe("demo", "run", "--batches", "3", "--json", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [run["success"] for run in runs] == [True, True, True]

    # Growth is monotonic: every batch adds orders to bronze and to the marts.
    orders = [run["orders"] for run in runs]
    assert orders == sorted(orders) and len(set(orders)) == 3
    assert all(run["bronze_new_rows"]["bronze.orders"] > 0 for run in runs)

    expected_rows, expected_orders, expected_revenue = _expected(root, 3)
    final = runs[-1]
    # Bronze holds every generated row, duplicates and defects included.
    assert final["bronze_rows"] == expected_rows
    # The marts hold the attributable orders once each, and exactly their revenue.
    assert final["orders"] == expected_orders
    assert Decimal(final["revenue"]) == expected_revenue

    # Landing batch 1 again (a retry) appends nothing, and a dbt-only run changes nothing.
    from floe.contract.project import open_compiled_project
    from floe.ingestion.landing import land_batch
    from floe.orchestration.lakehouse import open_project_catalog

    compiled = open_compiled_project(root / ".floe" / "artifacts.json")
    again = land_batch(open_project_catalog(compiled), compiled.artifacts.ingestion[0], 1)
    assert again.already_present and again.rows == 0
    rebuilt = floe("run", "--select", "fqn:*", "--json", cwd=root)
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    from floe.demo.marts import read_snapshot

    snapshot = read_snapshot(compiled)
    assert snapshot.bronze_rows == expected_rows
    assert snapshot.orders == expected_orders
    assert snapshot.revenue == expected_revenue

    # The semantic layer: the Cube model generated from the marts runs on the warehouse.
    generated = floe("cube", "generate", cwd=root)
    assert generated.returncode == 0, generated.stderr[-2000:]
    assert "orders" in generated.stdout and (root / ".floe" / "cube" / "model" / "cubes" / "orders.yml").is_file()
    verified = floe("cube", "verify", "--json", cwd=root)
    assert verified.returncode == 0, verified.stdout + verified.stderr[-2000:]
    assert json.loads(verified.stdout)["problems"] == []
    (root / ".floe" / "cube" / "model" / "cubes" / "orders.yml").write_text(
        (root / ".floe" / "cube" / "model" / "cubes" / "orders.yml").read_text().replace("revenue", "revenu", 1))
    broken = floe("cube", "verify", cwd=root)
    assert broken.returncode == 1 and "problem" in broken.stdout + broken.stderr
