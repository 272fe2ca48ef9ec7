"""A busy machine on demand: tests that must pass under load run with a CPU hog beside them.

Tests of floe's own time limits must hold on a loaded machine (CI shares its cores), so the
claim "passes under load" is shown, not hoped for: :func:`cpu_hog` starts busy-looping
processes, more than there are cores, for the duration of a ``with`` block.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cpu_hog(processes: int | None = None) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Keep every core busy (default: one more busy process than there are cores) while inside."""
    count = processes if processes is not None else (os.cpu_count() or 1) + 1
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
            for _ in range(count)]
    try:
        yield hogs
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()
