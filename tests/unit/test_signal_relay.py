"""Ctrl-C handed by the kernel to a thread other than the main one still interrupts the main
thread's untimed wait (what dbt's main thread does while its model threads run)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.process

_SCENARIO = """
import signal, sys, threading, time
from floe.signal_relay import relay_to_main_thread

signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever the test runner's workers ignore
if sys.argv[1] == "relay":
    assert relay_to_main_thread()
other = threading.Thread(target=time.sleep, args=(120,), daemon=True)  # a dbt model thread's stand-in
other.start()
# The kernel may hand a process's SIGINT to any thread; hand it to the other one on purpose.
threading.Timer(0.5, signal.pthread_kill, args=(other.ident, signal.SIGINT)).start()
started = time.monotonic()
try:
    threading.Event().wait(timeout=None if sys.argv[1] == "relay" else 20)  # an untimed wait, like dbt's join
    print(f"not interrupted after {time.monotonic() - started:.1f}s")
except KeyboardInterrupt:
    print(f"interrupted after {time.monotonic() - started:.1f}s")
"""


def _scenario(mode: str) -> str:
    result = subprocess.run([sys.executable, "-c", _SCENARIO, mode], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_relay_wakes_the_main_thread_for_a_signal_another_thread_took() -> None:
    outcome = _scenario("relay")
    assert outcome.startswith("interrupted after"), outcome
    assert float(outcome.split()[2].rstrip("s")) < 60  # not the 120 s the other thread sleeps


def test_without_the_relay_the_wait_does_not_notice() -> None:
    """The failure the relay exists for (bounded here by a 20 s timeout): the handler only runs
    once the wait ends by itself."""
    outcome = _scenario("none")
    assert outcome.startswith("interrupted after"), outcome  # raised only when the wait returned...
    assert float(outcome.split()[2].rstrip("s")) >= 19  # ...after its whole 20 s


def test_the_relay_leaves_an_existing_wakeup_fd_alone() -> None:
    code = ("import os, signal; from floe.signal_relay import relay_to_main_thread; r, w = os.pipe(); "
            "os.set_blocking(w, False); signal.set_wakeup_fd(w); "
            "print(relay_to_main_thread(), signal.set_wakeup_fd(-1) == w)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.split() == ["False", "True"]


def test_a_signal_sets_the_event_without_the_handler_taking_its_lock() -> None:
    import os
    import signal as signals

    from floe.signal_relay import event_on_signals

    previous = signals.getsignal(signals.SIGUSR1)
    try:
        event = event_on_signals(signals.SIGUSR1)
        assert not event.is_set()
        # The main thread holds the Event's own lock when the signal comes: a handler that set
        # the Event itself would wait for that lock forever.
        with event._cond:
            os.kill(os.getpid(), signals.SIGUSR1)
            for _ in range(100):  # let the handler run while the lock is held
                sum(range(1000))
        assert event.wait(60)
    finally:
        signals.signal(signals.SIGUSR1, previous)
