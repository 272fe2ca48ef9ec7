"""Runs whose process is gone are marked failed; runs whose process lives, or lives elsewhere, stay.

A real Dagster instance (SQLite in a temporary folder) and real processes: a dead pid is the
pid of a child that has exited, a live one is this test's own process or a child still running.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from floe.orchestration.stale_runs import HOST_TAG, fail_stale_runs, process_tags
from floe.processes import ProcessRecord, this_process

pytestmark = [pytest.mark.integration, pytest.mark.process]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def instance(tmp_path: Path) -> Any:
    from dagster import DagsterInstance

    (tmp_path / "dagster").mkdir()
    instance = DagsterInstance.local_temp(str(tmp_path / "dagster"))
    yield instance
    instance.dispose()


def _run(instance: Any, status: str, tags: dict[str, str]) -> str:
    from dagster import DagsterRun, DagsterRunStatus

    run_id = str(uuid.uuid4())
    instance.add_run(DagsterRun(job_name="all", run_id=run_id, status=DagsterRunStatus(status), tags=tags))
    return run_id


def _status(instance: Any, run_id: str) -> str:
    return str(instance.get_run_by_id(run_id).status.value)


def _worker_started(instance: Any, run_id: str, pid: int) -> None:
    """What Dagster's run worker records first (dagster's grpc impl, 'Started process for run')."""
    instance.report_engine_event(f"Started process for run (pid: {pid}).", instance.get_run_by_id(run_id))


def test_floe_runs_are_judged_by_their_recorded_process(instance: Any) -> None:
    me = this_process()
    dead = _dead_pid()
    killed = _run(instance, "STARTED", process_tags(ProcessRecord(dead, me.host, me.started)))
    canceling = _run(instance, "CANCELING", process_tags(ProcessRecord(dead, me.host, me.started)))
    live = _run(instance, "STARTED", process_tags(me))
    reused = _run(instance, "STARTED", process_tags(ProcessRecord(me.pid, me.host, (me.started or 0) - 3600)))
    elsewhere = _run(instance, "STARTED", {**process_tags(ProcessRecord(dead, "another-host", None))})
    untagged = _run(instance, "STARTED", {})

    marked = {run.run_id: run for run in fail_stale_runs(instance, local_storage=True)}

    assert _status(instance, killed) == "FAILURE"
    assert f"pid {dead}, floe run) ended without finishing it" in marked[killed].reason
    assert _status(instance, canceling) == "CANCELED"
    assert _status(instance, live) == "STARTED"
    if me.started is not None:  # the start time tells a reused pid apart
        assert _status(instance, reused) == "FAILURE"
    assert _status(instance, elsewhere) == "STARTED"  # its pid means nothing here
    assert _status(instance, untagged) == "STARTED"  # no worker recorded: cannot tell
    assert fail_stale_runs(instance, local_storage=True) == []  # nothing left to mark


def test_runs_launched_by_floe_dev_are_judged_by_their_run_worker(instance: Any) -> None:
    loopback = {".dagster/grpc_info": json.dumps({"host": "localhost", "port": 4266})}
    remote = {".dagster/grpc_info": json.dumps({"host": "user-code.svc", "port": 4266})}
    dead = _dead_pid()
    local_dead = _run(instance, "STARTED", loopback)
    _worker_started(instance, local_dead, dead)
    remote_dead = _run(instance, "STARTED", remote)
    _worker_started(instance, remote_dead, dead)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        local_alive = _run(instance, "STARTED", loopback)
        _worker_started(instance, local_alive, alive.pid)

        marked = {run.run_id: run for run in fail_stale_runs(instance, local_storage=False)}

        assert _status(instance, local_dead) == "FAILURE"
        assert f"pid {dead}, Dagster run worker" in marked[local_dead].reason
        assert _status(instance, remote_dead) == "STARTED"  # PostgreSQL shared with a cluster: not ours
        assert _status(instance, local_alive) == "STARTED"
        # With the storage on this machine, every run worker ran here.
        fail_stale_runs(instance, local_storage=True)
        assert _status(instance, remote_dead) == "FAILURE"
    finally:
        alive.kill()
        alive.wait()


def test_the_host_tag_is_this_machine(instance: Any) -> None:
    import socket

    assert process_tags()[HOST_TAG] == socket.gethostname()
