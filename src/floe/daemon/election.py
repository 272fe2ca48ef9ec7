"""The loop of ``floe daemon run``: hold the lease, run the daemon, never two at once.

Without a lease (mode single) the wrapper is simply the daemon's supervisor: it starts
``dagster-daemon``, restarts it when it exits or when its heartbeats stop.

With a lease (mode ha) every replica runs this loop; at most one is *leader*:

* a **standby** asks the store every ``retry_period`` whether the lease is free or expired, and
  takes it when it is;
* the **leader** starts the daemon, then renews every ``retry_period``. A renewal the store
  refuses (another holder) stops the daemon at once (SIGKILL). A store that does not answer is
  retried until ``renew_deadline`` after the last good renewal; then the daemon is stopped
  (SIGTERM, SIGKILL two seconds later) — still before the lease expires
  (``renew_deadline + 3 s <= duration``, checked by the spec), so by the time a standby may take
  over, this daemon is gone. Each renewal's own wait is cut to the time left before the deadline.
* a **takeover delay** after acquiring covers a lock that is freed the instant its holder dies
  (PostgreSQL): the old daemon is killed by the kernel at the same instant, and the delay gives
  that kill time to land before a new daemon starts.

Every change is reported as an event (see :class:`Event`), printed by the CLI as a line or JSON.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floe.daemon.child import STOP_GRACE_S, DaemonChild
from floe.daemon.heartbeat import HeartbeatWatch
from floe.daemon.lock import LeaderLock, LeaseLost, LeaseUnreachable

# A daemon that lived this long is healthy again: its next crash restarts it without delay.
_HEALTHY_RUN_S = 60.0
_MAX_BACKOFF_S = 10.0
_TICK_S = 0.1
_ALIVE_EVERY_S = 1.0


@dataclass(frozen=True)
class Timing:
    """Every duration of the loop, in seconds."""

    lease_duration: float
    renew_deadline: float
    retry_period: float
    restart_timeout: float
    health_check_interval: float
    takeover_delay: float = 0.0


@dataclass(frozen=True)
class Event:
    """Something the wrapper did or saw: ``kind`` plus details, ``at`` on time.time()'s clock."""

    kind: str
    message: str
    at: float = field(default_factory=time.time)
    details: dict[str, Any] = field(default_factory=dict)


def write_event(kind: str, message: str, as_json: bool, details: dict[str, Any], at: float | None = None) -> None:
    """One event as the wrapper and its guardian print it: a JSON line on stdout, or a stamped line
    on stderr."""
    when = time.time() if at is None else at
    if as_json:
        sys.stdout.write(json.dumps({"event": kind, "message": message, "at": when, **details}) + "\n")
        sys.stdout.flush()
    else:
        sys.stderr.write(f"{time.strftime('%H:%M:%S', time.localtime(when))} {message}\n")
        sys.stderr.flush()


