"""``floe demo up``: the presenter's one command, from no project to the demo running in the UI.

It runs the way a presenter runs it, on the template's ``local`` environment (the local
PostgreSQL as serving database, here a scratch database named by $PGDATABASE): the project is
created, a batch lands, and then Dagster's UI answers with the marts materialized, the
five-minute schedule switched on, and the Cube API answering over the published marts. Ctrl-C
leaves no process behind, Cube's included.
"""

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

from floe.platform.dagster_probe import graphql
from tests.conftest import RUNTIME_ENV, run_floe
from tests.support.demo_project import set_wall_rate
from tests.support.postgres import scratch_database
from tests.support.process_tree import alive, descendants, read_until_ready
from tests.support.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.process, pytest.mark.postgres]

READY_S = 1200  # a batch with its backfill, the UI and Cube, on a loaded 2-core machine
ASSETS = """{ assetNodes { assetKey { path } groupName assetMaterializations(limit: 1) { runId } } }"""
SCHEDULE = """query ($selector: ScheduleSelector!) { scheduleOrError(scheduleSelector: $selector) {
  __typename ... on Schedule { scheduleState { status } } } }"""


def _pg_env(dsn: str, database: str) -> dict[str, str]:
    """libpq's variables for the scratch database: what the template's 'local' environment reads."""
    parts = dict(part.split("=", 1) for part in dsn.split())
    env = {"PGHOST": parts.get("host", "127.0.0.1"), "PGPORT": parts.get("port", "5432"),
           "PGUSER": parts.get("user", "postgres"), "PGDATABASE": database}
    if "password" in parts:
        env["PGPASSWORD"] = parts["password"]
    return env


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    """The ecommerce template with a smaller wall-clock backfill (three hours, not a week)."""
    created = run_floe("init", "demo", "--template", "ecommerce", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    set_wall_rate(tmp_path / "demo", per_hour=600, backfill="3h")
    return tmp_path / "demo"


@pytest.fixture
def up(demo_dir: Path, postgres_dsn: str, cube_modules: Path, cube_cache: Path) -> Iterator[dict[str, object]]:
    """``floe demo up -e local`` until ready; stopped with Ctrl-C by the test (killed if it is not)."""
    with scratch_database(postgres_dsn, "floe_demo_up") as database:
        port, cube_port = free_port(), free_port()
        while cube_port == port:
            cube_port = free_port()
        inherited = {k: v for k, v in os.environ.items() if k not in RUNTIME_ENV and k != "FLOE_ENV"}
        env = {**inherited, **_pg_env(postgres_dsn, database), "FLOE_CUBE_CACHE": str(cube_cache),
               "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        process = subprocess.Popen(
            [sys.executable, "-m", "floe", "demo", "up", "--dir", str(demo_dir), "-e", "local", "--port", str(port),
             "--cube-port", str(cube_port), "--wait", "600"],
            cwd=demo_dir.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
        try:
            banner = read_until_ready(process, "floe demo up", READY_S)
            yield {"process": process, "url": f"http://127.0.0.1:{port}", "cube_port": cube_port,
                   "banner": banner, "env": env}
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_one_command_brings_the_demo_up_in_the_ui_with_cube_and_ctrl_c_ends_it(up, demo_dir: Path) -> None:  # type: ignore[no-untyped-def]
    process: subprocess.Popen[str] = up["process"]
    url = str(up["url"])
    banner = str(up["banner"])
    assert f"http://127.0.0.1:{up['cube_port']}/cubejs-api/v1" in banner, banner
    assert "demo_every_5_minutes" in banner

    # The UI opens on the demo materialized: every mart has a materialization, grouped by layer.
    nodes = graphql(url, ASSETS)["assetNodes"]
    marts = [node for node in nodes if node["groupName"] == "marts"]
    assert marts, [node["groupName"] for node in nodes]
    assert all(node["assetMaterializations"] for node in marts), marts
    # ... and keeps landing batches: the schedule is on.
    selector = {"repositoryLocationName": "demo", "repositoryName": "__repository__",
                "scheduleName": "demo_every_5_minutes"}
    schedule = graphql(url, SCHEDULE, {"selector": selector})["scheduleOrError"]
    assert schedule["__typename"] == "Schedule", schedule
    assert schedule["scheduleState"]["status"] == "RUNNING"

    # The Cube API beside it answers over the published marts ('floe cube query' finds it).
    env = dict(up["env"])  # type: ignore[call-overload]
    asked = subprocess.run([sys.executable, "-m", "floe", "cube", "query", "-e", "local", "--json",
                            json.dumps({"measures": ["orders.order_count"]})],
                           cwd=demo_dir, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert asked.returncode == 0, asked.stderr[-3000:]
    assert "starting a Cube server for this query" not in asked.stderr  # it used demo up's server
    orders = int(json.loads(asked.stdout)["data"][0]["orders.order_count"])
    assert orders > 0

    # Ctrl-C stops the UI, the daemon and Cube.
    children = descendants(process.pid)
    assert any("node" in Path(f"/proc/{pid}/comm").read_text() for pid in children if alive(pid)), children
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=180) == 0, process.stderr.read()[-3000:] if process.stderr else ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(pid) for pid in children):
        time.sleep(0.5)
    assert [pid for pid in children if alive(pid)] == []
    assert not list((demo_dir / ".floe" / "cube").glob("server-*.json"))


def test_a_busy_port_is_said_before_any_batch_lands(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_floe("demo", "up", "--dir", "demo", "--port", str(port), cwd=tmp_path, timeout=600)
    assert result.returncode == 1, result.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "floe demo up --port" in result.stderr and "Traceback" not in result.stderr
    assert "landing" not in result.stderr and not list((tmp_path / "demo" / ".floe").glob("logs/run-*"))
