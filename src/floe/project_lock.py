"""One writer per project: an advisory lock on ``<project>/.floe/project.lock``.

Everything that writes a project's warehouse, lakehouse or run history (``floe run``, each batch
of ``floe demo``, the steps of runs that ``floe dev`` launches) holds this lock while it writes.
A second writer either gives up at once with :class:`ProjectBusyError`, which names the holder,
or waits its turn.

The lock is ``flock(2)`` on the file: the kernel releases it when the holder's file is closed,
which includes the holder dying of ``kill -9``, so a lock is never stale. The holder writes a
small JSON into the file (command line, pid, host, since when, what it is doing); that text is
only read to tell a refused writer whom it waits for, never to decide who holds the lock.

The lock is reentrant per process: a ``floe run`` holds it, and the Dagster steps it runs in the
same process take it again without waiting for themselves. The descriptor is opened
close-on-exec, so child processes (dbt, the dbt worker) never inherit the lock. Standard library
only: the CLI takes the lock before it imports anything heavy.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import shlex
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from floe.errors import FloeError

LOCK_FILE = "project.lock"
PROJECT_STATE_DIR = ".floe"
POLL_S = 0.2
"""How often a waiting writer tries again (flock has no timeout; polling keeps Ctrl-C working)."""
_COMMAND_WIDTH = 100


@dataclass(frozen=True)
class LockHolder:
    """Who holds a project's lock, as the holder wrote it into the lock file."""

    command: str
    pid: int
    host: str
    since: datetime | None
    doing: str = ""

    def describe(self, now: datetime | None = None) -> str:
        """``'floe run' (pid 1234) has held it since 22:41:07 (3 min ago)``."""
        where = "" if self.host in ("", socket.gethostname()) else f" on {self.host}"
        doing = f", {self.doing}" if self.doing else ""
        text = f"'{_shorten(self.command)}' (pid {self.pid}{where}{doing})"
        if self.since is None:
            return text + " holds it"
        now = now or datetime.now(timezone.utc)
        local = self.since.astimezone()
        clock = f"{local:%H:%M:%S}" if local.date() == now.astimezone().date() else f"{local:%Y-%m-%d %H:%M:%S}"
        return f"{text} has held it since {clock} ({_ago((now - self.since).total_seconds())})"

    def document(self) -> dict[str, object]:
        """The holder as JSON (what the lock file holds)."""
        return {"command": self.command, "pid": self.pid, "host": self.host,
                "since": self.since.isoformat() if self.since else None, "doing": self.doing}


class ProjectBusyError(FloeError):
    """Another process writes the project now (it holds ``.floe/project.lock``)."""

    def __init__(self, root: Path, holder: LockHolder | None, *, hint: str | None = None) -> None:
        self.root = root
        self.holder = holder
        who = holder.describe() if holder else "another process holds it (it has not said who yet)"
        super().__init__(f"the project {root} is busy: {who}",
                         hint=hint or "wait for it to finish, or pass --wait to start as soon as it has")


@dataclass
class _Held:
    fd: int
    count: int


_held: dict[Path, _Held] = {}
_held_guard = threading.Lock()


def lock_path(root: Path) -> Path:
    """The lock file of the project whose floe.yaml is in ``root``."""
    return Path(root).resolve() / PROJECT_STATE_DIR / LOCK_FILE


def read_holder(root: Path) -> LockHolder | None:
    """Who says they hold the lock (None when the file is empty, unreadable or absent)."""
    try:
        text = lock_path(root).read_text(encoding="utf-8")
        data = json.loads(text)
        since = datetime.fromisoformat(data["since"]) if data.get("since") else None
        return LockHolder(str(data["command"]), int(data["pid"]), str(data.get("host", "")), since,
                          str(data.get("doing", "")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def is_locked(root: Path) -> bool:
    """Whether some process holds the project's lock now (this process counts)."""
    path = lock_path(root)
    if path in _held:
        return True
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextlib.contextmanager
def project_lock(
    root: Path,
    *,
    wait: float = 0.0,
    doing: str = "",
    on_wait: Callable[[LockHolder | None], None] | None = None,
    busy_hint: str | None = None,
) -> Iterator[bool]:
    """Hold the project's writer lock for the ``with`` block; yields whether it is held.

    Args:
        root: The project folder (where floe.yaml is).
        wait: Seconds to wait for another holder; 0 gives up at once, ``math.inf`` waits as long
            as it takes.
        doing: What the holder does, shown to a refused writer (``batch 3 of 12``).
        on_wait: Called once, with the holder, when the lock is busy and this call waits.
        busy_hint: The hint of the :class:`ProjectBusyError` (default: wait, or pass --wait).

    Yields:
        True; False when the project's ``.floe`` folder cannot be written (a read-only
        mount): there is nothing to lock there, and the block runs without the lock.

    Raises:
        ProjectBusyError: another process holds it, and did not let go within ``wait``.
    """
    path = lock_path(root)
    with _held_guard:
        mine = _held.get(path)
        if mine is not None:
            mine.count += 1
    if mine is not None:
        try:
            yield True
        finally:
            _release(path)
        return
    fd = _open(path)
    if fd is None:
        yield False
        return
    try:
        fd = _acquire(path, fd, root, wait, on_wait, busy_hint)
    except BaseException:
        os.close(fd)
        raise
    with _held_guard:
        _held[path] = _Held(fd, 1)
    _write_holder(fd, doing)
    try:
        yield True
    finally:
        _release(path)


def _open(path: Path) -> int | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):  # a read-only mount, say
            return None
        raise


def _acquire(path: Path, fd: int, root: Path, wait: float,
             on_wait: Callable[[LockHolder | None], None] | None, busy_hint: str | None) -> int:
    """Lock ``fd`` (or a fresh descriptor, when the file was replaced meanwhile); returns the locked one."""
    deadline = time.monotonic() + wait if math.isfinite(wait) else math.inf
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _current_holder(root)
            if time.monotonic() >= deadline:
                raise ProjectBusyError(Path(root).resolve(), holder, hint=busy_hint) from None
            if not told and on_wait is not None:
                on_wait(holder)
            told = True
            time.sleep(min(POLL_S, max(deadline - time.monotonic(), 0.0)))
            continue
        # Someone may have deleted or replaced the file (a removed .floe folder) between our
        # open and our lock: a lock on a file nobody else opens protects nothing.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


def _current_holder(root: Path) -> LockHolder | None:
    """The holder's note; a holder that has just locked may not have written it yet: ask briefly."""
    for _ in range(5):
        holder = read_holder(root)
        if holder is not None:
            return holder
        time.sleep(0.05)
    return None


def _write_holder(fd: int, doing: str) -> None:
    argv = [Path(sys.argv[0]).name or "python", *sys.argv[1:]] if sys.argv and sys.argv[0] else ["python"]
    if argv[0] == "__main__.py" or argv[0] == "-m":
        argv[0] = "floe"  # python -m floe
    holder = LockHolder(shlex.join(argv), os.getpid(), socket.gethostname(), datetime.now(timezone.utc), doing)
    data = json.dumps(holder.document()).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _release(path: Path) -> None:
    with _held_guard:
        mine = _held[path]
        mine.count -= 1
        if mine.count:
            return
        del _held[path]
    # Empty the note first: a reader must never take it for the next holder's.
    with contextlib.suppress(OSError):
        os.ftruncate(mine.fd, 0)
    os.close(mine.fd)  # closing releases the flock


def _shorten(command: str) -> str:
    return command if len(command) <= _COMMAND_WIDTH else command[: _COMMAND_WIDTH - 3] + "..."


def _ago(seconds: float) -> str:
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.0f} s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"
