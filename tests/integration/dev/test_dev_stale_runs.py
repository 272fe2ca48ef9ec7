"""A run left STARTED by a killed ``floe run`` no longer holds ``floe dev``'s run queue.

With a DuckDB warehouse the queue runs one run at a time. A run whose recorded process is gone
(a real pid of a process that has exited) is put in the instance while the stack serves; a run
launched from the UI then waits in the queue until floe dev marks the dead run failed, and runs.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from floe.orchestration.stale_runs import process_tags
from floe.platform.dagster_probe import graphql
from floe.processes import ProcessRecord, this_process
from tests.integration.dev import test_native_dev as native

pytestmark = pytest.mark.integration
dev_stack = native.dev_stack  # the fixture: floe dev --native in its own session


@pytest.fixture
def project(minimal_project: Path) -> Path:
    """The minimal project, without the schedule of test_native_dev (its runs would queue too)."""
    return minimal_project


def test_a_dead_run_is_marked_failed_and_the_queue_moves_on(dev_stack) -> None:  # type: ignore[no-untyped-def]
    from dagster import DagsterRun, DagsterRunStatus

    from floe.contract.project import open_compiled_project
    from floe.orchestration.instance import open_instance

    process, url, root = dev_stack
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    me = this_process()
    instance = open_instance(open_compiled_project(root / ".floe" / "artifacts.json"))
    dead_run = str(uuid.uuid4())
    try:
        instance.add_run(DagsterRun(job_name="all", run_id=dead_run, status=DagsterRunStatus.STARTED,
                                    tags=process_tags(ProcessRecord(gone.pid, me.host, me.started))))
    finally:
        instance.dispose()

    launched = graphql(url, native.LAUNCH, {"params": {
        "selector": {"repositoryLocationName": "shop", "repositoryName": "__repository__", "jobName": "all"},
        "runConfigData": {}}})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    assert native.wait_for_run(url, launched["run"]["runId"], timeout_s=300) == "SUCCESS"
    assert graphql(url, native.RUN, {"id": dead_run})["runOrError"]["status"] == "FAILURE"

    process.terminate()
    _out, err = process.communicate(timeout=120)
    assert f"run {dead_run[:8]} (all) marked failed: the process running it (pid {gone.pid}, floe run)" in err, err
