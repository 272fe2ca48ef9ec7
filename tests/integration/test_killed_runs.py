"""A ``floe run`` killed or interrupted mid-dbt: what it leaves behind, and what comes next.

Real ``floe run`` subprocesses on a DuckDB project whose one slow model (a dbt Python model)
waits while a marker says so; real SIGKILL, SIGINT and SIGTERM. Each run is started in its own
session, so every process it started (worker, floe-dbt, dbt) can be found afterwards in /proc.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import run_floe

pytestmark = [pytest.mark.integration, pytest.mark.process]

START_DEADLINE_S = 300  # imports of Dagster and dbt on a loaded machine
END_DEADLINE_S = 120
MARKER_ENV = "FLOE_TEST_SLOW_MARKER"

SLOW_MODEL = '''
import os
import time


def model(dbt, session):
    marker = os.environ.get("FLOE_TEST_SLOW_MARKER")
    if marker:
        with open(marker, "w") as out:
            out.write(str(os.getpid()))
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            time.sleep(0.2)
    return session.sql("select 1 as waited")
'''


@pytest.fixture
def slow_project(tmp_path: Path) -> Path:
    from floe.scaffold import init_project

    root = init_project(tmp_path / "shop").root
    (root / "dbt" / "models" / "slow.py").write_text(SLOW_MODEL)
    compiled = run_floe("compile", cwd=root)
    assert compiled.returncode == 0, compiled.stderr
    return root


def _start_run(project: Path, marker: Path) -> subprocess.Popen[str]:
    env = {**os.environ, MARKER_ENV: str(marker)}
    env.pop("FLOE_ENV", None)
    return subprocess.Popen([sys.executable, "-m", "floe", "run"], cwd=project, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _wait_for_dbt(run: subprocess.Popen[str], marker: Path) -> int:
    """Until the slow model runs inside dbt; the pid of the process running dbt."""
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        if marker.is_file() and marker.read_text().strip().isdigit():
            return int(marker.read_text())
        if run.poll() is not None:
            pytest.fail(f"floe run ended (exit {run.returncode}) before dbt ran the slow model:\n"
                        + (run.stderr.read() if run.stderr else ""))
        time.sleep(0.2)
    run.kill()
    pytest.fail(f"dbt did not reach the slow model within {START_DEADLINE_S}s")


def _session(sid: int) -> list[str]:
    """Live processes of session ``sid`` (a process keeps its session when its parent dies)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(f"{entry.name}: {command[:160]}")
    return found


def _assert_session_ends(sid: int) -> None:
    deadline = time.monotonic() + END_DEADLINE_S
    while _session(sid) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _session(sid), f"processes of the run still alive after {END_DEADLINE_S}s: {_session(sid)}"


def _runs_of(project: Path, pid: int) -> list[object]:
    from dagster import RunsFilter

    from floe.contract.project import open_compiled_project
    from floe.orchestration.instance import open_instance
    from floe.orchestration.stale_runs import PID_TAG

    instance = open_instance(open_compiled_project(project / ".floe" / "artifacts.json"))
    try:
        return list(instance.get_runs(filters=RunsFilter(tags={PID_TAG: str(pid)})))
    finally:
        instance.dispose()


def _failure_message(project: Path, run_id: str) -> str:
    from dagster import DagsterEventType

    from floe.contract.project import open_compiled_project
    from floe.orchestration.instance import open_instance

    instance = open_instance(open_compiled_project(project / ".floe" / "artifacts.json"))
    try:
        entries = instance.all_logs(run_id, of_type={DagsterEventType.RUN_FAILURE, DagsterEventType.RUN_CANCELED})
        return " ".join(str(entry.dagster_event.message if entry.dagster_event else entry.user_message)
                        for entry in entries)
    finally:
        instance.dispose()


def test_a_killed_run_leaves_nothing_running_and_is_marked_failed(slow_project: Path, tmp_path: Path) -> None:
    run = _start_run(slow_project, tmp_path / "dbt-running")
    dbt_pid = _wait_for_dbt(run, tmp_path / "dbt-running")
    assert dbt_pid != run.pid  # dbt runs in the worker (or plain dbt), a child of floe run
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=END_DEADLINE_S)  # not its pipes: they close when its children have ended
    _assert_session_ends(run.pid)  # the worker, floe-dbt and dbt ended with it

    (killed,) = _runs_of(slow_project, run.pid)
    assert killed.status.value == "STARTED"  # nothing could report its end
    leftover = list(Path(tempfile.gettempdir()).glob(f"floe-dbt-{run.pid}.*"))
    assert leftover, "the killed run's worker folder (its owner is gone) is there to clean"
    mine = slow_project / ".floe" / f".compile-{os.getpid()}.{int(_started())}-live"
    dead = slow_project / ".floe" / f".compile-{run.pid}.{int(_started(run.pid) or 0)}-dead"
    mine.mkdir()
    dead.mkdir()

    again = run_floe("run", cwd=slow_project, timeout=900)
    assert again.returncode == 0, again.stderr
    assert f"run {killed.run_id[:8]} (all) was still STARTED" in again.stderr
    assert f"pid {run.pid}, floe run) ended without finishing it" in again.stderr
    (closed,) = _runs_of(slow_project, run.pid)
    assert closed.status.value == "FAILURE"
    assert f"pid {run.pid}" in _failure_message(slow_project, killed.run_id)
    assert not any(folder.exists() for folder in leftover)

    lineage = run_floe("lineage", "--run", killed.run_id, "--format", "json", cwd=slow_project)
    assert lineage.returncode == 0, lineage.stderr
    assert json.loads(lineage.stdout)["run"]["state"] == "FAIL"

    recompiled = run_floe("compile", cwd=slow_project)
    assert recompiled.returncode == 0, recompiled.stderr
    assert mine.is_dir() and not dead.exists()  # only the dead owner's staging folder goes


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_stops_dbt_and_exits_with_the_signal(slow_project: Path, tmp_path: Path,
                                                               signum: int, code: int) -> None:
    run = _start_run(slow_project, tmp_path / "dbt-running")
    _wait_for_dbt(run, tmp_path / "dbt-running")
    run.send_signal(signum)  # to floe run alone: it must stop dbt itself
    _out, err = run.communicate(timeout=START_DEADLINE_S)
    assert run.returncode == code, err
    assert err.strip().splitlines()[-1] == "interrupted", err
    assert "DagsterExecutionInterruptedError" not in err and "Traceback" not in err, err
    _assert_session_ends(run.pid)
    (interrupted,) = _runs_of(slow_project, run.pid)
    assert interrupted.status.value in ("FAILURE", "CANCELED")


def _started(pid: int | None = None) -> float:
    from floe.processes import process_started

    return process_started(pid or os.getpid()) or 0.0
