"""Compute settings a dbt user relies on, declared in platform.yaml and honoured by a real run.

DuckDB for real: schema, extensions (one from its wheel, one built in), settings, external_root,
attach and a dbt-duckdb plugin, through `floe compile` and `floe run`, checked in the database
and on disk. Mistakes are refused by `floe validate` with the field's path. PostgreSQL for real:
the session keys dbt-postgres applies (role, search_path, application_name, timeouts).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

# A wheel-provided extension floe already ships (avro) and one built into DuckDB (json).
PLATFORM = """
environments:
  dev:
    compute:
      type: duckdb
      path: .floe/warehouse.duckdb
      schema: analytics
      threads: 2
      memory_limit: 1GB
      extensions: [avro, json]
      settings:
        preserve_insertion_order: false
        memory_limit: 1GB
        default_null_order: nulls_first_on_asc_last_on_desc
      external_root: exports/files
      attach:
        - path: data/reference.duckdb
          alias: ref_db
          read_only: true
      plugins:
        - module: iceberg
          alias: lake
          config:
            catalog: lake
            type: sql
            uri: sqlite:///{root}/data/lake/catalog.db
            warehouse: file://{root}/data/lake
    orchestrator:
      storage: {{type: sqlite, path: .floe/dagster}}
"""

MODELS = {
    # Views are evaluated by whoever reads them: tables capture what dbt's own session saw.
    "loaded_extensions.sql": "{{ config(materialized='table') }}\n"
                             "select extension_name from duckdb_extensions()\n"
                             "where loaded and extension_name in ('avro', 'json', 'spatial')",
    "session_settings.sql": "{{ config(materialized='table') }}\n"
                            "select current_setting('preserve_insertion_order') as preserve_insertion_order,\n"
                            "       current_setting('memory_limit') as memory_limit,\n"
                            "       current_setting('default_null_order') as default_null_order",
    "orders_export.sql": "{{ config(materialized='external', format='parquet') }}\n"
                         "select * from {{ ref('stg_orders') }}",
    "from_reference.sql": "{{ config(materialized='table') }}\nselect * from ref_db.main.currencies",
    "from_lake.sql": "{{ config(materialized='table') }}\nselect * from {{ source('lake', 'events') }}",
    "_sources.yml": "version: 2\nsources:\n  - name: lake\n    meta:\n      plugin: lake\n"
                    "      iceberg_table: \"raw.{identifier}\"\n    tables:\n      - name: events\n",
}


def _duckdb_project(root: Path) -> None:
    """Models using every setting, an attached database file and an Iceberg table to read."""
    import duckdb
    import pyarrow as pa
    from pyiceberg.catalog.sql import SqlCatalog

    (root / "platform.yaml").write_text(PLATFORM.format(root=root), encoding="utf-8")
    folder = root / "dbt" / "models" / "settings"
    folder.mkdir(parents=True)
    for name, text in MODELS.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
    (root / "data" / "lake").mkdir(parents=True)
    with duckdb.connect(str(root / "data" / "reference.duckdb")) as connection:
        connection.execute("create table currencies as select * from (values ('EUR', 2), ('JPY', 0)) t(code, digits)")
    catalog = SqlCatalog("lake", uri=f"sqlite:///{root}/data/lake/catalog.db", warehouse=f"file://{root}/data/lake")
    catalog.create_namespace("raw")
    events = catalog.create_table("raw.events", schema=pa.schema([("id", pa.int64()), ("kind", pa.string())]))
    events.append(pa.table({"id": [1, 2, 3], "kind": ["view", "cart", "buy"]}))


@pytest.mark.process
def test_duckdb_settings_are_honoured_by_a_real_run(floe, minimal_project: Path) -> None:
    import duckdb

    root = minimal_project
    _duckdb_project(root)
    assert not (root / ".floe" / "duckdb_extensions").exists()

    compiled = floe("compile", cwd=root)
    assert compiled.returncode == 0, compiled.stderr
    run = floe("run", cwd=root)
    assert run.returncode == 0, run.stdout + run.stderr

    with duckdb.connect(str(root / ".floe" / "warehouse.duckdb"), read_only=True) as connection:
        def rows(sql: str) -> list[tuple[object, ...]]:
            return connection.execute(sql).fetchall()

        # schema: every model landed in 'analytics', nothing in the default 'main'.
        schemas = {row[0] for row in rows("select distinct table_schema from information_schema.tables "
                                          "where table_catalog = 'warehouse'")}
        assert "analytics" in schemas and "main" not in schemas
        # extensions: the wheel's avro and built-in json were loaded in dbt's session; spatial was not asked for.
        assert rows("select * from analytics.loaded_extensions order by 1") == [("avro",), ("json",)]
        # settings (memory_limit from both places, merged) as dbt's session saw them.
        preserve, memory, null_order = rows("select * from analytics.session_settings")[0]
        assert preserve is False and memory == "953.6 MiB"
        assert null_order.lower() == "nulls_first_on_asc_last_on_desc"
        # attach: the second database file was read by a model.
        assert rows("select * from analytics.from_reference order by 1") == [("EUR", 2), ("JPY", 0)]
        # plugins: dbt-duckdb's iceberg plugin read the Iceberg table through pyiceberg.
        assert rows("select id, kind from analytics.from_lake order by 1") == [(1, "view"), (2, "cart"), (3, "buy")]
        orders = rows("select count(*) from analytics.stg_orders")[0][0]
    # external_root: the external model's file is under the project's exports/files, not in dbt/.
    exported = root / "exports" / "files" / "orders_export.parquet"
    assert exported.is_file()
    assert not list((root / "dbt").glob("**/orders_export.parquet"))
    assert duckdb.sql(f"select count(*) from '{exported}'").fetchone() == (orders,)
    # The extension came from the wheel, into the project's own directory (never ~/.duckdb).
    assert list((root / ".floe" / "duckdb_extensions").glob("v*/*/avro.duckdb_extension"))
    # The reference file was attached read-only: dbt left it as it was.
    with duckdb.connect(str(root / "data" / "reference.duckdb"), read_only=True) as connection:
        assert connection.execute("select count(*) from information_schema.tables").fetchone() == (1,)


BAD_PLATFORMS = {
    "unknown extension": (
        "extensions: [avro, spatial]",
        ["environments.dev.compute.extensions[1]", "pip install \"duckdb-extension-spatial==",
         "floe does not download extensions"],
    ),
    "conflicting settings": (
        "memory_limit: 1GB\n      settings: {memory_limit: 2GB}",
        ["environments.dev.compute.settings", "set it in one place"],
    ),
    "setting floe manages": (
        "settings: {extension_directory: /tmp/x}",
        ["environments.dev.compute.settings", "managed by floe"],
    ),
    "literal credential in settings": (
        "settings: {s3_secret_access_key: abc}",
        ["environments.dev.compute.settings", "secret_ref"],
    ),
    "attach entry without a path": (
        "attach: [{alias: other}]",
        ["environments.dev.compute.attach[0]", "missing required field 'path'"],
    ),
    "attach entry with an unknown key": (
        "attach: [{path: other.duckdb, mode: ro}]",
        ["environments.dev.compute.attach[0]", "unknown field 'mode'"],
    ),
    "attached database named like the main one": (
        "attach: [{path: other/warehouse.duckdb}]",
        ["environments.dev.compute.attach", "would be named 'warehouse'"],
    ),
    "plugin whose packages are missing": (
        "plugins: [{module: excel}]",
        ["environments.dev.compute.plugins[0]", "pip install"],
    ),
}


@pytest.mark.process
@pytest.mark.parametrize("case", sorted(BAD_PLATFORMS))
def test_validate_refuses_a_bad_compute_block(floe, minimal_project: Path, case: str) -> None:
    block, expected = BAD_PLATFORMS[case]
    (minimal_project / "platform.yaml").write_text(
        "environments:\n  dev:\n    compute:\n      type: duckdb\n      " + block + "\n", encoding="utf-8")
    result = floe("validate", cwd=minimal_project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


# --- PostgreSQL ----------------------------------------------------------------------------------

SESSION_MODEL = """{{ config(materialized='table') }}
select current_user::text as who, current_setting('application_name') as application_name,
       current_setting('search_path') as search_path
