"""Dagster's SQLite storage, without opening a new engine and connection for every event.

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

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage, _event_logs_directory
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool


class CachedEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage with one engine per shard for the life of the process."""

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        self._engines: dict[str, Engine] = {}
        super().__init__(base_dir, inst_data=inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
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
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        super().dispose()


def _relax_wal_sync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


class FloeSqliteStorage(DagsterSqliteStorage):
    """DagsterSqliteStorage whose event log reuses its engines (configured as ``storage: custom``)."""

    def __init__(self, base_dir: str, inst_data: Any = None) -> None:
        super().__init__(base_dir, inst_data=inst_data)
        self._event_log_storage = CachedEngineSqliteEventLogStorage(_event_logs_directory(base_dir))

    @classmethod
    def from_config_value(cls, inst_data: Any, config_value: Any) -> FloeSqliteStorage:
        # Upstream's classmethod names its own class; build ours.
        return cls(inst_data=inst_data, **config_value)
