"""Ctrl-C that reaches the main thread even when the kernel hands it to another thread.

A signal sent to a process goes to one of its threads, usually the main one, but any thread
when the main one already has a signal pending (on a loaded machine that happens). CPython runs
Python signal handlers, KeyboardInterrupt included, only in the main thread, the next time it
executes Python. A main thread blocked without a timeout in a lock or a queue (dbt waiting for
its model threads) is not woken by a signal handed to another thread: Ctrl-C then waits until
the model finishes — minutes.

:func:`relay_to_main_thread` closes that gap: CPython writes the number of every caught signal
to a wakeup file descriptor; a relay thread reading it sends the main thread a harmless
SIGURG, which interrupts its wait, so CPython runs the pending handlers at once. When the main
thread got the signal itself, the extra SIGURG only runs a no-op handler.

Standard library only: the dbt worker imports it before dbt.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from types import FrameType

# Ignored by default and used by none of floe, dbt or Dagster: a pure wake-up call.
_WAKE = signal.SIGURG


def _wake_handler(signum: int, frame: FrameType | None) -> None:
    """Nothing: being called is the point (the interrupted wait lets pending handlers run)."""


def relay_to_main_thread() -> bool:
    """Start the relay (call it from the main thread); False when it cannot run here.

    It does not run when another wakeup file descriptor is already set (that owner keeps it),
    nor outside the main thread (CPython allows neither there).
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)  # a full pipe must never block a signal handler
    try:
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except (ValueError, OSError):
        _close(read_fd, write_fd)
        return False
    if previous != -1:
        signal.set_wakeup_fd(previous)
        _close(read_fd, write_fd)
        return False
    signal.signal(_WAKE, _wake_handler)
    main = threading.main_thread().ident
    assert main is not None

    def relay() -> None:
        # This thread never takes a signal itself, so it never needs relaying.
        signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
        while True:
            try:
                caught = os.read(read_fd, 64)
            except OSError:
                return
            if not caught:
                return
            if any(number != _WAKE for number in caught):
                with contextlib.suppress(ProcessLookupError):
                    signal.pthread_kill(main, _WAKE)

    threading.Thread(target=relay, name="floe-signal-relay", daemon=True).start()
    return True


def _close(*fds: int) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


def event_on_signals(*signums: signal.Signals) -> threading.Event:
    """An Event that is set when one of ``signums`` arrives (call it from the main thread).

    The handler only writes a byte to a pipe; a watcher thread sets the Event. Setting an Event
    in the handler itself can deadlock: the handler runs in the main thread between two
    bytecodes, possibly while that thread holds the Event's own lock (inside ``Event.wait``),
    and the lock is not reentrant. A ``floe daemon run`` stuck that way ignored SIGTERM until
    it was killed.
    """
    event = threading.Event()
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)  # a full pipe must never block a signal handler

    def on_signal(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):  # full: a byte is already waiting
            os.write(write_fd, b"!")

    def watch() -> None:
        with contextlib.suppress(OSError):
            os.read(read_fd, 1)
        event.set()

    threading.Thread(target=watch, name="floe-signal-event", daemon=True).start()
    for signum in signums:
        signal.signal(signum, on_signal)
    return event
