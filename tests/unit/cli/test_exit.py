"""The ``floe`` command's quick exit after heavy commands still does what an exit must do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from floe.process_exit import exit_status

# Dagster loaded (the quick exit applies), a thread pool with a finished task (its workers must
# be told to stop, or joining them hangs), a non-daemon thread still working, an exit handler,
# and output left in a buffer.
_PROGRAM = """
import atexit, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
import dagster
pool = ThreadPoolExecutor(2)
pool.submit(print, "pool task ran").result()
threading.Thread(target=lambda: (time.sleep(0.5), print("thread finished", flush=True))).start()
atexit.register(lambda: print("exit handler ran"))
sys.stdout.write("buffered, not flushed")
sys.argv = ["floe", {command}]
from floe.cli.main import entry
entry()
"""


@pytest.mark.parametrize(("command", "code"), [("'--version'", 0), ("'no-such-command'", 1)])
@pytest.mark.process
def test_quick_exit_joins_threads_runs_handlers_flushes_and_keeps_the_code(tmp_path: Path, command: str,
                                                                        code: int) -> None:
    done = subprocess.run([sys.executable, "-c", _PROGRAM.format(command=command)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == code, done.stderr
    for expected in ("pool task ran", "thread finished", "exit handler ran", "buffered, not flushed"):
        assert expected in done.stdout


def test_exit_status_follows_the_interpreter() -> None:
    assert exit_status(None) == 0
    assert exit_status(3) == 3
    assert exit_status("a message") == 1
