"""`floe dev` with a Docker engine, against a TEST DOUBLE of the docker CLI.

No Docker engine runs here, so a small `docker` executable on PATH stands in for it: it
answers `docker info` like an engine would and records every `docker compose` command line
(and the .env it was given) instead of running containers. The test checks what floe asks
Docker to do: the generated .env, `compose up --detach --build --wait` on the repository's
Compose file, the URLs printed, and `compose down` on Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from floe.platform.compose_env import read_env_file
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

DOCKER_DOUBLE = """#!{python}
# TEST DOUBLE of the docker CLI: an engine that answers, and compose commands recorded, not run.
import sys
from pathlib import Path
log = Path({log!r})
args = sys.argv[1:]
if args[:1] == ["info"]:
    print("27.3.1")
    sys.exit(0)
with log.open("a") as out:
    out.write(" ".join(args) + "\\n")
sys.exit(0)
"""


@pytest.fixture
def docker_double(tmp_path: Path) -> tuple[Path, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "docker-calls.log"
    script = bin_dir / "docker"
    script.write_text(DOCKER_DOUBLE.format(python=sys.executable, log=str(log)))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir, log


def test_compose_stack_is_written_started_and_stopped(docker_double: tuple[Path, Path], tmp_path: Path) -> None:
    bin_dir, log = docker_double
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "docker", repo / "docker", ignore=shutil.ignore_patterns(".env"))
    project = repo / "demo"
    project.mkdir()
    (project / "floe.yaml").write_text("name: demo\ntransforms: [{type: dbt, path: dbt}]\n")
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    process = subprocess.Popen([sys.executable, "-m", "floe", "dev", "--port", "3555", "--demo"], cwd=project,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        printed = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            printed.append(line)
            if line.startswith("ready") or (not line and process.poll() is not None):
                break
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    finally:
        if process.poll() is None:
            process.kill()
    output = "".join(printed)
    env_file = repo / "docker" / ".env"
    settings = read_env_file(env_file)
    assert settings["DAGSTER_HOST_PORT"] == "3555"
    assert len(settings["POSTGRES_PASSWORD"]) >= 32
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert "Dagster UI    http://127.0.0.1:3555" in output
    assert "Jaeger UI     http://127.0.0.1:16686" in output and "Marquez web   http://127.0.0.1:3001" in output
    assert settings["POSTGRES_PASSWORD"] not in output
    calls = log.read_text().splitlines()
    compose = f"compose -f {repo / 'docker' / 'docker-compose.yml'} --env-file {env_file} --profile demo"
    assert calls == [f"{compose} up --detach --build --wait", f"{compose} down"]
