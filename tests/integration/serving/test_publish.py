"""Publishing the marts to the serving PostgreSQL, end to end: the ecommerce template's ``local``
environment, real floe runs (Dagster, dbt, DuckDB, Iceberg) and a scratch PostgreSQL database.

After each run the serving tables equal the DuckDB marts and the ledger records the batch; a
reader in another connection only ever sees whole batches; a publish the database refuses, or
cannot reach, fails the run with the database's message and leaves the published batch as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.demo_project import use_virtual_clock
from tests.support.postgres import scratch_database
from tests.support.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.process]

SCHEMA = "floe_serving"
MARTS = ("mart_customer_segments", "mart_order_items", "mart_orders", "mart_product_analytics", "mart_revenue")
# What a reader checks in one statement (one snapshot): the ledger's batch and two marts' totals.
SNAPSHOT_SQL = f"""
SELECT (SELECT max(batch) FROM {SCHEMA}._floe_publish),
       (SELECT count(*) FROM {SCHEMA}.mart_orders), (SELECT sum(revenue) FROM {SCHEMA}.mart_orders),
       (SELECT count(*) FROM {SCHEMA}.mart_order_items), (SELECT sum(line_amount) FROM {SCHEMA}.mart_order_items),
       (SELECT sum(revenue) FROM {SCHEMA}.mart_revenue)
"""


@pytest.fixture
def serving_env(postgres_dsn: str) -> Iterator[dict[str, str]]:
    """The variables the template's ``local`` environment reads, pointing at a scratch database."""
    from psycopg2.extensions import parse_dsn

    address = parse_dsn(postgres_dsn)
    with scratch_database(postgres_dsn, "floe_serving_test") as name:
        yield {"FLOE_ENV": "local", "PGHOST": address.get("host", "127.0.0.1"),
               "PGPORT": str(address.get("port", 5432)), "PGUSER": address.get("user", "postgres"),
               "PGDATABASE": name}


def _connect(env: dict[str, str]) -> Any:
    import psycopg2

    connection = psycopg2.connect(host=env["PGHOST"], port=env["PGPORT"], user=env["PGUSER"], dbname=env["PGDATABASE"])
    connection.autocommit = True
    return connection


def _serving_totals(env: dict[str, str]) -> dict[str, tuple[Any, ...]]:
    """Rows and the sum of every numeric column, per published table."""
    with _connect(env) as connection, connection.cursor() as cursor:
        totals = {}
        for table in MARTS:
            cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
                           "table_name = %s AND data_type IN ('bigint', 'integer', 'numeric', 'double precision') "
                           "AND column_name <> '_floe_row_hash' ORDER BY column_name", (SCHEMA, table))
            columns = [row[0] for row in cursor.fetchall()]
            cursor.execute(f"SELECT count(*), {', '.join(f'sum({c})' for c in columns)} FROM {SCHEMA}.{table}")
            totals[table] = (tuple(columns), *_normal(cursor.fetchone()))
        return totals


def _warehouse_totals(root: Path, columns: dict[str, tuple[str, ...]]) -> dict[str, tuple[Any, ...]]:
    import duckdb

    with duckdb.connect(str(root / ".floe" / "warehouse.duckdb"), read_only=True) as connection:
        totals = {}
        for table, names in columns.items():
            row = connection.execute(f"SELECT count(*), {', '.join(f'sum({c})' for c in names)} FROM main.{table}")
            totals[table] = (names, *_normal(row.fetchone()))
        return totals


def _normal(row: Any) -> tuple[Any, ...]:
    """Sums as Decimal (PostgreSQL's numeric and DuckDB's HUGEINT/DECIMAL sums compare equal then)."""
    return tuple(Decimal(str(value)) if isinstance(value, int | float | Decimal) else value for value in row)


def _snapshot(env: dict[str, str]) -> tuple[Any, ...]:
    with _connect(env) as connection, connection.cursor() as cursor:
        cursor.execute(SNAPSHOT_SQL)
        return tuple(cursor.fetchone())


def _assert_serving_equals_warehouse(root: Path, env: dict[str, str]) -> None:
    serving = _serving_totals(env)
    assert serving == _warehouse_totals(root, {table: totals[0] for table, totals in serving.items()})
    assert all(totals[1] > 0 for totals in serving.values())


