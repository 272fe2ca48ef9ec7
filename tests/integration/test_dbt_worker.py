"""The dbt worker: from dagster-dbt's side it is the ``dbt`` process it would have run.

Real dbt everywhere: the same command through ``floe-dbt`` + worker and through plain ``dbt``
must print the same lines and exit with the same status; without a worker, ``floe-dbt`` is
plain dbt; a worker serves once; SIGINT reaches dbt; ``floe run`` uses the worker.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from floe.compiler.dbt_process import dbt_executable
from floe.contract.project import open_compiled_project
from floe.orchestration.dbt_worker.protocol import WORKER_ENV
from floe.orchestration.dbt_worker.start import DbtWorker, launcher_executable

pytestmark = pytest.mark.integration


def _dbt_env(root: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != WORKER_ENV}
    env.update(FLOE_PROJECT_DIR=str(root), DBT_SEND_ANONYMOUS_USAGE_STATS="false", DBT_USE_COLORS="false",
               DBT_TARGET_PATH=str(root / ".floe" / "dbt" / "target"))
    return env


def _args(root: Path, *command: str) -> list[str]:
    compiled = open_compiled_project(root / ".floe" / "artifacts.json")
    return [*command, "--project-dir", str(compiled.dbt_project_dir), "--profiles-dir", str(compiled.profiles_dir),
            "--profile", compiled.artifacts.dbt.profile, "--target", compiled.artifacts.dbt.target,
            "--log-format", "json"]


def _messages(output: str) -> list[str]:
    """The message of every JSON log line, without what differs from run to run (times, ids)."""
    found = []
    for line in output.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            found.append(line)
            continue
        name = event["info"]["name"]
        if name in ("MainReportVersion", "CommandCompleted", "ConcurrencyLine", "ListCmdOut", "MainEncounteredError",
                    "NoNodesForSelectionCriteria", "RunResultError", "ParseCmdPerfInfoPath"):
            found.append(f"{name}: {event['info']['msg']}")
    return [m for m in found if "elapsed" not in m and "completed_at" not in m]


def _through_worker(root: Path, args: list[str], *, env: dict[str, str] | None = None
                    ) -> tuple[subprocess.CompletedProcess[str], bool]:
    launcher = launcher_executable()
    assert launcher, "floe-dbt is installed with floe"
    with DbtWorker("duckdb") as worker:
        completed = subprocess.run([launcher, *args], cwd=root, env={**(env or _dbt_env(root)), WORKER_ENV:
                                   os.environ[WORKER_ENV]}, capture_output=True, text=True, timeout=300, check=False)
    return completed, worker.served


def _plain(root: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([dbt_executable(), *args], cwd=root, env=_dbt_env(root), capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.parametrize("command", [("ls", "--resource-type", "model"), ("ls", "--select", "no_such_model"),
                                     ("run", "--select", "no_such+"), ("no-such-command",)])
def test_worker_prints_and_exits_as_plain_dbt(compiled_project: Path, command: tuple[str, ...]) -> None:
    args = _args(compiled_project, *command)
    plain = _plain(compiled_project, args)
    worker, served = _through_worker(compiled_project, args)
    assert served, f"the invocation ran in the prestarted worker: {worker.stdout[-1500:]} {worker.stderr}"
    assert worker.returncode == plain.returncode
    assert _messages(worker.stdout) == _messages(plain.stdout)
    assert worker.stderr.strip() == plain.stderr.strip()


def test_a_failing_build_fails_the_same_way(compiled_project: Path) -> None:
    compiled = open_compiled_project(compiled_project / ".floe" / "artifacts.json")
    broken = compiled.dbt_project_dir / "models" / "broken.sql"
    broken.write_text("select * from a_table_that_does_not_exist\n")
    args = _args(compiled_project, "build", "--select", "broken")
    plain = _plain(compiled_project, args)
    worker, served = _through_worker(compiled_project, args)
    assert served
    assert plain.returncode == worker.returncode == 1
    assert any("a_table_that_does_not_exist" in line for line in worker.stdout.splitlines())


def test_without_a_worker_the_launcher_is_plain_dbt(compiled_project: Path, tmp_path: Path) -> None:
    args = _args(compiled_project, "ls", "--resource-type", "model")
    plain = _plain(compiled_project, args)
    launcher = launcher_executable()
    assert launcher
    for announced in (None, str(tmp_path / "gone.sock")):
        env = _dbt_env(compiled_project)
        if announced:
            env[WORKER_ENV] = announced
        completed = subprocess.run([launcher, *args], cwd=compiled_project, env=env, capture_output=True, text=True,
                                   timeout=300, check=False)
        assert completed.returncode == plain.returncode == 0
        assert _messages(completed.stdout) == _messages(plain.stdout)


def test_a_worker_serves_once_then_plain_dbt_runs(compiled_project: Path) -> None:
    args = _args(compiled_project, "ls", "--resource-type", "seed")
    launcher = launcher_executable()
    assert launcher
    with DbtWorker("duckdb") as worker:
        env = {**_dbt_env(compiled_project), WORKER_ENV: os.environ[WORKER_ENV]}
        first = subprocess.run([launcher, *args], cwd=compiled_project, env=env, capture_output=True, text=True,
                               timeout=300, check=False)
        second = subprocess.run([launcher, *args], cwd=compiled_project, env=env, capture_output=True, text=True,
                                timeout=300, check=False)
    assert worker.served
    assert first.returncode == second.returncode == 0
    assert _messages(first.stdout) == _messages(second.stdout)
    assert WORKER_ENV not in os.environ, "the announcement ends with the block"


def test_an_unused_worker_is_stopped_and_leaves_nothing(tmp_path: Path) -> None:
    with DbtWorker("duckdb") as worker:
        socket_path = worker.socket_path
        assert socket_path is not None
        process = worker._process
        assert process is not None
    assert not worker.served
    assert process.poll() is not None, "the worker process has ended"
    assert not socket_path.parent.exists()


def test_a_worker_taken_by_a_killed_launcher_is_stopped(compiled_project: Path) -> None:
    launcher = launcher_executable()
    assert launcher
    with DbtWorker("duckdb") as worker:
        env = {**_dbt_env(compiled_project), WORKER_ENV: os.environ[WORKER_ENV]}
        process = subprocess.Popen([launcher, *_args(compiled_project, "ls")], cwd=compiled_project, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        process.kill()
        process.wait()
        started = time.monotonic()
    assert worker._process is not None and worker._process.poll() is not None
    assert time.monotonic() - started < 20


def test_sigint_reaches_dbt_in_the_worker(compiled_project: Path) -> None:
    compiled = open_compiled_project(compiled_project / ".floe" / "artifacts.json")
    # A model DuckDB needs minutes for; dbt is told to stop while it runs.
    (compiled.dbt_project_dir / "models" / "slow.sql").write_text(
        "{{ config(materialized='table') }}\nselect sum(a.range * b.range) as n from range(200000000) a, range(50) b\n")
    # Debug logs: dbt says when it sends the model's statement (SQLQuery). A Ctrl-C before that
    # finds no query to cancel, and dbt then waits for the query it starts next (minutes): on a
    # loaded machine "the node started" and "its query runs" can be seconds apart.
    args = [*_args(compiled_project, "run", "--select", "slow"), "--log-level", "debug"]
    launcher = launcher_executable()
    assert launcher
    with DbtWorker("duckdb"):
        env = {**_dbt_env(compiled_project), WORKER_ENV: os.environ[WORKER_ENV]}
        process = subprocess.Popen([launcher, *args], cwd=compiled_project, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        for line in process.stdout:  # wait until the model's query runs
            if '"SQLQuery"' in line and "range(200000000)" in line:
                break
        else:
            pytest.fail(f"dbt ended ({process.wait()}) without sending the model's query")
        time.sleep(1.0)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        process.stdout.read()
        code = process.wait(timeout=60)
    assert code != 0, "an interrupted dbt does not report success"
    assert time.monotonic() - started < 60


def test_floe_run_builds_through_the_worker(compiled_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from floe.orchestration import fastpath
    from floe.orchestration.dbt_worker import start
    from floe.orchestration.runner import run_pipeline

    seen: list[bool] = []
    original = start.DbtWorker.__exit__

    def recording_exit(self: DbtWorker, *exc: object) -> None:
        original(self, *exc)  # type: ignore[arg-type]
        seen.append(self.served)

    monkeypatch.setattr(start.DbtWorker, "__exit__", recording_exit)
    monkeypatch.chdir(compiled_project)
    monkeypatch.setenv("FLOE_PROJECT_DIR", str(compiled_project))  # an earlier run in this process may have set another
    outcome = run_pipeline(open_compiled_project(compiled_project / ".floe" / "artifacts.json"))
    assert outcome.success
    assert seen == [True]
    assert {node.name for node in outcome.nodes} >= {"stg_orders", "customer_revenue"}

    monkeypatch.setenv(fastpath.SWITCH_ENV, "0")
    fastpath.reset()
    try:
        again = run_pipeline(open_compiled_project(compiled_project / ".floe" / "artifacts.json"))
    finally:
        fastpath.reset()
    assert again.success
    assert seen == [True, False], "FLOE_FAST_PATH=0 runs plain dbt"
    assert sorted((n.name, n.status) for n in again.nodes) == sorted((n.name, n.status) for n in outcome.nodes)