"""


@pytest.fixture
def pg_role(postgres_dsn: str):
    """A fresh schema and a role dbt switches to (SET ROLE); both dropped after."""
    import psycopg2

    suffix = uuid.uuid4().hex[:10]
    schema, role = f"floe_cs_{suffix}", f"floe_cs_role_{suffix}"
    admin = psycopg2.connect(postgres_dsn)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'create role "{role}" nologin')
        cursor.execute(f'grant "{role}" to current_user')
        cursor.execute(f'grant create on database "{admin.info.dbname}" to "{role}"')
    yield schema, role
    with admin.cursor() as cursor:
        cursor.execute(f'drop schema if exists "{schema}" cascade')
        cursor.execute(f'revoke create on database "{admin.info.dbname}" from "{role}"')
        cursor.execute(f'drop owned by "{role}"')
        cursor.execute(f'drop role "{role}"')
    admin.close()


@pytest.mark.process
@pytest.mark.postgres
def test_postgres_session_keys_reach_the_server(floe, minimal_project: Path, postgres_dsn: str, pg_role) -> None:
    import psycopg2
    from psycopg2.extensions import parse_dsn

    schema, role = pg_role
    parts = parse_dsn(postgres_dsn)
    (minimal_project / "platform.yaml").write_text(f"""
environments:
  dev:
    compute:
      type: postgres
      host: {parts.get("host", "127.0.0.1")}
      port: {parts.get("port", "5432")}
      user: {parts.get("user", "postgres")}
      database: {parts.get("dbname", "test")}
      schema: {schema}
      threads: 1
      role: {role}
      search_path: {schema},public
      application_name: floe_settings_test
      connect_timeout: 5
      keepalives_idle: 30
      retries: 2
""", encoding="utf-8")
    (minimal_project / "dbt" / "models" / "session_seen.sql").write_text(SESSION_MODEL, encoding="utf-8")
    compiled = floe("compile", cwd=minimal_project)
    assert compiled.returncode == 0, compiled.stderr
    profile = (minimal_project / ".floe" / "dbt" / "profiles.yml").read_text(encoding="utf-8")
    for key in ("role:", "search_path:", "application_name:", "connect_timeout: 5", "keepalives_idle: 30",
                "retries: 2"):
        assert key in profile
    run = floe("run", cwd=minimal_project)
    assert run.returncode == 0, run.stdout + run.stderr

    with psycopg2.connect(postgres_dsn) as connection, connection.cursor() as cursor:
        cursor.execute(f'select who, application_name, search_path from "{schema}".session_seen')
        assert cursor.fetchone() == (role, "floe_settings_test", f"{schema},public")
        cursor.execute("select tableowner from pg_tables where schemaname = %s and tablename = 'session_seen'",
                       (schema,))
        assert cursor.fetchone() == (role,)