def test_runs_publish_the_marts_atomically_and_a_refused_publish_fails_the_run(
        floe: Any, tmp_path: Path, serving_env: dict[str, str]) -> None:
    created = floe("init", "shop", "--template", "ecommerce", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    root = tmp_path / "shop"
    # A thousand orders per batch: on the wall clock a run seconds after the last may land no
    # order, and a run that changes nothing publishes no batch.
    use_virtual_clock(root)

    # Two batches through the template's `local` environment: each run ends with a publish.
    demo = floe("demo", "run", "-n", "2", cwd=root, env=serving_env, timeout=1200)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    _assert_serving_equals_warehouse(root, serving_env)
    with _connect(serving_env) as connection, connection.cursor() as cursor:
        cursor.execute(f"SELECT batch, source_batch, models FROM {SCHEMA}._floe_publish ORDER BY batch")
        ledger = cursor.fetchall()
    # One batch per run; the newest published rows come from landed batch 1 (the second, from 0).
    assert [row[0] for row in ledger] == [1, 2] and ledger[-1][1] == 1
    assert set(ledger[0][2].split(", ")) == set(MARTS)

    # A third run while another connection reads: every snapshot is the old batch or the new, whole.
    before = _snapshot(serving_env)
    seen: set[tuple[Any, ...]] = set()
    stop = threading.Event()

    def read() -> None:
        with _connect(serving_env) as connection, connection.cursor() as cursor:
            while not stop.is_set():
                cursor.execute(SNAPSHOT_SQL)
                seen.add(tuple(cursor.fetchone()))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        third = floe("run", cwd=root, env=serving_env)
    finally:
        stop.set()
        reader.join(timeout=60)
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    after = _snapshot(serving_env)
    assert after[0] == before[0] + 1 and after[1] > before[1]
    assert seen <= {before, after}, f"a reader saw a half-published batch: {seen - {before, after}}"
    _assert_serving_equals_warehouse(root, serving_env)

    # The serving database refuses the batch at the very end of the swap (the ledger's insert):
    # the run fails with its message, and not one row of the batch's earlier statements stays.
    published = _serving_totals(serving_env)
    with _connect(serving_env) as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE FUNCTION {SCHEMA}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                       "RAISE EXCEPTION 'this server refuses new batches'; END $$")
        cursor.execute(f"CREATE TRIGGER refuse BEFORE INSERT ON {SCHEMA}._floe_publish FOR EACH ROW "
                       f"EXECUTE FUNCTION {SCHEMA}.refuse()")
    refused = floe("run", cwd=root, env=serving_env)
    assert refused.returncode == 1, refused.stdout[-3000:] + refused.stderr[-3000:]
    assert "the serving database" in refused.stderr and "this server refuses new batches" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _snapshot(serving_env) == after and _serving_totals(serving_env) == published
    with _connect(serving_env) as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER refuse ON {SCHEMA}._floe_publish")

    # Nothing listens on the port: the run fails saying so; the published batch stays.
    unreachable = floe("run", cwd=root, env={**serving_env, "PGPORT": str(free_port())})
    assert unreachable.returncode == 1, unreachable.stdout[-3000:] + unreachable.stderr[-3000:]
    assert "connecting to the serving database" in unreachable.stderr
    assert "Connection refused" in unreachable.stderr or "connection refused" in unreachable.stderr
    assert _snapshot(serving_env) == after and _serving_totals(serving_env) == published

    # The Cube model reads the published tables, and verify checks it against them.
    generated = floe("cube", "generate", cwd=root, env=serving_env)
    assert generated.returncode == 0, generated.stderr[-2000:]
    orders = (root / ".floe" / "cube" / "model" / "cubes" / "orders.yml").read_text()
    assert f"sql_table: {SCHEMA}.mart_orders" in orders
    assert f"sql: SELECT max(batch) FROM {SCHEMA}._floe_publish" in orders
    verified = floe("cube", "verify", cwd=root, env=serving_env)
    assert verified.returncode == 0, verified.stdout + verified.stderr[-2000:]
    assert "postgresql://" in verified.stdout and "every member runs" in verified.stdout
