"""Native `floe dev`: the UI answers, a run launched through GraphQL materializes the pipeline,
the daemon fires a schedule, `--check` reports health, Ctrl-C leaves no process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from floe.platform.dagster_probe import graphql, server_info
from tests.support.process_tree import alive, descendants
from tests.support.servers import free_port

pytestmark = pytest.mark.integration

LAUNCH = """mutation ($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
RUN = """query ($id: ID!) { runOrError(runId: $id) { __typename ... on Run { status } } }"""
SCHEDULED = """query ($name: String!) { runsOrError(filter: {tags: [{key: "dagster/schedule_name", value: $name}]}) {
  ... on Runs { results { runId status } } } }"""


@pytest.fixture
def project(minimal_project: Path) -> Path:
    spec = yaml.safe_load((minimal_project / "floe.yaml").read_text())
    spec["schedules"] = [{"name": "every_minute", "job": "all", "cron": "* * * * *", "enabled": True}]
    (minimal_project / "floe.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return minimal_project


@pytest.fixture
def dev_stack(project: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "floe", "dev", "--native", "--port", str(port), "--wait", "150"],
                               cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 180
        seen = []
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                pytest.fail(f"floe dev exited {process.returncode}: {''.join(seen)} {process.stderr.read()}")
            seen.append(line)
            if line.startswith("ready in"):
                break
        yield process, f"http://127.0.0.1:{port}", project
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for_run(url: str, run_id: str, timeout_s: float = 240) -> str:
    deadline = time.monotonic() + timeout_s
    status = "?"
    while time.monotonic() < deadline:
        status = graphql(url, RUN, {"id": run_id})["runOrError"]["status"]
        if status in {"SUCCESS", "FAILURE", "CANCELED"}:
            return status
        time.sleep(1)
    return status


def test_native_dev_serves_runs_schedules_and_stops_cleanly(dev_stack, floe) -> None:  # type: ignore[no-untyped-def]
    import duckdb

    process, url, project = dev_stack
    assert server_info(url)["dagster_version"].startswith("1.13")
    children = descendants(process.pid)
    assert len(children) >= 3  # code server, webserver, daemon

    launched = graphql(url, LAUNCH, {"params": {
        "selector": {"repositoryLocationName": "shop", "repositoryName": "__repository__", "jobName": "all"},
        "runConfigData": {}}})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    assert wait_for_run(url, launched["run"]["runId"]) == "SUCCESS"
    with duckdb.connect(str(project / ".floe" / "warehouse.duckdb"), read_only=True) as warehouse:
        tables = {row[0] for row in warehouse.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "customer_revenue" in tables, tables

    deadline = time.monotonic() + 150
    scheduled: list[dict[str, str]] = []
    while time.monotonic() < deadline and not scheduled:
        scheduled = graphql(url, SCHEDULED, {"name": "every_minute"})["runsOrError"]["results"]
        time.sleep(2)
    assert scheduled, "the daemon did not fire the every-minute schedule within 150 s"

    health = floe("dev", "--check", "--json", cwd=project)
    assert health.returncode == 0, health.stdout + health.stderr
    document = json.loads(health.stdout)
    assert document["healthy"] is True and document["url"] == url
    parts = {part["name"] for part in document["parts"]}
    assert {"process code-server", "process webserver", "process daemon", "ui"} <= parts

    children |= descendants(process.pid)
    process.send_signal(signal.SIGINT)  # Ctrl-C
    assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    time.sleep(0.5)
    left = [pid for pid in children if alive(pid)]
    assert left == [], f"processes left behind: {left}"
    assert not (project / ".floe" / "dev" / "state.json").exists()
    after = floe("dev", "--check", cwd=project)
    assert after.returncode == 1 and "no dev stack is running" in after.stderr


def test_port_in_use_is_a_clear_error(floe, minimal_project: Path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = floe("dev", "--native", "--skip-preflight", "--port", str(port), cwd=minimal_project)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "floe dev --port" in result.stderr and "Traceback" not in result.stderr


def test_docker_mode_without_an_engine_says_so(floe, minimal_project: Path) -> None:  # type: ignore[no-untyped-def]
    from floe.orchestration.dev_docker import docker_engine_answers

    if docker_engine_answers():
        pytest.skip("a Docker engine answers on this machine")
    result = floe("dev", "--docker", cwd=minimal_project)
    assert result.returncode == 1
    assert "no Docker engine answers" in result.stderr and "floe dev --native" in result.stderr
