"""Mode single: a real dagster-daemon that hangs is restarted once its heartbeat is too old.

A hang is made real with SIGSTOP: the process is there, its threads write nothing. The
wrapper reads the heartbeats from Dagster's storage every health_check_interval and restarts
the daemon when one is older than restart_timeout — what the liveness probe does on
Kubernetes, here for Compose and ``floe dev``.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.daemon_replicas import Replica, wait_gone
from tests.support.tick_project import write_tick_project

if TYPE_CHECKING:
    from dagster import DagsterInstance

pytestmark = [pytest.mark.integration, pytest.mark.process]

SLOW = 240.0


def test_a_hung_daemon_is_restarted_after_restart_timeout(tmp_path: Path, compiled_project: Path, floe) -> None:
    artifacts = json.loads((compiled_project / ".floe" / "artifacts.json").read_text(encoding="utf-8"))
    artifacts["environment"]["orchestrator"]["daemon"] = {
        "mode": "single", "restart_timeout": "120s", "health_check_interval": "5s"}
    path = tmp_path / "single.json"
    path.write_text(json.dumps(artifacts), encoding="utf-8")
    project = tmp_path / "project"
    write_tick_project(project, "unused")
    home = project / "home"
    (home / "dagster.yaml").write_text("telemetry: {enabled: false}\n", encoding="utf-8")  # SQLite in home
    # Create the storage first: two processes creating fresh SQLite storage at once collide (as
    # floe dev does before it starts the daemon).
    _with_instance(home, lambda instance: True, timeout=0)

    replica = Replica.start("solo", path, "--workspace", "workspace.yaml", env={"DAGSTER_HOME": str(home)},
                            cwd=project)
    try:
        first = replica.wait_for("daemon-started", SLOW)
        _wait_for_heartbeats(home, SLOW)
        shown = floe("daemon", "status", "--artifacts", str(path), cwd=project, env={"DAGSTER_HOME": str(home)})
        assert shown.returncode == 0, shown.stdout + shown.stderr
        assert "mode single" in shown.stdout and "SCHEDULER" in shown.stdout
        # A healthy daemon is left alone: a whole restart_timeout and more of looks every 5 s (the
        # scheduler's heartbeat alone is up to a minute old then).
        time.sleep(120 + 2 * 5)
        assert not replica.has("daemon-restarted"), replica.kinds()
        hung_pid = int(first["pid"])
        os.kill(hung_pid, signal.SIGSTOP)
        hung_at = time.time()
        restarted = replica.wait_for("daemon-restarted", SLOW)
        # Either a look saw the heartbeats go stale, or (SQLite locked by the stopped daemon) no look
        # could confirm them for restart_timeout: both mean a hung daemon.
        assert restarted["reason"] == "heartbeat", restarted
        assert "no heartbeat from" in restarted["why"] or "no fresh heartbeat confirmed" in restarted["why"]
        # Its newest heartbeats were up to one of Dagster's 30 s intervals old when it hung; the
        # restart comes once one is restart_timeout old, plus a look (and slack for the load).
        assert restarted["at"] - hung_at <= 120 + 5 + 60, restarted["at"] - hung_at
        wait_gone(hung_pid, 30)
        second = replica.wait_for("daemon-started", SLOW, after=replica.kinds().index("daemon-restarted"))
        assert second["pid"] != hung_pid
        _wait_for_heartbeats(home, SLOW, newer_than=restarted["at"])
    finally:
        replica.stop()


def _wait_for_heartbeats(home: Path, timeout: float, newer_than: float = 0.0) -> None:
    """Until every daemon the instance needs has a heartbeat newer than ``newer_than``."""

    def fresh(instance: DagsterInstance) -> bool:
        beats = instance.get_daemon_heartbeats()
        return all(kind in beats and beats[kind].timestamp > newer_than
                   for kind in instance.get_required_daemon_types())

    _with_instance(home, fresh, timeout)


def _with_instance(home: Path, check: Callable[[DagsterInstance], bool], timeout: float) -> None:
    """Open the instance in ``home`` until ``check`` holds (at least once, whatever the timeout)."""
    from dagster import DagsterInstance

    deadline = time.monotonic() + timeout
    while True:
        with DagsterInstance.from_config(str(home)) as instance:
            if check(instance):
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"not so in {home} within {timeout}s")
        time.sleep(1)
