"""The real Cube API over the published marts: answers equal SQL on the same tables, rollups are
used, answers follow new rows, and the server lives exactly as long as the floe that started it.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import yaml

from floe.processes import pid_alive
from tests.integration.cube.conftest import LEDGER, SERVING_SCHEMA, Serve, Shop, declare_serving

# One worker builds the shop (two demo batches, npm ci) and runs every test over it (make test
# distributes by file: --dist loadfile).
pytestmark = [pytest.mark.integration, pytest.mark.process, pytest.mark.postgres]

GROWTH_DEADLINE_S = 240  # Cube's default refresh key for cube queries is 10 s; its refresh worker ticks every 10 s

ORDER_COUNT = {"measures": ["orders.order_count"]}
REVENUE_BY_REGION = {"measures": ["orders.order_count", "orders.revenue"], "dimensions": ["orders.region"]}
ORDERS_BY_DAY = {"measures": ["orders.order_count", "orders.revenue"],
                 "timeDimensions": [{"dimension": "orders.ordered_at", "granularity": "day"}]}
# count_distinct is not additive: no rollup can answer it, Cube reads the table.
ORDERS_AND_CUSTOMERS = {"measures": ["orders.order_count", "orders.ordering_customers"]}


def _by_region(answer: dict[str, Any]) -> dict[str | None, tuple[int, Decimal]]:
    return {row["orders.region"]: (int(row["orders.order_count"]), Decimal(row["orders.revenue"]))
            for row in answer["data"]}


def _by_day(answer: dict[str, Any]) -> dict[date, tuple[int, Decimal]]:
    return {datetime.fromisoformat(row["orders.ordered_at.day"]).date():
            (int(row["orders.order_count"]), Decimal(row["orders.revenue"])) for row in answer["data"]}


def _sql_by_region(shop: Shop) -> dict[str | None, tuple[int, Decimal]]:
    rows = shop.sql(f"SELECT region, count(order_id), sum(revenue) FROM {shop.tables['orders']} GROUP BY region")
    return {region: (int(count), Decimal(revenue)) for region, count, revenue in rows}


def _sql_by_day(shop: Shop) -> dict[date, tuple[int, Decimal]]:
    rows = shop.sql(f"SELECT date_trunc('day', ordered_at)::date, count(order_id), sum(revenue) "
                    f"FROM {shop.tables['orders']} GROUP BY 1")
    return {day: (int(count), Decimal(revenue)) for day, count, revenue in rows}


def _rollup_names(shop: Shop, cube: str) -> list[str]:
    document = yaml.safe_load((shop.root / ".floe" / "cube" / "model" / "cubes" / f"{cube}.yml").read_text())
    return [p["name"] for p in document["cubes"][0].get("pre_aggregations", [])]


def test_a_query_without_serve_starts_a_server_and_stops_it(shop: Shop) -> None:
    assert not (shop.root / ".floe" / "cube" / "server-cube.json").exists()
    answer = shop.query(ORDER_COUNT)
    (expected,) = shop.sql(f"SELECT count(order_id) FROM {shop.tables['orders']}")
    assert int(answer["data"][0]["orders.order_count"]) == expected[0] > 0
    # The readable form: a table with the member as its header.
    table = shop.floe("cube", "query", "--env", shop.environment, '{"measures": ["orders.order_count"]}')
    assert table.returncode == 0, table.stderr[-2000:]
    assert table.stdout.splitlines()[0].strip() == "orders.order_count"
    assert str(expected[0]) in table.stdout and "(1 row)" in table.stdout
    assert "starting a Cube server for this query" in table.stderr
    assert not (shop.root / ".floe" / "cube" / "server-cube.json").exists()


def test_serve_answers_what_sql_answers_on_the_same_tables(shop: Shop, serving: Serve) -> None:
    record = serving.record()
    assert record["port"] == int(serving.url.rsplit(":", 1)[1]) and pid_alive(record["pid"])
    # floe cube query asks the running server (no second server started).
    total = shop.floe("cube", "query", "--env", shop.environment, "--json", '{"measures": ["orders.order_count"]}')
    assert total.returncode == 0 and "starting a Cube server" not in total.stderr, total.stderr[-2000:]

    (count,) = shop.sql(f"SELECT count(order_id) FROM {shop.tables['orders']}")
    assert int(shop.query(ORDER_COUNT)["data"][0]["orders.order_count"]) == count[0]
    assert _by_region(shop.query(REVENUE_BY_REGION)) == _sql_by_region(shop)
    by_day = _by_day(shop.query(ORDERS_BY_DAY))
    assert by_day == _sql_by_day(shop) and len(by_day) > 1


def test_serve_answers_from_the_generated_rollup(shop: Shop, serving: Serve) -> None:
    rollups = _rollup_names(shop, "orders")
    assert rollups, "the generated orders cube has no rollup"
    answer = shop.query(REVENUE_BY_REGION)
    used = list(answer.get("usedPreAggregations") or {})
    assert used and any(name in table for table in used for name in rollups), answer.get("usedPreAggregations")
    assert _by_region(answer) == _sql_by_region(shop)  # and the rollup holds the right numbers
    # A measure no rollup holds is answered from the table.
    assert not shop.query(ORDERS_AND_CUSTOMERS).get("usedPreAggregations")


def _wait_for(what: str, ask: Any, expected: Any) -> Any:
    deadline = time.monotonic() + GROWTH_DEADLINE_S
    while True:
        got = ask()
        if got == expected:
            return got
        assert time.monotonic() < deadline, f"{what}: still {got}, expected {expected} after {GROWTH_DEADLINE_S}s"
        time.sleep(5)


def _marts_by_region(shop: Shop) -> dict[str | None, tuple[int, Decimal]]:
    rows = shop.marts("SELECT region, count(order_id), sum(revenue) FROM main.mart_orders GROUP BY region")
    return {region: (int(count), Decimal(revenue)) for region, count, revenue in rows}


def test_a_new_batch_reaches_cube_through_a_rebuilt_rollup(shop: Shop, serving: Serve) -> None:
    """FR-029/FR-032/SC-008: land a batch → the run publishes it → Cube's rollup answers grow."""
    before = _by_region(shop.query(REVENUE_BY_REGION))
    assert before == _marts_by_region(shop)  # Cube answers what the marts hold
    (ledger_before,) = shop.sql(f"SELECT max(batch) FROM {SERVING_SCHEMA}.{LEDGER}")

    landed = shop.floe("demo", "run", "--env", shop.environment, "--batches", "1", timeout=1800)
    assert landed.returncode == 0, landed.stderr[-3000:]
    (ledger_after,) = shop.sql(f"SELECT max(batch) FROM {SERVING_SCHEMA}.{LEDGER}")
    assert ledger_after[0] == ledger_before[0] + 1
    expected = _marts_by_region(shop)
    assert sum(n for n, _ in expected.values()) > sum(n for n, _ in before.values())

    # Bound: the refresh worker checks the ledger every 10 s and rebuilds the daily rollup.
    started = time.monotonic()
    answer = _wait_for("revenue by region from the rollup", lambda: _by_region(shop.query(REVENUE_BY_REGION)),
                       expected)
    assert answer == expected == _sql_by_region(shop)
    served = shop.query(REVENUE_BY_REGION)
    assert served.get("usedPreAggregations"), "the new batch was not served from the rebuilt rollup"
    print(f"batch published → served from the rebuilt rollup in {time.monotonic() - started:.1f} s")


def test_ctrl_c_stops_serve_and_its_cube_server(shop: Shop) -> None:
    # An environment of its own: its server runs beside the module's (one record per environment).
    declare_serving(shop.root, "cube_stop", shop.dsn)
    server = Serve(shop, "cube_stop")
    record = server.record()
    assert pid_alive(record["pid"])
    code, stderr = server.interrupt()
    assert code == 130, stderr[-2000:]
    assert "interrupted" in stderr
    deadline = time.monotonic() + 60
    while pid_alive(record["pid"]):
        assert time.monotonic() < deadline, f"the Cube server (pid {record['pid']}) outlived floe cube serve"
        time.sleep(0.2)
    assert not server.record_path.exists()


def test_serve_without_a_serving_database_explains(shop: Shop) -> None:
    result = shop.floe("cube", "serve", "--env", "dev")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "no serving database" in result.stderr and "serving:" in result.stderr
    assert "Traceback" not in result.stderr