class Elector:
    """Runs one replica: standby, leader with a daemon, and back."""

    def __init__(self, lock: LeaderLock | None, start_daemon: Callable[[], DaemonChild], timing: Timing,
                 report: Callable[[Event], None], watch: HeartbeatWatch | None = None,
                 alive_file: Path | None = None) -> None:
        self._lock = lock
        self._start_daemon = start_daemon
        self._timing = timing
        self._report = report
        self._watch = watch
        self._crashes = 0
        self._unreachable_reported = False
        self._child: DaemonChild | None = None  # the daemon started last
        self._alive_file = alive_file
        self._alive_at = 0.0
        self._acquired_at = 0.0
        self._store_silent = False  # a standby's looks go unanswered

    def run(self, stop: threading.Event) -> None:
        """Until ``stop`` is set: wait for the lease, lead while it holds; then stop cleanly."""
        try:
            if self._lock is None:
                while not stop.is_set():
                    self._lead(stop)
                return
            announced_standby = False
            while not stop.is_set():
                self._alive()
                if self._acquire():
                    announced_standby = False
                    if self._timing.takeover_delay > 0 and stop.wait(self._timing.takeover_delay):
                        break
                    self._lead(stop)
                    continue
                if not announced_standby:
                    holder = self._holder()
                    self._emit("standby", f"standby: the lease is held by {holder or 'another replica'}",
                               holder=holder)
                    announced_standby = True
                stop.wait(self._timing.retry_period)
        finally:
            if self._lock is not None:
                self._lock.release(self._timing.retry_period)
                self._lock.close()

    # -- standby ------------------------------------------------------------------------------

    def _acquire(self) -> bool:
        assert self._lock is not None
        self._acquired_at = time.monotonic()  # as for renewals: from when the request was sent
        try:
            acquired = self._lock.try_acquire(self._timing.retry_period)
        except LeaseUnreachable as error:
            if not self._store_silent:  # said once per outage, not every retry period
                self._emit("unreachable", f"the lease store did not answer: {error}")
                self._store_silent = True
            return False
        if self._store_silent:
            self._emit("reachable", "the lease store answers again")
            self._store_silent = False
        if acquired:
            self._emit("leader", f"leader: {self._lock.identity} holds the lease", identity=self._lock.identity)
        return acquired

    def _holder(self) -> str | None:
        assert self._lock is not None
        try:
            return self._lock.holder(self._timing.retry_period)
        except LeaseUnreachable:
            return None

    # -- leader -------------------------------------------------------------------------------

    def _lead(self, stop: threading.Event) -> None:
        """Run the daemon while the lease holds (forever without one); return when it no longer does."""
        try:
            self._lead_with(self._spawn(), stop)
        except BaseException:
            # A store error floe cannot retry (a revoked token, a missing RBAC rule) or a bug:
            # no daemon may run on without a renewed lease.
            if self._child is not None:
                self._child.kill()
            raise

    def _lead_with(self, child: DaemonChild, stop: threading.Event) -> None:
        timing = self._timing
        # The lease was last written when it was taken (before the takeover delay and the spawn).
        last_renewal = self._acquired_at if self._lock is not None else time.monotonic()
        next_renewal = time.monotonic() + timing.retry_period
        health = _Health(self._watch, timing) if self._watch is not None else None
        while True:
            self._alive()
            if stop.wait(_TICK_S):
                code = child.stop()
                self._emit("daemon-stopped", f"daemon stopped (exit {code}): floe daemon was asked to stop",
                           pid=child.pid, reason="stopped")
                return
            code_or_none = child.exit_code()
            if code_or_none is not None:
                self._daemon_exited(child, code_or_none, stop)
                return
            now = time.monotonic()
            if self._lock is not None and now >= next_renewal:
                # A renewal counts from when it was sent, not answered: the store may have written
                # it up to a whole timeout before the answer came, and the deadline must not move
                # later than the lease the standbys see.
                attempt = time.monotonic()
                outcome = self._renew(child, last_renewal)
                if outcome == "stopped":
                    return
                if outcome == "renewed":
                    last_renewal = attempt
                    next_renewal = time.monotonic() + timing.retry_period
                else:  # no answer yet: try again soon, the deadline is near
                    next_renewal = time.monotonic() + min(timing.retry_period, 0.5)
            if health is not None:
                why = health.why_restart(now)
                if why is not None:
                    code = child.stop()
                    self._emit("daemon-restarted", f"daemon restarted: {why} (exit {code})", pid=child.pid,
                               reason="heartbeat", why=why)
                    child = self._spawn()
                    health.restarted()

    def _renew(self, child: DaemonChild, last_renewal: float) -> str:
        """One renewal attempt: 'renewed', 'pending' (no answer, deadline not reached) or 'stopped'
        (the daemon was stopped: this replica no longer leads)."""
        assert self._lock is not None
        timing = self._timing
        deadline = last_renewal + timing.renew_deadline
        left = deadline - time.monotonic()
        if left > 0:
            try:
                self._lock.renew(min(timing.retry_period, left))
                if self._unreachable_reported:
                    self._emit("renewed", "the lease store answers again; the lease is renewed")
                    self._unreachable_reported = False
                return "renewed"
            except LeaseLost as error:
                code = child.kill()
                self._emit("daemon-stopped", f"daemon killed (exit {code}): the lease was lost: {error}",
                           pid=child.pid, reason="lease lost")
                self._lock.close()
                return "stopped"
            except LeaseUnreachable as error:
                if deadline - time.monotonic() > 0:
                    if self._unreachable_reported:
                        return "pending"
                    self._unreachable_reported = True
                    self._emit("unreachable", f"could not renew the lease ({error}); the daemon stops in "
                               f"{deadline - time.monotonic():.1f}s unless a renewal succeeds")
                    return "pending"
        self._unreachable_reported = False
        code = child.stop(grace=STOP_GRACE_S)
        self._emit("daemon-stopped", f"daemon stopped (exit {code}): the lease could not be renewed for "
                   f"{timing.renew_deadline:g}s, so it may expire", pid=child.pid, reason="renew deadline")
        self._lock.close()
        return "stopped"

    def _daemon_exited(self, child: DaemonChild, code: int, stop: threading.Event) -> None:
        lived = time.time() - child.started_at
        self._crashes = 0 if lived >= _HEALTHY_RUN_S else self._crashes + 1
        self._emit("daemon-exited", f"dagster-daemon exited by itself (exit {code}) after {lived:.0f}s",
                   pid=child.pid, exit_code=code)
        if self._lock is not None:
            # Let another replica lead: this one may be what is wrong.
            self._lock.release(self._timing.retry_period)
            self._lock.close()
        backoff = min(_MAX_BACKOFF_S, 2.0 ** self._crashes - 1) if self._crashes else 0.0
        stop.wait(max(backoff, self._timing.retry_period if self._lock is not None else 0.0))

    def _alive(self) -> None:
        """Touch the alive file (at most once a second): this loop still turns."""
        if self._alive_file is None or time.monotonic() - self._alive_at < _ALIVE_EVERY_S:
            return
        self._alive_at = time.monotonic()
        try:
            self._alive_file.touch()
        except OSError as error:
            self._emit("alive-file", f"cannot touch {self._alive_file}: {error}")
            self._alive_file = None  # said once; the probe will say the rest

    def _spawn(self) -> DaemonChild:
        child = self._start_daemon()
        self._child = child
        self._emit("daemon-started", f"dagster-daemon started (pid {child.pid})", pid=child.pid)
        return child

    def _emit(self, kind: str, message: str, **details: Any) -> None:
        self._report(Event(kind, message, details=details))


