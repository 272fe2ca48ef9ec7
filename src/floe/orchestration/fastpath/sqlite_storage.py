"""Dagster's SQLite storage, without opening a new engine and connection for every event (fast path).

Upstream's SQLite event log creates an engine, opens a connection, and closes and disposes
both for each statement it runs. A dbt run of 1,000 models stores thousands of events and
makes as many data-version look-ups, so opening and closing SQLite files became a large share
of floe's per-model overhead (profiled: connect + close cost about as much as the commits).
This subclass keeps one engine with a small connection pool per database file.

Upstream puts every file in WAL mode but leaves ``synchronous=FULL``, so each of the three or
so commits per event waits for an fsync of the write-ahead log: 8 s of a 200-model run
(profiled). floe's connections use ``synchronous=NORMAL``, SQLite's recommended setting for
WAL: a commit is still atomic and survives the process crashing; only an operating-system
crash or power loss may roll back the last few commits of run history (never the warehouse,
which dbt writes). Files and schema are upstream's: ``dagster dev`` reads the same folder with
the stock storage.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from dagster._core.definitions.events import AssetKey
from dagster._core.event_api import EventLogRecord
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import AssetKeyTable
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import QueuePool


class CachedEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with one engine per shard for the life of the process.

    ``store_event_batch`` stores a batch (Dagster sends the planned-materialization events of a
    run as one, when ``DAGSTER_EVENT_BATCH_SIZE`` is set) with upstream's own ``store_event``
    for each event, inside one transaction per shard instead of two or three per event: at
    1,000 models that is 1,100 events before the first step can start.
    """

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        self._engines: dict[str, Engine] = {}
        self._batch: _OpenBatch | None = None
        self._known_tables: set[str] = set()
        self._materialized_run: str | None = None
        self._materialized: dict[AssetKey, EventLogRecord] = {}
        self._known_asset_key_columns: set[str] = set()
        super().__init__(base_dir, inst_data=inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        batch = self._batch
        if batch is not None and batch.thread == threading.get_ident():
            # Inside store_event_batch (which holds the lock): share the shard's transaction.
            conn = batch.connections.get(shard)
            if conn is None:
                conn = batch.connections[shard] = batch.transactions.enter_context(self._transaction(shard))
            yield conn
            return
        with self._db_lock, self._transaction(shard) as conn:
            yield conn

    @contextmanager
    def _transaction(self, shard: str) -> Iterator[Connection]:
        engine = self._engine(shard)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        with engine.connect() as conn, conn.begin():
            yield conn

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is None:
            # A pooled connection still sees other processes' commits: SQLite checks the
            # file at the start of every transaction, and each use here is one transaction.
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=QueuePool,
                pool_size=1,
                max_overflow=4,
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False},
            )
            event.listen(engine, "connect", _relax_wal_sync)
            self._engines[shard] = engine
        return engine

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store the events in order, one transaction per shard; all or nothing per shard."""
        with self._db_lock, ExitStack() as transactions:
            self._batch = _OpenBatch(threading.get_ident(), transactions)
            try:
                for entry in events:
                    self.store_event(entry)
            finally:
                self._batch = None

    def _store_asset_event(self, conn: Connection, event: EventLogEntry, event_id: int) -> None:
        """Upstream's upsert of the asset's row, update first: after the first run the row exists,
        and upstream's insert-then-update pays for a failed insert and its exception every time."""
        dagster_event = event.dagster_event
        if not (dagster_event and dagster_event.asset_key):
            return
        values = self._get_asset_entry_values(event, event_id, self._has_asset_key_index_cols_on_connection(conn))
        if not values:
            return
        key = dagster_event.asset_key.to_string()
        update = AssetKeyTable.update().values(**values).where(AssetKeyTable.c.asset_key == key)
        if conn.execute(update).rowcount == 0:
            try:
                conn.execute(AssetKeyTable.insert().values(asset_key=key, **values))
            except IntegrityError:  # another process inserted it in between
                conn.execute(update)
        if dagster_event.is_step_materialization:
            if event.run_id != self._materialized_run:  # keep one run's worth: bounded memory
                self._materialized_run, self._materialized = event.run_id, {}
            self._materialized[dagster_event.asset_key] = EventLogRecord(storage_id=event_id, event_log_entry=event)

    def materialized_in_run(self, run_id: str, asset_key: AssetKey) -> EventLogRecord | None:
        """The materialization of the asset that this process stored for the run, if any.

        What the asset's row would give as its latest materialization while the run that
        stored it is going (used by :mod:`.step_patches`).
        """
        return self._materialized.get(asset_key) if run_id == self._materialized_run else None

    def forget_run(self, run_id: str) -> None:
        """Close the engine of a deleted run's file (``floe.orchestration.history`` deletes the file)."""
        engine = self._engines.pop(run_id, None)
        if engine is not None:
            engine.dispose()

    # Schema facts. Upstream asks SQLite for them on every asset event (``has_table`` even opens
    # a new engine and a second connection to do it): a third of the cost of storing a
    # materialization. Migrations only ever add tables and columns, so a yes is remembered; a
    # no is asked again.

    def has_table(self, table_name: str) -> bool:
        if table_name in self._known_tables:
            return True
        # Not through _connect: upstream calls this while holding the (non-reentrant) lock.
        with self._engine(INDEX_SHARD_NAME).connect() as conn:
            found = bool(conn.dialect.has_table(conn, table_name))
        if found:
            self._known_tables.add(table_name)
        return found

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        if column_name in self._known_asset_key_columns:
            return True
        found = super()._has_asset_key_col_on_connection(conn, column_name)
        if found:
            self._known_asset_key_columns.add(column_name)
        return found

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        super().dispose()


@dataclass
class _OpenBatch:
    """The transactions of the batch being stored: one per shard, committed together at its end."""

    thread: int
    transactions: ExitStack
    connections: dict[str, Connection] = field(default_factory=dict)


def _relax_wal_sync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class FloeSqliteStorage(DagsterSqliteStorage):
    """DagsterSqliteStorage whose event log reuses its engines (configured as ``storage: custom``)."""

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        from floe.orchestration.fastpath.seams import DAGSTER, verify

        super().__init__(base_dir, inst_data=inst_data)
        if verify(DAGSTER):
            self._event_log_storage = CachedEngineSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> FloeSqliteStorage:
        # Upstream's classmethod names its own class; build ours.
        return cls(inst_data=inst_data, **config_value)
