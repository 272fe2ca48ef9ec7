"""Processes that lose their owner: who runs (pid, host, start), children that end with their
parent, and scratch folders that name the process that made them.

A ``kill -9`` gives a process no chance to clean up. What it leaves must be recognisable
afterwards: a Dagster run still STARTED, a dbt worker still waiting, a temporary folder. Each
records the process that owns it as a :class:`ProcessRecord`; whoever comes next asks
:func:`is_running` and cleans up only what belongs to a process that is gone.

A pid alone is not an identity: pids are reused. A record also holds the host (a pid means
nothing on another machine) and the process's start time; a live process with the recorded pid
that started later than the record is another process. Start times come from ``/proc`` (Linux);
elsewhere only the pid is checked.

Standard library only, and light: ``floe-dbt`` imports it (no dataclasses, no pathlib).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable
    from pathlib import Path

# /proc's start times are in clock ticks since boot, boot time in whole seconds: allow for both.
_START_SLACK_S = 2.0
_PR_SET_PDEATHSIG = 1
# How long a process told its parent is gone may take to end on the signal before it just exits.
_SIGNAL_GRACE_S = 10.0
# A scratch folder's name: <prefix><pid>.<start, whole seconds>-<random>.
_OWNED = re.compile(r"^(\d+)\.(\d+)-")


class ProcessRecord(NamedTuple):
    """A process as recorded by itself: enough to tell later whether it still runs."""

    pid: int
    host: str
    started: float | None  # seconds since the epoch; None where the system does not say

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def this_process() -> ProcessRecord:
    """The record of the calling process."""
    return ProcessRecord(os.getpid(), socket.gethostname(), process_started(os.getpid()))


def process_started(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), from /proc; None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat_file:
            stat = stat_file.read()
        with open("/proc/stat", encoding="utf-8") as system_file:
            boot = next(line for line in system_file if line.startswith("btime "))
        # The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        return int(boot.split()[1]) + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (someone else's counts)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_running(pid: int, started: float | None = None) -> bool:
    """Whether the process recorded with ``pid`` (and start time ``started``) still runs.

    A process that has the pid now but started after ``started`` (plus clock slack) took a
    reused pid: the recorded one is gone.
    """
    if not pid_alive(pid):
        return False
    if started is None:
        return True
    now_started = process_started(pid)
    return now_started is None or now_started <= started + _START_SLACK_S


def is_this_host(host: str) -> bool:
    """Whether ``host`` names this machine (a pid from elsewhere cannot be checked here)."""
    return host == socket.gethostname()


# -- children that end with their parent ----------------------------------------------------


def _pdeathsig_setter() -> Callable[[int], None] | None:
    """``prctl(PR_SET_PDEATHSIG, signum)``, looked up now (Linux; else None).

    ``PR_SET_PDEATHSIG`` fires when the *thread* that forked this process ends, not the whole
    parent process: a child started from a short-lived thread would be signalled when that
    thread returns. floe starts these children from the thread that also waits for them (the
    main thread of ``floe run`` or ``floe compile``), so the two coincide. The setting survives
    ``exec`` (``floe-dbt`` becoming plain dbt).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def set_signal(signum: int) -> None:
        prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0)

    return set_signal


def die_with_parent(signum: int = signal.SIGTERM, parent: int | None = None) -> None:
    """Ask the kernel to send ``signum`` to this process when its parent ends (Linux only).

    A parent that died before this call is caught by the reparenting check below: ``parent``
    is the pid the parent announced (else the parent when this process first looks, which
    misses a parent that died even earlier).
    """
    if parent is None:
        parent = os.getppid()
    set_signal = _pdeathsig_setter()
    if set_signal is None:
        return
    set_signal(signum)
    if os.getppid() != parent:
        os.kill(os.getpid(), signum)  # the parent ended between the two looks: we were reparented


def child_ends_with_parent(signum: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the forked child end with this process (Linux; else None).

    ``prctl`` is looked up here, in the parent: the child only calls it (no import, no lookup
    between fork and exec). The caller waits for the child in the thread that started it.
    """
    set_signal = _pdeathsig_setter()
    if set_signal is None:
        return None
    parent = os.getpid()

    def in_child() -> None:
        set_signal(signum)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os.kill(os.getpid(), signum)

    return in_child


def watch_parent_pipe(fd: int, signum: int = signal.SIGTERM) -> threading.Thread:
    """End this process with ``signum`` once ``fd`` (the read end of the parent's pipe) reports EOF.

    The parent keeps the write end and never writes; the kernel closes it however the parent
    ends, ``kill -9`` included. Portable, and independent of which parent thread started us.
    """
    def watch() -> None:
        _read_until_closed(fd)
        os.kill(os.getpid(), signum)
        # A handler that does not end the process (or an inherited SIG_IGN) does not keep it alive.
        time.sleep(_SIGNAL_GRACE_S)
        os._exit(128 + signum)

    thread = threading.Thread(target=watch, name="floe-parent-watch", daemon=True)
    thread.start()
    return thread


def pipe_closed(fd: int) -> threading.Event:
    """An Event set once nobody holds the write end of pipe ``fd`` any more (read end given).

    For a process that must act, not just end, when its parent goes: the parent keeps the write
    end and never writes, and the kernel closes it once the whole parent is gone."""
    closed = threading.Event()

    def watch() -> None:
        _read_until_closed(fd)
        closed.set()

    threading.Thread(target=watch, name="floe-parent-watch", daemon=True).start()
    return closed


def _read_until_closed(fd: int) -> None:
    """Block until end of file on ``fd`` (an unreadable fd counts as closed)."""
    with contextlib.suppress(OSError):
        while os.read(fd, 512):
            pass


def interrupt_and_reap(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGINT (dbt stops its queries and exits), then SIGKILL after ``grace`` seconds; reaped.

    Its stdout pipe is closed first: a child blocked writing to a pipe nobody reads any more
    gets an error instead of waiting out the grace."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
    if process.stdout is not None:
        process.stdout.close()
    import subprocess  # here: floe-dbt imports this module and never needs subprocess

    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- scratch folders named after their owner -------------------------------------------------


def owned_prefix(prefix: str) -> str:
    """A ``tempfile.mkdtemp`` prefix that records the calling process as the folder's owner."""
    me = this_process()
    return f"{prefix}{me.pid}.{int(me.started or 0)}-"


def remove_orphaned(parent: Path, prefix: str) -> list[Path]:
    """Remove the folders ``<parent>/<prefix>*`` whose owner (from the name) is gone; return them.

    Folders of a live owner, and folders whose name records no owner, are left alone.
    """
    import shutil

    removed: list[Path] = []
    try:
        candidates = [p for p in parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return removed
    for folder in candidates:
        owner = _OWNED.match(folder.name[len(prefix):])
        if owner is None or not folder.is_dir() or folder.is_symlink():
            continue
        pid, started = int(owner.group(1)), float(owner.group(2))
        if is_running(pid, started or None):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            removed.append(folder)
    return removed
