"""Publishing marts from the DuckDB warehouse to the serving PostgreSQL, changes only, one batch atomically.

Cube cannot read a DuckDB file while a run writes it, so after a run the published models are
copied to a PostgreSQL schema that Cube reads instead. One DuckDB session (in memory) attaches
the warehouse read-only and the serving database through DuckDB's postgres extension, loaded
from its PyPI wheel (never downloaded), and for each model:

1. fingerprints every row (``hash`` of the whole row, 63 bits: ``_floe_row_hash``) and counts
   the rows per fingerprint, here and in the published table (one narrow column read);
2. the fingerprints whose counts differ are exactly what changed since the last publish: new,
   updated (old fingerprint gone, new one added) and deleted rows, whatever the model's
   strategy (append, delete+insert, replace_keys, a full rebuild, a late arrival that changes an
   old day); rows that did not change are neither sent nor rewritten;
3. stages those rows, and the fingerprints to delete, in tables beside the published ones
   (``_floe_stage_<n>``, ``_floe_gone_<n>``). A new model, a changed column list, or a change
   touching most of the table stages the whole table instead.

Then **one PostgreSQL transaction** applies every model's staged change and appends the batch
to the ledger (``<schema>._floe_publish``). A reader (Cube) sees the previous batch until the
commit, then the whole new one, never half; a failure anywhere before the commit leaves the
published tables as they were (staging tables are dropped by the next publish).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.serving.connection import (
    LEDGER_TABLE,
    MODELS_TABLE,
    ROW_HASH_COLUMN,
    STAGING_PREFIX,
    ServingConnection,
    ServingError,
)
from floe.serving.models import PublishedModel

if TYPE_CHECKING:
    import duckdb

    from floe.contract.project import CompiledProject

SERVING_CATALOG = "_floe_serving"
"""The serving database's name inside the publishing DuckDB session."""
EXTENSION = "postgres"
FULL_COPY_SHARE = 0.5
"""A change touching more than this share of a table's rows sends the whole table (cheaper than a diff)."""
SOURCE_BATCH_COLUMN = "_batch_id"
"""floe's landed rows carry their ingestion batch; the ledger records the newest one published."""
_CONNINFO = re.compile(r' at "host=[^"]*"')
_HASH = f"(hash(_floe_row) & 9223372036854775807)::BIGINT AS {ROW_HASH_COLUMN}"


@dataclass(frozen=True)
class ModelPublish:
    """What one publish did to one model's table."""

    model: str
    table: str
    mode: str  # "full" (whole table sent), "changes" (changed rows only) or "unchanged"
    rows: int  # rows of the model now
    written: int  # rows sent and inserted
    deleted: int  # published rows removed

    def describe(self) -> str:
        if self.mode == "unchanged":
            return f"{self.table}: unchanged ({self.rows} rows)"
        what = "copied whole" if self.mode == "full" else f"+{self.written} -{self.deleted} rows"
        return f"{self.table}: {what} ({self.rows} rows)"


@dataclass
class PublishResult:
    """One publish: the batch it recorded (None when nothing changed) and each model's change."""

    target: str
    run_id: str
    batch: int | None
    models: list[ModelPublish] = field(default_factory=list)
    duration_s: float = 0.0

    def describe(self) -> str:
        head = (f"published batch {self.batch} to {self.target}" if self.batch is not None
                else f"nothing changed since the last publish to {self.target}")
        return head + f" in {self.duration_s:.1f}s: " + "; ".join(m.describe() for m in self.models)


@dataclass(frozen=True)
class _Staged:
    model: PublishedModel
    result: ModelPublish
    columns: list[str]
    signature: str
    number: int
    exists: bool  # the published table exists with the same columns
    source_batch: int | None


def publish(compiled: CompiledProject, run_id: str, *, serving: ServingConnection | None = None,
            models: Sequence[PublishedModel] | None = None) -> PublishResult | None:
    """Publish the project's serving models from its DuckDB warehouse (None when no serving is declared).

    Call it while holding the project's lock (the run's), so no run writes the warehouse meanwhile.

    Raises:
        ServingError: the serving database cannot be reached or refused a statement; the
            published tables and the ledger are then as they were.
        WarehouseLockedError: another program has the warehouse file open for writing.
        CompileError: serving.models names a model the project does not have.
    """
    from floe.serving.connection import serving_connection
    from floe.serving.models import published_models
    from floe.spec.platform import DuckDBCompute
    from floe.targets.duckdb import warehouse_path

    spec = compiled.artifacts.environment.serving
    compute = compiled.artifacts.environment.compute
    if spec is None or not isinstance(compute, DuckDBCompute):
        return None
    serving = serving or serving_connection(compiled)
    assert serving is not None  # spec is declared
    if models is None:
        manifest = json.loads(compiled.manifest_path.read_text(encoding="utf-8"))
        models = published_models(manifest, spec.models)
    return publish_warehouse(compiled.root, warehouse_path(compute, compiled.root), serving, models, run_id)


