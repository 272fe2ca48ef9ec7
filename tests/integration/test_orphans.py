"""Children end with their parent: ``kill -9`` of the parent leaves no dbt, worker or launcher.

Real processes and real SIGKILL: a parent Python process starts the child the way floe does,
prints the child's pid, and is killed; the child must be gone within a generous deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from floe.processes import pid_alive

pytestmark = pytest.mark.process

DEADLINE_S = 90

PARENTS = {
    # floe compile's dbt parse / dbt deps (compiler.dbt_process.run_dbt's preexec hook).
    "dbt child of floe compile": """
        import subprocess, sys, time
        from floe.compiler.dbt_process import child_ends_with_parent
        child = subprocess.Popen(["sleep", "600"], preexec_fn=child_ends_with_parent())
        print(child.pid, flush=True)
        child.wait()
    """,
    # floe-dbt with no worker becomes plain dbt (exec): the parent-death signal survives exec.
    "floe-dbt without a worker": """
        import os, subprocess, sys, time
        from floe.orchestration.dbt_worker.start import launcher_executable
        env = {k: v for k, v in os.environ.items() if k != "FLOE_DBT_WORKER"}
        env["FLOE_DBT_EXECUTABLE"] = "sleep"
        env["FLOE_DBT_PARENT_PID"] = str(os.getpid())  # as floe run announces itself
        child = subprocess.Popen([launcher_executable(), "600"], env=env)
        print(child.pid, flush=True)
        child.wait()
    """,
    # The dbt worker floe run starts first (pipe EOF and the parent-death signal).
    "dbt worker": """
        import time
        from floe.orchestration.dbt_worker.start import DbtWorker
        with DbtWorker("duckdb") as worker:
            print(worker.pid, flush=True)
            time.sleep(600)
    """,
}


@pytest.mark.parametrize("name", list(PARENTS))
def test_child_ends_when_its_parent_is_killed(name: str) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("the parent-death signal is Linux's")
    env = {**os.environ, "FLOE_FAST_PATH": "1"}
    parent = subprocess.Popen([sys.executable, "-c", textwrap.dedent(PARENTS[name])], stdout=subprocess.PIPE,
                              text=True, env=env, start_new_session=True)
    try:
        line = parent.stdout.readline() if parent.stdout else ""
        assert line.strip().isdigit(), f"{name}: the parent printed no child pid (exit {parent.poll()})"
        child = int(line)
        assert pid_alive(child)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=DEADLINE_S)
        deadline = time.monotonic() + DEADLINE_S
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _running(child), f"{name}: pid {child} still runs {DEADLINE_S}s after its parent was killed"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its new parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
