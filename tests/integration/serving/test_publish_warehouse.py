"""The DuckDB → PostgreSQL copy itself (floe.serving.publish_warehouse), on a real DuckDB file
and a scratch PostgreSQL database: only changed rows travel, every kind of change arrives."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from floe.serving import PublishedModel, ServingConnection, ServingError, publish_warehouse
from tests.support.postgres import scratch_database
from tests.support.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

MODELS = [PublishedModel("facts", "model.x.facts", "warehouse", "main", "facts"),
          PublishedModel("facts_view", "model.x.facts_view", "warehouse", "main", "facts_view")]


@pytest.fixture
def serving(postgres_dsn: str) -> Iterator[ServingConnection]:
    from psycopg2.extensions import parse_dsn

    address = parse_dsn(postgres_dsn)
    with scratch_database(postgres_dsn, "floe_publish_test") as name:
        yield ServingConnection(address.get("host", "127.0.0.1"), int(address.get("port", 5432)),
                                address.get("user", "postgres"), name, "served")


def _duckdb(path: Path, *statements: str) -> None:
    import duckdb

    with duckdb.connect(str(path)) as connection:
        for statement in statements:
            connection.execute(statement)


def _rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as connection:
        return sorted(connection.execute(f"SELECT * FROM main.{table}").fetchall(), key=repr)


def _served(serving: ServingConnection, sql: str) -> list[tuple[Any, ...]]:
    import psycopg2

    with psycopg2.connect(host=serving.host, port=serving.port, user=serving.user, dbname=serving.database) as c, \
            c.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def _published(serving: ServingConnection, table: str, columns: str) -> list[tuple[Any, ...]]:
    return sorted(_served(serving, f"SELECT {columns} FROM served.{table}"), key=repr)


def test_changed_rows_only_and_every_kind_of_change(tmp_path: Path, serving: ServingConnection) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    _duckdb(warehouse,
            "CREATE TABLE facts AS SELECT i AS id, (i * 1.5)::DECIMAL(18, 2) AS amount, 'x' || i AS label, "
            "CASE WHEN i % 7 = 0 THEN NULL ELSE i % 3 END AS _batch_id FROM range(1000) AS r(i)",
            "INSERT INTO facts VALUES (1, 1.50, 'x1', 1)",  # an exact duplicate row: kept twice
            "CREATE VIEW facts_view AS SELECT id, amount FROM facts")
    first = publish_warehouse(tmp_path, warehouse, serving, MODELS, "run-1")
    assert first.batch == 1 and [m.mode for m in first.models] == ["full", "full"]
    assert _published(serving, "facts", "id, amount, label, _batch_id") == _rows(warehouse, "facts")

    again = publish_warehouse(tmp_path, warehouse, serving, MODELS, "run-2")
    assert again.batch is None and [m.mode for m in again.models] == ["unchanged", "unchanged"]

    # Updates, deletes (one copy of the duplicate too), an insert: 10 + 10 + 1 + 1 rows change.
    _duckdb(warehouse, "UPDATE facts SET amount = amount + 1 WHERE id BETWEEN 10 AND 19",
            "DELETE FROM facts WHERE id >= 990", "INSERT INTO facts VALUES (5000, 7.25, NULL, 3)")
    changed = publish_warehouse(tmp_path, warehouse, serving, MODELS, "run-3")
    facts = changed.models[0]
    assert changed.batch == 2 and facts.mode == "changes"
    # The duplicate's two copies share a fingerprint: both are re-sent when either changes.
    assert (facts.written, facts.deleted) == (11, 20)
    assert _published(serving, "facts", "id, amount, label, _batch_id") == _rows(warehouse, "facts")
    assert _published(serving, "facts_view", "id, amount") == _rows(warehouse, "facts_view")
    ledger = _served(serving, "SELECT batch, run_id, source_batch FROM served._floe_publish ORDER BY batch")
    assert ledger[-1][:3] == (2, "run-3", 3)

    # A new column: the table is sent whole, in the same transaction as the ledger row.
    _duckdb(warehouse, "ALTER TABLE facts ADD COLUMN flag BOOLEAN DEFAULT true")
    reshaped = publish_warehouse(tmp_path, warehouse, serving, MODELS, "run-4")
    assert reshaped.batch == 3 and [m.mode for m in reshaped.models] == ["full", "unchanged"]
    assert _published(serving, "facts", "id, amount, label, _batch_id, flag") == _rows(warehouse, "facts")


def test_a_killed_publish_leaves_staging_only_and_the_next_one_cleans_it(tmp_path: Path,
                                                                           serving: ServingConnection) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    _duckdb(warehouse, "CREATE TABLE facts AS SELECT i AS id FROM range(10) AS r(i)",
            "CREATE VIEW facts_view AS SELECT id FROM facts")
    publish_warehouse(tmp_path, warehouse, serving, MODELS, "run-1")
    # What a publish killed between staging and swap leaves: staging tables, nothing published.
    _served(serving, "CREATE TABLE served._floe_stage_0 AS SELECT 1 AS id; SELECT 1")
    _served(serving, "CREATE TABLE served._floe_gone_0 AS SELECT 1 AS h; SELECT 1")
    assert _published(serving, "facts", "id") == _rows(warehouse, "facts")
    _duckdb(warehouse, "INSERT INTO facts VALUES (99)")
    result = publish_warehouse(tmp_path, warehouse, serving, MODELS, "run-2")
    assert result.batch == 2
    assert _published(serving, "facts", "id") == _rows(warehouse, "facts")
    tables = {row[0] for row in _served(serving, "SELECT tablename FROM pg_tables WHERE schemaname = 'served'")}
    assert tables == {"facts", "facts_view", "_floe_publish", "_floe_published_models"}


def test_an_unreachable_server_is_a_serving_error_without_the_password(tmp_path: Path,
                                                                        serving: ServingConnection) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    _duckdb(warehouse, "CREATE TABLE facts AS SELECT 1 AS id", "CREATE VIEW facts_view AS SELECT id FROM facts")
    away = ServingConnection(serving.host, free_port(), serving.user, serving.database, "served",
                             password="do-not-print-me")
    with pytest.raises(ServingError, match="connecting to the serving database") as refused:
        publish_warehouse(tmp_path, warehouse, away, MODELS, "run-1")
    assert "do-not-print-me" not in str(refused.value) and refused.value.hint


def test_a_model_missing_from_the_warehouse_is_named(tmp_path: Path, serving: ServingConnection) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    _duckdb(warehouse, "CREATE TABLE facts AS SELECT 1 AS id")
    with pytest.raises(ServingError, match="cannot publish model facts_view"):
        publish_warehouse(tmp_path, warehouse, serving, MODELS, "run-1")
    assert _served(serving, "SELECT count(*) FROM served._floe_publish") == [(0,)]


def test_a_refused_swap_changes_nothing_and_says_what_postgresql_said(tmp_path: Path,
                                                                      serving: ServingConnection) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    _duckdb(warehouse, "CREATE TABLE facts AS SELECT i AS id FROM range(10) AS r(i)",
            "CREATE VIEW facts_view AS SELECT id FROM facts")
    publish_warehouse(tmp_path, warehouse, serving, MODELS, "run-1")
    # The ledger's row is the swap's last statement: the model tables were changed before it.
    _served(serving, "CREATE FUNCTION served.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                     "RAISE EXCEPTION 'no more batches today'; END $$; "
                     "CREATE TRIGGER refuse BEFORE INSERT ON served._floe_publish FOR EACH ROW "
                     "EXECUTE FUNCTION served.refuse(); SELECT 1")
    _duckdb(warehouse, "DELETE FROM facts WHERE id < 5", "INSERT INTO facts VALUES (42)")
    with pytest.raises(ServingError, match="no more batches today") as refused:
        publish_warehouse(tmp_path, warehouse, serving, MODELS, "run-2")
    assert "BEGIN" not in str(refused.value) and "DELETE" not in str(refused.value)
    assert _published(serving, "facts", "id") == [(i,) for i in range(10)]
    assert _served(serving, "SELECT max(batch) FROM served._floe_publish") == [(1,)]
