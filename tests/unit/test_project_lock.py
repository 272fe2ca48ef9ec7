"""One writer per project (floe.project_lock), in this process.

Another holder is a second open file description of the lock file with flock on it, exactly
what another process holds: flock refuses it to this process's own new descriptors too. The
same with real processes, and a holder killed with SIGKILL, is in
tests/integration/test_one_writer.py.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from floe.errors import FloeError
from floe.project_lock import LockHolder, ProjectBusyError, is_locked, lock_path, project_lock, read_holder


@contextmanager
def other_holder(root: Path, note: dict[str, object] | None) -> Iterator[int]:
    """Hold the lock as another process would: its own descriptor, flock, and its note."""
    path = lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if note is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(note).encode(), 0)
        yield fd
    finally:
        os.close(fd)


def _note(pid: int = 4242, minutes_ago: float = 3, command: str = "floe run --select stg_orders") -> dict[str, object]:
    since = datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)
    return {"command": command, "pid": pid, "host": socket.gethostname(), "since": since.isoformat(), "doing": ""}


def test_the_holder_writes_who_it_is_and_clears_it_on_release(tmp_path: Path) -> None:
    assert not is_locked(tmp_path)
    with project_lock(tmp_path, doing="demo batch 2 of 5") as held:
        assert held
        assert is_locked(tmp_path)
        holder = read_holder(tmp_path)
        assert holder is not None
        assert holder.pid == os.getpid()
        assert holder.doing == "demo batch 2 of 5"
        assert holder.since is not None and abs((datetime.now(timezone.utc) - holder.since).total_seconds()) < 60
    assert lock_path(tmp_path) == tmp_path.resolve() / ".floe" / "project.lock"
    assert lock_path(tmp_path).read_text() == ""  # no note outlives its holder
    assert not is_locked(tmp_path)


def test_the_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    """floe run holds it; the Dagster steps it runs in the same process take it again at once."""
    with project_lock(tmp_path), project_lock(tmp_path, wait=0) as again:
        assert again
        with project_lock(tmp_path, wait=0):
            pass
        assert is_locked(tmp_path)  # the inner release did not let go of the outer hold
    assert not is_locked(tmp_path)
    with other_holder(tmp_path, None):  # really released: another descriptor can take it
        pass


def test_a_second_writer_is_told_who_holds_the_project(tmp_path: Path) -> None:
    with (other_holder(tmp_path, _note()), pytest.raises(ProjectBusyError) as refused,
          project_lock(tmp_path, wait=0)):
        pytest.fail("entered a project another process holds")
    error = refused.value
    assert isinstance(error, FloeError)  # exit 1 at the CLI, no traceback
    assert error.holder is not None and error.holder.pid == 4242
    text = str(error)
    assert f"the project {tmp_path.resolve()} is busy" in text
    assert "'floe run --select stg_orders' (pid 4242) has held it since" in text
    assert "(3 min ago)" in text
    assert "--wait" in text


def test_a_holder_without_a_note_yet_is_still_refused(tmp_path: Path) -> None:
    with (other_holder(tmp_path, None), pytest.raises(ProjectBusyError, match="has not said who"),
          project_lock(tmp_path, wait=0)):
        pass


def test_waiting_says_so_once_and_starts_when_the_holder_lets_go(tmp_path: Path) -> None:
    told: list[LockHolder | None] = []
    released = threading.Event()
    ready = threading.Event()

    def hold_briefly() -> None:
        with other_holder(tmp_path, _note(pid=777)):
            ready.set()
            time.sleep(1.0)
        released.set()

    thread = threading.Thread(target=hold_briefly)
    thread.start()
    assert ready.wait(60)
    with project_lock(tmp_path, wait=math.inf, on_wait=told.append) as held:
        assert held
        assert released.is_set()  # not before the other let go
        holder = read_holder(tmp_path)
        assert holder is not None and holder.pid == os.getpid()
    thread.join(60)
    assert len(told) == 1
    assert told[0] is not None and told[0].pid == 777


def test_a_bounded_wait_gives_up_with_the_holder(tmp_path: Path) -> None:
    with other_holder(tmp_path, _note(pid=31)):
        started = time.monotonic()
        with pytest.raises(ProjectBusyError, match=r"\(pid 31\)"), project_lock(tmp_path, wait=0.5):
            pass
        assert time.monotonic() - started >= 0.5


def test_the_holder_reads_as_a_person_would_say_it() -> None:
    now = datetime(2026, 5, 1, 22, 44, 7, tzinfo=timezone.utc)
    holder = LockHolder("floe demo run -n 12 -i 300", 99, "builder-7", now - timedelta(seconds=20),
                        "demo batch 3 of 12")
    text = holder.describe(now)
    assert text.startswith("'floe demo run -n 12 -i 300' (pid 99 on builder-7, demo batch 3 of 12) has held it since ")
    assert text.endswith("(20 s ago)")
    long = LockHolder("dagster api execute_run " + "x" * 300, 5, socket.gethostname(), None)
    assert len(long.describe()) < 140 and long.describe().endswith("(pid 5) holds it")