class _Health:
    """When to restart a running daemon: its heartbeats are stale, or cannot be confirmed.

    A look that finds a stale heartbeat restarts it at once. A look that fails (the storage
    unreadable) or does not end (SQLite locked by the very daemon that hangs; a slow machine)
    restarts it only when nothing confirmed fresh heartbeats for ``restart_timeout`` — the same
    bound a liveness probe that cannot read the instance gives on Kubernetes.
    """

    def __init__(self, watch: HeartbeatWatch, timing: Timing) -> None:
        self._watch = watch
        self._timing = timing
        self.restarted()

    def restarted(self) -> None:
        """A daemon was (re)started now: restart_timeout to write its first heartbeats, and the
        looks as long again to confirm them."""
        now = time.monotonic()
        self._next = now + self._timing.restart_timeout
        self._confirmed = self._next
        self._asked: float | None = None  # time.time() of the look under way

    def why_restart(self, now: float) -> str | None:
        """None while healthy (or not known yet); else why the daemon must be restarted."""
        if now < self._next:
            return None
        if self._asked is None:
            self._watch.request()
            self._asked = time.time()
        verdict = self._watch.latest()
        cause = "the heartbeats could not be read in time"
        if verdict is not None and verdict.checked_at >= self._asked:
            self._asked = None
            self._next = now + self._timing.health_check_interval
            if verdict.stale:
                return f"no heartbeat from {', '.join(verdict.stale)} for {self._timing.restart_timeout:g}s"
            if verdict.error is None:
                self._confirmed = now
                return None
            cause = verdict.error
        unconfirmed = now - self._confirmed
        if unconfirmed > self._timing.restart_timeout:
            return f"no fresh heartbeat confirmed for {unconfirmed:.0f}s ({cause})"
        return None
