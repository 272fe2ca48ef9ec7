"""PostgreSQL for real: as the compute target, and as Dagster's storage."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

SECRET = "s3cr3t-value-that-must-never-be-written"


def _connect(dsn: str, **overrides: str):
    import psycopg2
    from psycopg2.extensions import make_dsn

    connection = psycopg2.connect(make_dsn(dsn, **overrides))
    connection.autocommit = True
    return connection


@pytest.fixture
def pg_names(postgres_dsn: str):
    """A fresh schema in the test database and a fresh database for Dagster; both dropped after."""
    suffix = uuid.uuid4().hex[:10]
    schema, database = f"floe_it_{suffix}", f"floe_dagster_{suffix}"
    admin = _connect(postgres_dsn)
    with admin.cursor() as cursor:
        cursor.execute(f'create database "{database}"')
    yield schema, database
    with admin.cursor() as cursor:
        cursor.execute(f'drop schema if exists "{schema}" cascade')
        cursor.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (database,))
        cursor.execute(f'drop database if exists "{database}"')
    admin.close()


def _platform(dsn: str, schema: str, database: str) -> str:
    from psycopg2.extensions import parse_dsn

    parts = parse_dsn(dsn)
    host, port, user = parts.get("host", "127.0.0.1"), parts.get("port", "5432"), parts.get("user", "postgres")
    return f"""
environments:
  dev:
    compute: {{type: duckdb}}
  pg:
    compute:
      type: postgres
      host: {host}
      port: {port}
      user: {user}
      password: {{secret_ref: FLOE_IT_PG_PASSWORD}}
      database: {parts.get("dbname", "test")}
      schema: {schema}
      threads: 2
    orchestrator:
      storage:
        type: postgres
        host: {host}
        port: {port}
        user: {user}
        password: {{secret_ref: FLOE_IT_DAGSTER_PASSWORD}}
        database: {database}
"""


def test_postgres_compute_and_dagster_storage(floe, minimal_project: Path, postgres_dsn: str, pg_names,
                                              tmp_path: Path) -> None:
    schema, database = pg_names
    (minimal_project / "platform.yaml").write_text(_platform(postgres_dsn, schema, database))
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "FLOE_IT_DAGSTER_PASSWORD").write_text(SECRET + "\n")  # a mounted secret file
    env = {"FLOE_IT_PG_PASSWORD": SECRET, "FLOE_SECRETS_DIR": str(secrets_dir)}

    compiled = floe("compile", "--env", "pg", cwd=minimal_project, env=env)
    assert compiled.returncode == 0, compiled.stderr
    import yaml

    profiles = yaml.safe_load((minimal_project / ".floe" / "dbt" / "profiles.yml").read_text())
    assert profiles["floe"]["outputs"]["pg"]["password"] == "{{ env_var('FLOE_IT_PG_PASSWORD') }}"

    run = floe("run", "--env", "pg", cwd=minimal_project, env=env)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "environment pg (postgres)" in run.stderr

    connection = _connect(postgres_dsn)
    with connection.cursor() as cursor:
        cursor.execute(f'select count(*) from "{schema}".customer_revenue')
        assert cursor.fetchone() == (8,)
    connection.close()
    mart_line = next(line for line in run.stdout.splitlines() if line.startswith("customer_revenue"))
    assert mart_line.split()[1:4] == ["model", "success", "8"]

    # Dagster recorded the run in its PostgreSQL storage, not in SQLite under .floe.
    dagster_db = _connect(postgres_dsn, dbname=database)
    with dagster_db.cursor() as cursor:
        cursor.execute("select status from runs")
        assert cursor.fetchall() == [("SUCCESS",)]
        # The fast path holds on PostgreSQL storage too: dagster-dbt ran dbt through the dbt worker.
        cursor.execute("select event from event_logs where dagster_event_type is null")
        messages = " ".join(row[0] for row in cursor.fetchall())
        assert "floe-dbt build" in messages
    dagster_db.close()
    assert not list((minimal_project / ".floe").rglob("*.db"))

    # The secret's value is nowhere in what floe wrote.
    for path in (minimal_project / ".floe").rglob("*"):
        if path.is_file() and path.suffix in {".json", ".yml", ".yaml", ".log", ".txt", ""}:
            assert SECRET not in path.read_text(errors="replace"), f"secret written to {path}"


def test_missing_secret_is_a_clear_error(floe, minimal_project: Path, postgres_dsn: str, pg_names) -> None:
    schema, database = pg_names
    (minimal_project / "platform.yaml").write_text(_platform(postgres_dsn, schema, database))
    result = floe("run", "--env", "pg", cwd=minimal_project, env={"FLOE_SECRETS_DIR": "/nonexistent"})
    assert result.returncode == 1
    assert "FLOE_IT_PG_PASSWORD" in result.stderr or "FLOE_IT_DAGSTER_PASSWORD" in result.stderr
    assert "secret" in result.stderr
    assert "Traceback" not in result.stderr


def test_row_counts_survive_a_missing_relation(postgres_dsn: str, pg_names, monkeypatch: pytest.MonkeyPatch) -> None:
    """The summary's counts: one failed statement must not abort the others (autocommit)."""
    from psycopg2.extensions import parse_dsn

    from floe.spec.platform import PostgresCompute
    from floe.targets import count_rows

    schema, _ = pg_names
    connection = _connect(postgres_dsn)
    with connection.cursor() as cursor:
        cursor.execute(f'create schema "{schema}"')
        cursor.execute(f'create table "{schema}".a as select generate_series(1, 5) as id')
        cursor.execute(f'create table "{schema}".b as select generate_series(1, 2) as id')
    connection.close()
    parts = parse_dsn(postgres_dsn)
    monkeypatch.setenv("FLOE_IT_PG_PASSWORD", parts.get("password", ""))
    compute = PostgresCompute.model_validate({
        "type": "postgres", "host": parts.get("host", "127.0.0.1"), "port": int(parts.get("port", 5432)),
        "user": parts.get("user", "postgres"), "password": {"secret_ref": "FLOE_IT_PG_PASSWORD"},
        "database": parts.get("dbname", "test"), "schema": schema,
    })
    relations = [f'"{schema}"."a"', f'"{schema}"."missing"', f'"{schema}"."b"']
    assert count_rows(compute, Path("."), relations) == {f'"{schema}"."a"': 5, f'"{schema}"."b"': 2}
