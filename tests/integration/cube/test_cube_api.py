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


def test_answers_follow_new_rows_and_the_ledger(shop: Shop, serving: Serve) -> None:
    orders = shop.tables["orders"]
    (before,) = shop.sql(f"SELECT count(order_id), count(DISTINCT customer_id) FROM {orders}")
    # Warm both paths first, so growth below is Cube refreshing, not a first read.
    shop.query(ORDERS_AND_CUSTOMERS)
    shop.query(ORDER_COUNT)

    # A publish: 50 more orders, dated today, then the ledger moves (as the publish step does).
    columns = [name for (name,) in shop.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "ORDER BY ordinal_position", *orders.split("."))]
    chosen = ", ".join(
        f"order_id + (SELECT max(order_id) FROM {orders})" if column == "order_id"
        else "date_trunc('hour', now() AT TIME ZONE 'UTC')" if column == "ordered_at" else column
        for column in columns)
    shop.sql(f"INSERT INTO {orders} ({', '.join(columns)}) "
             f"SELECT {chosen} FROM (SELECT * FROM {orders} ORDER BY order_id LIMIT 50) AS picked")
    shop.sql(f"INSERT INTO {SERVING_SCHEMA}.{LEDGER} (batch, run_id, models, rows_written, rows_deleted) "
             "SELECT max(batch) + 1, 'added-by-test', 'mart_orders', 50, 0 FROM " + f"{SERVING_SCHEMA}.{LEDGER}")
    (after,) = shop.sql(f"SELECT count(order_id), count(DISTINCT customer_id) FROM {orders}")
    assert after[0] == before[0] + 50

    # The table path: Cube's own cache key for cube queries moves every 10 seconds.
    _wait_for("orders read from the table",
              lambda: int(shop.query(ORDERS_AND_CUSTOMERS)["data"][0]["orders.order_count"]), after[0])

    # The rollup path follows the publish ledger when the model's refresh keys read it.
    model = (shop.root / ".floe" / "cube" / "model" / "cubes" / "orders.yml").read_text()
    if LEDGER not in model:
        pytest.skip("the generated rollups refresh on a timer (refresh_key.every), not from the publish ledger: "
                    "their answers may lag by that period")
    answer = _wait_for("orders read from the rollup",
                       lambda: int(shop.query(ORDER_COUNT)["data"][0]["orders.order_count"]), after[0])
    assert answer == after[0]
    assert shop.query(ORDER_COUNT).get("usedPreAggregations")


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
