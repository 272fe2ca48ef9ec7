"""The lease as a PostgreSQL advisory lock on Dagster's own database (Compose, VMs, ``floe dev``).

A session-level advisory lock is held exactly as long as the database session that took it.
So the lease is one dedicated connection:

* taking it is ``pg_try_advisory_lock`` (never waits);
* renewing it is a query on that connection proving the session, and so the lock, still stand;
* a holder that dies (``kill -9``, a crashed host) loses the lock when the server sees its
  connection close — at once for a killed process;
* a holder cut off from the server loses it when the server ends the silent session:
  ``idle_session_timeout`` is set to the lease duration for this session, and TCP keepalives
  are tightened, so the lock is freed about one lease duration after the last renewal, never
  earlier. The holder stops its daemon ``renew_deadline`` after its last renewal, which the
  spec keeps at least a few seconds shorter.

Every wait is bounded on the client side too: the connection is used in psycopg2's
asynchronous mode and polled with ``select``, so a server that stops answering costs exactly the
time the elector allows, never a TCP timeout.
"""

from __future__ import annotations

import hashlib
import select
import time
from typing import TYPE_CHECKING, Any

from floe.daemon.lock import LeaseLost, LeaseUnreachable

if TYPE_CHECKING:
    from floe.spec.platform import PostgresOrchestratorStorage

# One lock per Dagster database: every replica of one instance derives the same key.
_KEY_PREFIX = "floe:dagster-daemon:"


def lock_key(database: str, name: str = "") -> int:
    """The advisory lock's 64-bit key for a database (and an optional lease name)."""
    digest = hashlib.sha256(f"{_KEY_PREFIX}{database}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PgAdvisoryLock:
    """A :class:`floe.daemon.lock.LeaderLock` held by one PostgreSQL session."""

    def __init__(self, connection: dict[str, Any], *, identity: str, lease_duration_s: int,
                 name: str = "") -> None:
        """
        Args:
            connection: libpq keywords (host, port, user, password, dbname, sslmode...).
            identity: Shown as the session's application_name (who holds the lock, in pg_stat_activity).
            lease_duration_s: The server ends the session after this long without a renewal.
            name: Tells two leases on one database apart (default: one per database).
        """
        self.identity = identity
        self.key = lock_key(str(connection.get("dbname", "")), name)
        self._connection = dict(connection)
        self._lease_duration_s = lease_duration_s
        self._conn: Any = None
        self._held = False
        self._pending: Any = None  # a cursor whose query was sent but not yet answered

    # -- the LeaderLock protocol ------------------------------------------------------------

    def try_acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if self._held:
            self.renew(timeout)
            return True
        self._ensure_connection(deadline)
        row = self._query("SELECT pg_try_advisory_lock(%s)", (self.key,), deadline)
        self._held = bool(row and row[0])
        return self._held

    def renew(self, timeout: float) -> None:
        if not self._held:
            raise LeaseLost("this process does not hold the lock")
        deadline = time.monotonic() + timeout
        # The lock lives as long as this session: a query answered on it proves both. Asking
        # pg_locks as well guards against a session that was somehow told to unlock.
        row = self._query(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
            "AND granted AND ((classid::bigint << 32) | objid::bigint) = %s", (self.key,), deadline)
        if not row or int(row[0]) == 0:
            self._held = False
            raise LeaseLost("the advisory lock is no longer held by this session")

    def release(self, timeout: float) -> None:
        # Closing the session frees a session-level lock: no unlock query that could hang.
        self._held = False
        self.close()

    def holder(self, timeout: float) -> str | None:
        if self._held:
            return self.identity
        deadline = time.monotonic() + timeout
        self._ensure_connection(deadline)
        row = self._query(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s LIMIT 1", (self.key,), deadline)
        return str(row[0]) if row else None

    def close(self) -> None:
        self._held = False
        self._pending = None
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # noqa: BLE001 - a broken connection is being dropped anyway
                pass
            self._conn = None

    # -- one connection, polled with deadlines --------------------------------------------------

    def _ensure_connection(self, deadline: float) -> None:
        if self._conn is not None and not self._conn.closed:
            return
        import psycopg2

        duration_ms = self._lease_duration_s * 1000
        # Server side: end a silent session after one lease duration, and notice a vanished
        # peer quickly (keepalives every 2 s, 3 misses).
        options = (f"-c idle_session_timeout={duration_ms} -c tcp_keepalives_idle=5 "
                   "-c tcp_keepalives_interval=2 -c tcp_keepalives_count=3")
        params = {**self._connection, "application_name": self.identity[:63], "options": options,
                  "connect_timeout": max(1, int(deadline - time.monotonic())),
                  "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}
        try:
            conn = psycopg2.connect(async_=1, **params)
            self._conn = conn
            self._wait(deadline)
        except LeaseUnreachable:
            self.close()  # a half-open connection is no use to the next attempt
            raise
        except psycopg2.Error as error:
            self.close()
            raise LeaseUnreachable(f"cannot connect to PostgreSQL: {_first_line(error)}") from error

    def _query(self, sql: str, params: tuple[Any, ...], deadline: float) -> tuple[Any, ...] | None:
        import psycopg2

        try:
            if self._pending is None:
                cursor = self._conn.cursor()
                cursor.execute(sql, params)
                self._pending = cursor
            self._wait(deadline)
            cursor, self._pending = self._pending, None
            row: tuple[Any, ...] | None = cursor.fetchone()
            return row
        except LeaseUnreachable:
            raise  # the query stays pending: the next call waits for its answer
        except psycopg2.Error as error:
            # The session is gone (the server ended it, the connection broke): so is the lock.
            was_held = self._held
            self.close()
            if was_held:
                raise LeaseLost(f"the session holding the lock ended: {_first_line(error)}") from error
            raise LeaseUnreachable(f"PostgreSQL: {_first_line(error)}") from error

    def _wait(self, deadline: float) -> None:
        """Drive the asynchronous connection until its current operation completes, or the deadline."""
        import psycopg2.extensions as ext

        while True:
            state = self._conn.poll()
            if state == ext.POLL_OK:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LeaseUnreachable("PostgreSQL did not answer in time")
            fileno = self._conn.fileno()
            if state == ext.POLL_READ:
                select.select([fileno], [], [], remaining)
            elif state == ext.POLL_WRITE:
                select.select([], [fileno], [], remaining)


def connection_of(storage: PostgresOrchestratorStorage) -> dict[str, Any]:
    """libpq keywords for Dagster's PostgreSQL storage, its password secret resolved now."""
    from floe.spec.secrets import resolve_secrets

    params: dict[str, Any] = {"host": storage.host, "port": storage.port, "user": storage.user,
                              "dbname": storage.database}
    if storage.sslmode:
        params["sslmode"] = storage.sslmode
    if storage.password is not None:
        ref = storage.password.secret_ref
        params["password"] = resolve_secrets([ref])[ref]
    return params


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
