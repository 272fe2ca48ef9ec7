"""Is the running daemon alive? Its heartbeats in Dagster's storage say.

A daemon process can be alive and stuck (a hung storage call, a deadlocked thread): its process
is there, its heartbeats stop. The elector asks :class:`HeartbeatWatch` every
``health_check_interval`` whether every daemon the instance needs beat within
``restart_timeout``, and restarts the daemon when not — what the liveness probe does on
Kubernetes in mode single. The question runs in a background thread: opening the instance
imports Dagster and may wait on the database, and the elector's renewals must not wait for it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class HeartbeatVerdict:
    """One look at the heartbeats: stale ones named; ``checked_at`` on time.time()'s clock."""

    checked_at: float
    stale: tuple[str, ...]  # daemon types whose heartbeat is missing or too old
    error: str | None = None  # the storage could not be read (not a reason to restart)


class HeartbeatWatch:
    """Reads the instance's daemon heartbeats whenever asked, one look at a time."""

    def __init__(self, tolerance_s: float) -> None:
        self._tolerance_s = tolerance_s
        self._lock = threading.Lock()
        self._latest: HeartbeatVerdict | None = None
        self._busy = False

    def request(self) -> None:
        """Start one look in the background unless one is under way."""
        with self._lock:
            if self._busy:
                return
            self._busy = True
        threading.Thread(target=self._look, name="floe-daemon-heartbeat", daemon=True).start()

    def latest(self) -> HeartbeatVerdict | None:
        with self._lock:
            return self._latest

    def _look(self) -> None:
        try:
            verdict = self._verdict()
        except Exception as error:  # noqa: BLE001 - any storage failure is reported, never raised
            verdict = HeartbeatVerdict(time.time(), (), f"{type(error).__name__}: {error}".splitlines()[0])
        with self._lock:
            self._latest = verdict
            self._busy = False

    def _verdict(self) -> HeartbeatVerdict:
        now = time.time()
        ages = heartbeat_ages()
        stale = tuple(sorted(kind for kind, age in ages.items() if age is None or age > self._tolerance_s))
        return HeartbeatVerdict(now, stale)


def heartbeat_ages() -> dict[str, float | None]:
    """Seconds since each daemon the instance in $DAGSTER_HOME needs last beat (None: never)."""
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        now = time.time()
        beats = instance.get_daemon_heartbeats()
        return {kind: (max(0.0, now - beats[kind].timestamp) if kind in beats else None)
                for kind in sorted(instance.get_required_daemon_types())}
