"""The ``dagster-daemon`` process the elector starts and stops, and the guarantee it never outlives us.

A daemon left running by a wrapper that died is exactly the second daemon leader election
exists to prevent, so the daemon ends with its wrapper whatever kills it:

* without a guardian (no lease, or a PostgreSQL lock), the daemon gets ``PR_SET_PDEATHSIG``
  SIGKILL: the kernel kills it the moment the wrapper dies. The lock, held by the wrapper's
  connection, is freed by the same death.
* with a Kubernetes Lease, a lease outlives its holder by up to its duration. So a small
  guardian process (:mod:`floe.daemon.guardian`) sits between the wrapper and the daemon: when
  the wrapper dies it kills the daemon, waits until it is gone, and only then gives the lease
  back, so a standby takes over at once instead of waiting for the lease to expire. It learns
  of that death from a pipe whose only write end the wrapper holds (end of file once the whole
  wrapper process is gone), not from ``PR_SET_PDEATHSIG``: that signal comes when the *thread*
  that started the guardian ends, and while the rest of a killed wrapper is still going the
  guardian could not tell it from an orderly stop.

Stopping is bounded: SIGTERM, then SIGKILL after ``grace`` seconds, then the process is reaped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from floe.errors import FloeError
from floe.processes import child_ends_with_parent

# How long an orderly stop waits for the daemon after SIGTERM before SIGKILL.
STOP_GRACE_S = 2.0


def daemon_command(workspace: Path | None) -> list[str]:
    """``dagster-daemon run [-w workspace]``, the console script of this Python environment when it
    has one (a virtualenv need not be on PATH), else from PATH."""
    beside = Path(sys.executable).parent / "dagster-daemon"
    program = str(beside) if beside.exists() else "dagster-daemon"
    return [program, "run", *(["-w", str(workspace)] if workspace else [])]


class DaemonChild:
    """One started daemon (optionally behind a guardian); :meth:`stop` is idempotent."""

    def __init__(self, command: Sequence[str], env: dict[str, str], *,
                 guardian_args: Sequence[str] | None = None) -> None:
        """
        Args:
            command: The daemon's command line (``dagster-daemon run -w ...``).
            env: Its environment.
            guardian_args: When given, the daemon runs under ``python -m floe.daemon.guardian`` with
                these arguments (how to give the lease back), which then owns the daemon.
        """
        argv = list(command)
        self._lifeline: int | None = None  # the write end of the guardian's pipe, held until it is reaped
        pass_fds: tuple[int, ...] = ()
        if guardian_args is not None:
            read_end, self._lifeline = os.pipe()  # both close-on-exec: no other child inherits them
            pass_fds = (read_end,)
            argv = [sys.executable, "-m", "floe.daemon.guardian", *guardian_args, str(read_end), "--", *argv]
        # A daemon without guardian dies with the wrapper, by the kernel; a guardian must outlive
        # the wrapper long enough to act, and watches the pipe instead.
        preexec = None if guardian_args is not None else child_ends_with_parent(signal.SIGKILL)
        self.started_at = time.time()
        try:
            self.process = subprocess.Popen(argv, env=env, preexec_fn=preexec, pass_fds=pass_fds)
        except OSError as error:  # missing or not executable: a setup problem, said plainly
            self._close_lifeline()
            raise FloeError(f"cannot start the daemon '{command[0]}': {error.strerror or error}",
                            hint="install Dagster's daemon in this environment (pip install dagster), or "
                            "give the command after '--'") from None
        finally:
            for fd in pass_fds:
                os.close(fd)
        self.guarded = guardian_args is not None

    @property
    def pid(self) -> int:
        return self.process.pid

    def exit_code(self) -> int | None:
        """The exit status once the process ended by itself, else None."""
        code = self.process.poll()
        if code is not None:
            self._close_lifeline()
        return code

    def stop(self, grace: float = STOP_GRACE_S) -> int:
        """SIGTERM, SIGKILL after ``grace`` seconds, and wait until it is reaped; its exit status."""
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            # A guardian gives its daemon the grace itself; allow it that and a little more.
            limit = grace + (1.0 if self.guarded else 0.0)
            try:
                self.process.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)  # a guardian's daemon then dies with it (PDEATHSIG)
        return self._reap()

    def kill(self) -> int:
        """SIGKILL now and reap: for when there is no time left for an orderly stop."""
        if self.process.poll() is None:
            self._signal(signal.SIGKILL)
        return self._reap()

    def _reap(self) -> int:
        """Wait until the process is reaped, then close the guardian's pipe; the exit status.

        Closed only then: an end of file while the guardian runs would tell it the wrapper died,
        and it would give back a lease this living wrapper may still hold."""
        code = self.process.wait()
        self._close_lifeline()
        return code

    def _close_lifeline(self) -> None:
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None

    def _signal(self, signum: int) -> None:
        try:
            os.kill(self.process.pid, signum)
        except ProcessLookupError:
            pass
