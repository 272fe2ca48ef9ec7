"""Ctrl-C and SIGTERM during ``floe run``: dbt stopped, the run closed, exit 130 or 143.

Dagster turns SIGINT *and* SIGTERM into ``DagsterExecutionInterruptedError`` while it executes
(it installs one handler for both, then puts the previous SIGINT handler back on both); the
dbt step then interrupts dbt (dagster-dbt sends it SIGINT; ``floe-dbt`` forwards it to the
worker) and the run ends failed. ``floe run`` used to report that as a failed step (exit 1,
"DagsterExecutionInterruptedError"). :func:`interruptible` records which signal arrived, even
inside Dagster's handler (through the signal wake-up fd, which the interpreter writes for
every handled signal whoever handles it), so the runner can raise
:class:`floe.process_exit.Interrupted` once the run is closed: the CLI prints one line and exits
128 + the signal's number. Outside Dagster's window the same handler raises it at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from floe.process_exit import Interrupted

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def interruptible() -> Iterator[Callable[[], int | None]]:
    """While inside, SIGINT and SIGTERM raise :class:`Interrupted`; yields a function that tells
    the first of them received so far (None: none), including those Dagster handled.

    Only the main thread can set signal handlers: elsewhere nothing changes and none is told.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    received: list[int] = []
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)

    def stop(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        raise Interrupted(signum)

    def first() -> int | None:
        with contextlib.suppress(BlockingIOError, OSError):
            received.extend(number for number in os.read(read_fd, 256) if number in STOP_SIGNALS)
        return received[0] if received else None

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    try:
        yield first
    finally:
        signal.set_wakeup_fd(previous_fd)
        for number, handler in previous.items():
            signal.signal(number, handler)
        os.close(read_fd)
        os.close(write_fd)
