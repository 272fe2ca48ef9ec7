"""One writer per project, with real processes: floe runs and demo batches take turns, a killed
holder frees the project at once, and a program outside floe holding the DuckDB file fails one
demo batch, clearly, without stopping the loop.

A run is held in the middle by a dbt python model that waits for a gate file the test creates,
so "while the other one runs" is a state the test sets up, not a race it hopes to win.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from floe.project_lock import ProjectBusyError, is_locked, project_lock, read_holder
from tests.support.demo_project import use_virtual_clock

pytestmark = [pytest.mark.integration, pytest.mark.process]

DEADLINE_S = 300  # a busy two-core machine: generous, and only reached when something is broken

GATE_MODEL = """\
def model(dbt, session):
    # Holds the run here until the test opens the gate (or ten minutes pass).
    import pathlib
    import time

    dbt.config(materialized="table")
    deadline = time.monotonic() + 600
    while not pathlib.Path({gate!r}).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    return session.sql("select 1 as released")
"""


def _floe(*args: str, cwd: Path, stdout: int | object = subprocess.PIPE,
          stderr: int | object = subprocess.PIPE) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("FLOE_ENV", None)
    return subprocess.Popen([sys.executable, "-m", "floe", *args], cwd=cwd, env=env, text=True,
                            stdout=stdout, stderr=stderr)


def _until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def _held_by(root: Path, pid: int) -> bool:
    holder = read_holder(root)
    return is_locked(root) and holder is not None and holder.pid == pid


def _gated(root: Path, dbt_models: Path) -> Path:
    gate = root / "gate.open"
    (dbt_models / "gate_hold.py").write_text(GATE_MODEL.format(gate=str(gate)))
    return gate


def test_two_runs_take_turns(floe, tmp_path: Path) -> None:
    assert floe("init", "shop", cwd=tmp_path).returncode == 0
    root = tmp_path / "shop"
    gate = _gated(root, root / "dbt" / "models")
    first = _floe("run", cwd=root)
    try:
        _until(lambda: _held_by(root, first.pid) or first.poll() is not None, "the first run to hold the project")
        assert first.poll() is None, first.communicate()[1][-3000:]

        # A second run, while the first is held in its dbt build: exit 1, naming the first, no traceback.
        second = floe("run", cwd=root, timeout=DEADLINE_S)
        assert second.returncode == 1, second.stderr[-3000:]
        assert f"the project {root.resolve()} is busy: 'floe run' (pid {first.pid}) has held it since" in second.stderr
        assert "pass --wait" in second.stderr
        assert "Traceback" not in second.stderr and "internal error" not in second.stderr

        # --json says the same to a machine.
        as_json = floe("run", "--json", cwd=root, timeout=DEADLINE_S)
        assert as_json.returncode == 1
        document = json.loads(as_json.stdout)
        assert document["busy"] is True and document["success"] is False and document["run_id"] is None
        assert document["holder"]["pid"] == first.pid and document["holder"]["command"] == "floe run"

        # --wait: says whom it waits for, once, and runs when the first is done.
        waiting_log = tmp_path / "waiting.err"
        with waiting_log.open("w") as err:
            waiting = _floe("run", "--wait", cwd=root, stderr=err)
        _until(lambda: "waiting for the project's other writer" in waiting_log.read_text(), "the waiting line")
        assert f"(pid {first.pid})" in waiting_log.read_text()
        assert waiting.poll() is None
        gate.touch()
        first_out, first_err = first.communicate(timeout=DEADLINE_S)
        assert first.returncode == 0, first_err[-3000:]
        waiting.wait(timeout=DEADLINE_S)
        log = waiting_log.read_text()
        assert waiting.returncode == 0, log[-3000:]
        assert log.count("waiting for the project's other writer") == 1
        assert log.index("waiting for the project's other writer") < log.index("running shop")
    finally:
        gate.touch()
        for process in (first, locals().get("waiting")):
            if isinstance(process, subprocess.Popen) and process.poll() is None:
                process.kill()
                process.wait()
    assert not is_locked(root)


HOLDER = """\
import sys, time
from floe.project_lock import project_lock
with project_lock(sys.argv[1], doing="holding for a test"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_killed_holder_frees_the_project_at_once(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with (pytest.raises(ProjectBusyError, match=rf"\(pid {holder.pid}, holding for a test\)"),
              project_lock(tmp_path, wait=0)):
            pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=DEADLINE_S)
        # No stale lock: the kernel released it with the process; nothing to clean up, no waiting.
        started = time.monotonic()
        with project_lock(tmp_path, wait=0) as held:
            assert held
            assert read_holder(tmp_path).pid == os.getpid()  # type: ignore[union-attr]
        assert time.monotonic() - started < 5
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


WAREHOUSE_HOLDER = """\
import sys, time
import duckdb
connection = duckdb.connect(sys.argv[1])  # read-write: DuckDB locks the file for this process
print("open", flush=True)
time.sleep(600)
"""


def _demo_project(floe, tmp_path: Path, *, gated: bool = False) -> tuple[Path, Path]:
    created = floe("init", "shop", "--template", "ecommerce", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    root = tmp_path / "shop"
    use_virtual_clock(root)  # small batches: no week of backfill
    gate = _gated(root, root / "dbt" / "models") if gated else root / "gate.open"
    compiled = floe("compile", cwd=root, timeout=DEADLINE_S)
    assert compiled.returncode == 0, compiled.stderr[-3000:]
    return root, gate


def test_the_demo_loop_goes_on_past_a_locked_warehouse(floe, tmp_path: Path) -> None:
    root, _ = _demo_project(floe, tmp_path)
    warehouse = root / ".floe" / "warehouse.duckdb"
    outsider = subprocess.Popen([sys.executable, "-c", WAREHOUSE_HOLDER, str(warehouse)],
                                stdout=subprocess.PIPE, text=True)
    demo = None
    try:
        assert outsider.stdout is not None and outsider.stdout.readline().strip() == "open"
        demo = _floe("demo", "run", "-n", "2", "-i", "5", "--json", cwd=root)
        assert demo.stdout is not None
        first = json.loads(demo.stdout.readline())
        # The first batch fails on the warehouse, saying whose it is; the outsider then lets go
        # while the loop waits its interval.
        outsider.kill()
        outsider.wait()
        assert first["run"] == 1 and first["success"] is False and first["started"] is True
        assert any(f"the warehouse {warehouse.resolve()} is locked by" in error and f"(pid {outsider.pid})" in error
                   for error in first["errors"]), first["errors"]
        assert first["orders"] is None and any("marts not measured" in note for note in first["notes"])
        rest, err = demo.communicate(timeout=DEADLINE_S)
        second = json.loads(rest.splitlines()[0])
        assert second["run"] == 2 and second["success"] is True, second["errors"]
        assert second["orders"] > 0
        # The documented rule: exit 1 when a batch failed; a clear message, never a crash.
        assert demo.returncode == 1, err[-3000:]
        assert "1 of 2 batch run(s) failed: batch 1 (run " in err
        assert "Traceback" not in err and "internal error" not in err
    finally:
        for process in (outsider, demo):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


def test_a_second_demo_takes_its_turn_or_says_whose_it_is(floe, tmp_path: Path) -> None:
    root, gate = _demo_project(floe, tmp_path, gated=True)
    first = _floe("demo", "run", "-n", "1", cwd=root)
    waiting = None
    try:
        _until(lambda: _held_by(root, first.pid) or first.poll() is not None, "the first demo to hold the project")
        assert first.poll() is None, first.communicate()[1][-3000:]
        busy = floe("demo", "run", "-n", "1", cwd=root, timeout=DEADLINE_S)
        assert busy.returncode == 1, busy.stderr[-3000:]
        holder = f"'floe demo run -n 1' (pid {first.pid}, demo batch 1 of 1) has held it since"
        assert holder in busy.stdout  # the batch's line
        assert "1 of 1 batch run(s) failed" in busy.stderr
        assert "batch 1 (not started)" in busy.stderr
        assert "pass --wait" in busy.stderr and "Traceback" not in busy.stderr

        waiting_log = tmp_path / "waiting.err"
        with waiting_log.open("w") as log:
            waiting = _floe("demo", "run", "-n", "1", "--wait", "--json", cwd=root, stderr=log)
        _until(lambda: "waiting for the project's other writer" in waiting_log.read_text(), "the waiting line")
        assert f"(pid {first.pid}, demo batch 1 of 1)" in waiting_log.read_text()
        gate.touch()
        _, first_err = first.communicate(timeout=DEADLINE_S)
        assert first.returncode == 0, first_err[-3000:]  # its batch landed: exit 0, whatever came after
        out, _ = waiting.communicate(timeout=DEADLINE_S)
        assert waiting.returncode == 0, waiting_log.read_text()[-3000:]
        assert json.loads(out.splitlines()[0])["success"] is True
    finally:
        gate.touch()
        for process in (first, waiting):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()


RUN_OUTSIDE_FLOE_RUN = """\
import json, sys
from pathlib import Path
from floe.contract.project import open_compiled_project
from floe.orchestration.runner import run_pipeline
outcome = run_pipeline(open_compiled_project(Path(sys.argv[1])))
print(json.dumps({"success": outcome.success, "run_id": outcome.run_id, "errors": outcome.errors}))
"""


def _logged(root: Path, text: str) -> bool:
    """Whether a run's Dagster event log (SQLite, one file per run) holds a message with ``text``."""
    import sqlite3

    for database in (root / ".floe" / "dagster").rglob("*.db"):
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as connection:
                rows = connection.execute("select count(*) from event_logs where event like ?",
                                          [f"%{text}%"]).fetchone()
        except sqlite3.Error:  # a run's file being created, or a file of another table set
            continue
        if rows and rows[0]:
            return True
    return False


def test_a_run_launched_outside_floe_run_waits_for_the_holder(floe, tmp_path: Path) -> None:
    """What a run that floe dev's daemon or UI launches does: its steps wait for the project's holder."""
    assert floe("init", "shop", cwd=tmp_path).returncode == 0
    root = tmp_path / "shop"
    assert floe("compile", cwd=root, timeout=DEADLINE_S).returncode == 0
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdout=subprocess.PIPE, text=True)
    run = None
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        run = subprocess.Popen([sys.executable, "-c", RUN_OUTSIDE_FLOE_RUN, str(root / ".floe" / "artifacts.json")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _until(lambda: _logged(root, "waiting for the project's other writer") or run.poll() is not None,
               "the dbt step to say it waits")
        assert run.poll() is None, run.communicate()
        assert _logged(root, f"(pid {holder.pid}, holding for a test)")
        holder.kill()
        holder.wait()
        out, err = run.communicate(timeout=DEADLINE_S)
        assert run.returncode == 0, err[-3000:]
        assert json.loads(out.splitlines()[-1])["success"] is True
    finally:
        for process in (holder, run):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
