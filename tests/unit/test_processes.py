"""Process records, pid reuse, orphaned scratch folders, interrupt exit codes: in this process only."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from floe.orchestration.run_signals import interruptible
from floe.orchestration.stale_runs import PID_TAG, process_tags, recorded_process
from floe.process_exit import Interrupted, interrupt_exit_code
from floe.processes import ProcessRecord, is_running, owned_prefix, process_started, remove_orphaned, this_process


def _unused_pid() -> int:
    """A pid no process can have: above the kernel's limit."""
    try:
        return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    except OSError:
        return 2**22 + 1


def test_this_process_is_running_and_a_later_start_is_another_process() -> None:
    me = this_process()
    assert me.pid == os.getpid()
    assert is_running(me.pid, me.started)
    if me.started is None:
        pytest.skip("no /proc: start times unknown")
    assert process_started(me.pid) == pytest.approx(me.started, abs=0.5)
    # The pid recorded for a process that started long before this one: that process is gone,
    # the pid was reused.
    assert not is_running(me.pid, me.started - 3600)
    assert not is_running(_unused_pid(), None)


def test_run_tags_record_and_read_back_the_process() -> None:
    tags = process_tags(ProcessRecord(1234, "box", 1700000000.25))
    assert recorded_process(tags) == ProcessRecord(1234, "box", 1700000000.25)
    assert recorded_process({}) is None
    assert recorded_process({PID_TAG: "not a pid"}) is None


def test_only_folders_of_gone_owners_are_removed(tmp_path: Path) -> None:
    me = this_process()
    live = tmp_path / f"{owned_prefix('floe-dbt-')}live"
    gone = tmp_path / f"floe-dbt-{_unused_pid()}.0-gone"
    reused = tmp_path / f"floe-dbt-{me.pid}.{int(me.started or 0) - 3600}-reused"
    unowned = tmp_path / "floe-dbt-abcdef"
    other = tmp_path / f"other-{_unused_pid()}.0-x"
    for folder in (live, gone, reused, unowned, other):
        folder.mkdir()
        (folder / "worker.sock").write_text("")
    removed = remove_orphaned(tmp_path, "floe-dbt-")
    expected = {gone} | ({reused} if me.started is not None else set())
    assert set(removed) == expected
    assert all(not folder.exists() for folder in expected)
    assert live.is_dir() and unowned.is_dir() and other.is_dir()


def test_interrupt_exit_codes() -> None:
    assert interrupt_exit_code(KeyboardInterrupt()) == 130
    assert interrupt_exit_code(Interrupted(signal.SIGINT)) == 130
    assert interrupt_exit_code(Interrupted(signal.SIGTERM)) == 143


def test_sigterm_raises_interrupted_and_is_told_even_when_another_handler_took_it() -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set in the main thread")
    before = signal.getsignal(signal.SIGTERM)
    with interruptible() as received:
        assert received() is None
        with pytest.raises(Interrupted) as raised:
            os.kill(os.getpid(), signal.SIGTERM)
        assert raised.value.signum == signal.SIGTERM
    with interruptible() as received:
        # Dagster replaces the handlers while it executes and only records that "an interrupt" came.
        taken: list[int] = []
        signal.signal(signal.SIGTERM, lambda signum, _frame: taken.append(signum))
        os.kill(os.getpid(), signal.SIGTERM)
        assert taken == [signal.SIGTERM]
        assert received() == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before