def publish_warehouse(project_root: Path, database: Path, serving: ServingConnection,
                      models: Sequence[PublishedModel], run_id: str) -> PublishResult:
    """Publish ``models`` of the DuckDB file ``database`` to ``serving``; see :func:`publish`.

    ``project_root`` holds the DuckDB extension folder the postgres extension is installed into.
    """
    started = time.perf_counter()
    result = PublishResult(serving.target, run_id, None)
    with serving_session(project_root, serving, database) as connection, _refused(serving, "publishing"):
        _prepare(connection, serving)
        published = _published_signatures(connection, serving)
        staged = [_stage(connection, serving, model, number, published.get(model.table))
                  for number, model in enumerate(models)]
        result.models = [item.result for item in staged]
        if any(item.result.mode != "unchanged" for item in staged):
            result.batch = _swap(connection, serving, staged, run_id)
    result.duration_s = time.perf_counter() - started
    return result


@contextlib.contextmanager
def serving_session(project_root: Path, serving: ServingConnection,
                    database: Path | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the serving database attached (as ``_floe_serving``).

    With ``database``, the DuckDB warehouse is attached too, read-only, and is the default
    catalog; without, the serving database is (``floe_serving.mart_orders`` then names a
    published table, as in Cube's model).

    Raises:
        ServingError: the serving database cannot be reached, or the warehouse does not exist.
    """
    import duckdb

    from floe.targets.duckdb import EXTENSION_DIR
    from floe.targets.duckdb_lock import explained_lock_errors

    if database is not None and not database.is_file():
        raise ServingError(f"nothing to publish: the warehouse {database} does not exist yet",
                           hint="run the pipeline first (floe run)")
    extensions = project_root / EXTENSION_DIR
    connection = duckdb.connect(":memory:", config={"extension_directory": str(extensions)})
    try:
        _load_postgres(connection, extensions)
        with _refused(serving, "connecting to"):
            connection.execute(f"ATTACH {_literal(serving.libpq())} AS {SERVING_CATALOG} (TYPE postgres)")
        if database is not None:
            with explained_lock_errors(database):
                # Under its own name: dbt's views name their tables with the file's catalog name.
                connection.execute(f"ATTACH {_literal(str(database))} AS {_quote(database.stem)} (READ_ONLY)")
        connection.execute(f"USE {_quote(database.stem) if database is not None else SERVING_CATALOG}")
        yield connection
    finally:
        connection.close()


def _load_postgres(connection: duckdb.DuckDBPyConnection, directory: Path) -> None:
    """Install DuckDB's postgres extension from its wheel into the project's extension folder, and load it."""
    from floe.spec.duckdb_extensions import extension_file, unavailable_reason

    installed = connection.execute(
        "SELECT installed FROM duckdb_extensions() WHERE extension_name = 'postgres_scanner'").fetchone()
    if not (installed and installed[0]):
        version = str(connection.execute("PRAGMA version").fetchone()[0])  # type: ignore[index]
        binary = extension_file(EXTENSION, version)
        if binary is None:
            raise ServingError(unavailable_reason(EXTENSION) or "DuckDB's postgres extension is not installed",
                               hint="publishing to the serving database needs it")
        directory.mkdir(parents=True, exist_ok=True)
        connection.execute(f"INSTALL {_literal(str(binary))}")
    connection.execute(f"LOAD {EXTENSION}")


@contextlib.contextmanager
def _refused(serving: ServingConnection, doing: str) -> Iterator[None]:
    """DuckDB's errors about the serving database as a :class:`ServingError` naming it."""
    import duckdb

    try:
        yield
    except duckdb.Error as exc:
        if type(exc).__name__ == "IOException" and "Could not set lock" in str(exc):
            raise
        text = _CONNINFO.sub("", str(exc))  # DuckDB repeats the connection string, password included
        if serving.password:
            text = text.replace(serving.password, "***")
        # A refused statement comes back inside the whole query's text: PostgreSQL's own words are the news.
        refused = re.search(r"\b(?:ERROR|FATAL):\s+(.+)", text)
        first = refused.group(1).strip() if refused else next(
            (line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
        raise ServingError(
            f"{doing} the serving database {serving.target} failed: {first}",
            hint="check platform.yaml's serving block and that PostgreSQL is up and writable "
                 "('floe preflight --check postgres'); the published tables keep their previous batch",
        ) from None


def _prepare(connection: duckdb.DuckDBPyConnection, serving: ServingConnection) -> None:
    """The schema and the ledger tables (once); staging tables a killed publish left behind, dropped."""
    schema = _quote(serving.schema)
    statements = [
        f"CREATE SCHEMA IF NOT EXISTS {schema}",
        f"CREATE TABLE IF NOT EXISTS {schema}.{LEDGER_TABLE} (batch bigint PRIMARY KEY, run_id text NOT NULL, "
        "published_at timestamptz NOT NULL DEFAULT now(), source_batch bigint, models text NOT NULL, "
        "rows_written bigint NOT NULL, rows_deleted bigint NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {schema}.{MODELS_TABLE} (table_name text PRIMARY KEY, model text NOT NULL, "
        "columns text NOT NULL, row_count bigint NOT NULL, batch bigint NOT NULL, published_at timestamptz NOT NULL)",
        # Leftovers of a publish killed before its swap; this publish stages afresh.
        "DO $$ DECLARE leftover record; BEGIN FOR leftover IN SELECT tablename FROM pg_tables WHERE schemaname = "
        f"{_pg_literal(serving.schema)} AND (tablename LIKE '{STAGING_PREFIX}%' OR tablename LIKE '_floe_gone_%') "
        f"LOOP EXECUTE format('DROP TABLE %I.%I', {_pg_literal(serving.schema)}, leftover.tablename); END LOOP; END $$",
    ]
    _pg_execute(connection, ";\n".join(statements))


def _published_signatures(connection: duckdb.DuckDBPyConnection, serving: ServingConnection) -> dict[str, str]:
    rows = connection.execute(
        f"SELECT table_name, columns FROM {SERVING_CATALOG}.{_quote(serving.schema)}.{MODELS_TABLE}").fetchall()
    return {str(name): str(columns) for name, columns in rows}


def _stage(connection: duckdb.DuckDBPyConnection, serving: ServingConnection, model: PublishedModel, number: int,
           published_signature: str | None) -> _Staged:
    """Fingerprint the model's rows, find what differs from the published table, stage it in PostgreSQL."""
    import duckdb

    source = f"{_quote(model.schema)}.{_quote(model.alias)}"
    try:
        described = connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    except duckdb.Error as exc:  # the model was never built (a subset run, a failed first build)
        raise ServingError(f"cannot publish model {model.name}: {source} cannot be read in the warehouse "
                           f"({str(exc).splitlines()[0]})",
                           hint="build it first (floe run), or leave it out of platform.yaml's "
                                "serving.models") from None
    columns = [str(row[0]) for row in described]
    signature = ", ".join(f"{row[0]} {row[1]}" for row in described)
    connection.execute(f"CREATE OR REPLACE TEMP TABLE _floe_current AS SELECT _floe_row.*, {_HASH} "
                       f"FROM {source} AS _floe_row")
    rows = _scalar(connection, "SELECT count(*) FROM _floe_current")
    source_batch = (_scalar(connection, f"SELECT max({SOURCE_BATCH_COLUMN}) FROM _floe_current")
                    if SOURCE_BATCH_COLUMN in columns else None)
    staging = _serving_table(serving, f"{STAGING_PREFIX}{number}")
    gone = _serving_table(serving, f"_floe_gone_{number}")
    exists = published_signature == signature
    if exists:
        connection.execute(
            f"CREATE OR REPLACE TEMP TABLE _floe_published AS SELECT {ROW_HASH_COLUMN} AS h, count(*) AS n "
            f"FROM {_serving_table(serving, model.table)} GROUP BY 1")
        connection.execute(
            "CREATE OR REPLACE TEMP TABLE _floe_changed AS SELECT coalesce(now.h, before.h) AS h, "
            "coalesce(now.n, 0) AS now_n, coalesce(before.n, 0) AS before_n FROM "
            f"(SELECT {ROW_HASH_COLUMN} AS h, count(*) AS n FROM _floe_current GROUP BY 1) AS now "
            "FULL OUTER JOIN _floe_published AS before ON now.h = before.h WHERE now.n IS DISTINCT FROM before.n")
        written = _scalar(connection, "SELECT coalesce(sum(now_n), 0) FROM _floe_changed WHERE before_n <> now_n")
        deleted = _scalar(connection, "SELECT coalesce(sum(before_n), 0) FROM _floe_changed")
        if written == 0 and deleted == 0:
            return _Staged(model, ModelPublish(model.name, model.table, "unchanged", rows, 0, 0), columns,
                           signature, number, exists, source_batch)
        if written <= FULL_COPY_SHARE * max(rows, 1):
            connection.execute(f"CREATE TABLE {staging} AS SELECT * FROM _floe_current "
                               f"WHERE {ROW_HASH_COLUMN} IN (SELECT h FROM _floe_changed)")
            connection.execute(f"CREATE TABLE {gone} AS SELECT h AS {ROW_HASH_COLUMN} FROM _floe_changed "
                               "WHERE before_n > 0")
            # Every row of a changed fingerprint is replaced: its published copies go, its current ones come.
            written = _scalar(connection, f"SELECT count(*) FROM {staging}")
            return _Staged(model, ModelPublish(model.name, model.table, "changes", rows, written, deleted), columns,
                           signature, number, exists, source_batch)
    connection.execute(f"CREATE TABLE {staging} AS SELECT * FROM _floe_current")
    before = _scalar(connection, f"SELECT count(*) FROM {_serving_table(serving, model.table)}") \
        if published_signature is not None else 0
    return _Staged(model, ModelPublish(model.name, model.table, "full", rows, rows, before), columns, signature,
                   number, exists, source_batch)


def _swap(connection: duckdb.DuckDBPyConnection, serving: ServingConnection, staged: list[_Staged],
          run_id: str) -> int:
    """Apply every staged change and append the batch to the ledger, in one PostgreSQL transaction."""
    schema = _quote(serving.schema)
    statements: list[str] = []
    changed = [item for item in staged if item.result.mode != "unchanged"]
    for item in changed:
        table = f"{schema}.{_quote(item.model.table)}"
        staging = f"{schema}.{_quote(STAGING_PREFIX + str(item.number))}"
        gone = f"{schema}.{_quote('_floe_gone_' + str(item.number))}"
        columns = ", ".join(_quote(name) for name in [*item.columns, ROW_HASH_COLUMN])
        if item.result.mode == "changes":
            statements += [f"DELETE FROM {table} WHERE {ROW_HASH_COLUMN} IN (SELECT {ROW_HASH_COLUMN} FROM {gone})",
                           f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging}",
                           f"DROP TABLE {staging}", f"DROP TABLE {gone}"]
        elif item.exists:
            # Same columns: replace the rows (readers keep the old ones until the commit, unblocked).
            statements += [f"DELETE FROM {table}", f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging}",
                           f"DROP TABLE {staging}"]
        else:
            # New, or its columns changed: the staged table takes its place.
            statements += [f"DROP TABLE IF EXISTS {table}",
                           f"ALTER TABLE {staging} RENAME TO {_quote(item.model.table)}",
                           f"CREATE INDEX ON {table} ({ROW_HASH_COLUMN})"]
    next_batch = f"(SELECT coalesce(max(batch), 0) + 1 FROM {schema}.{LEDGER_TABLE})"
    for item in changed:
        statements.append(
            f"INSERT INTO {schema}.{MODELS_TABLE} AS m (table_name, model, columns, row_count, batch, published_at) "
            f"VALUES ({_pg_literal(item.model.table)}, {_pg_literal(item.model.name)}, {_pg_literal(item.signature)}, "
            f"{item.result.rows}, {next_batch}, now()) ON CONFLICT (table_name) DO UPDATE SET model = EXCLUDED.model, "
            "columns = EXCLUDED.columns, row_count = EXCLUDED.row_count, batch = EXCLUDED.batch, "
            "published_at = EXCLUDED.published_at")
    batches = [item.source_batch for item in staged if item.source_batch is not None]
    statements.append(
        f"INSERT INTO {schema}.{LEDGER_TABLE} (batch, run_id, published_at, source_batch, models, rows_written, "
        f"rows_deleted) SELECT {next_batch}, {_pg_literal(run_id)}, now(), "
        f"{max(batches) if batches else 'NULL'}, {_pg_literal(', '.join(i.model.table for i in changed))}, "
        f"{sum(i.result.written for i in changed)}, {sum(i.result.deleted for i in changed)}")
    # One simple-protocol query: PostgreSQL runs its statements as one transaction, all or nothing.
    _pg_execute(connection, ";\n".join(statements))
    return _scalar(connection, f"SELECT max(batch) FROM {SERVING_CATALOG}.{schema}.{LEDGER_TABLE}")


def _pg_execute(connection: duckdb.DuckDBPyConnection, sql: str) -> None:
    connection.execute(f"CALL postgres_execute('{SERVING_CATALOG}', {_literal(sql)})")
    # DuckDB caches the attached database's catalog: tables just created or renamed must be seen.
    connection.execute("CALL pg_clear_cache()")


def _serving_table(serving: ServingConnection, name: str) -> str:
    return f"{SERVING_CATALOG}.{_quote(serving.schema)}.{_quote(name)}"


def _scalar(connection: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = connection.execute(sql).fetchone()
    value: Any = row[0] if row else None
    return int(value) if value is not None else 0


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    """A DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


def _pg_literal(value: str) -> str:
    """A PostgreSQL string literal (standard_conforming_strings, the default since 9.1)."""
    return "'" + value.replace("'", "''") + "'"
