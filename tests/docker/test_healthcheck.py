"""docker/healthcheck.py: which role a container plays, and the check for each."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

from tests.docker.conftest import DOCKER_DIR
from tests.support.servers import closed_port


@pytest.fixture(scope="module")
def health() -> ModuleType:
    spec = importlib.util.spec_from_file_location("floe_image_healthcheck", DOCKER_DIR / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WEBSERVER = ["/opt/floe/venv/bin/python", "/opt/floe/venv/bin/dagster-webserver", "-h", "0.0.0.0", "-p", "3000",
             "-w", "/opt/floe/dagster-home/workspace.yaml"]
CODE_SERVER = ["/opt/floe/venv/bin/python", "/opt/floe/venv/bin/dagster", "api", "grpc", "-h", "0.0.0.0",
               "-p", "4000", "-m", "floe.orchestration.definitions"]
DAEMON = ["/opt/floe/venv/bin/python", "/opt/floe/venv/bin/dagster-daemon", "run", "-w", "/w.yaml"]
RUN_WORKER = ["/opt/floe/venv/bin/python", "-m", "dagster", "api", "execute_run", "{}"]


@pytest.mark.parametrize(("argvs", "role", "args"), [
    ([WEBSERVER], "webserver", WEBSERVER[2:]),
    ([CODE_SERVER], "code-server", CODE_SERVER[4:]),
    ([DAEMON], "daemon", DAEMON[3:]),
    ([RUN_WORKER], "other", []),
    ([["sh", "-c", "dagster schedule start x"]], "other", []),
    # 'dagster-webserver -m ...' and 'dagster-daemon run -m ...' spawn a code server of their own.
    ([CODE_SERVER, WEBSERVER], "webserver", WEBSERVER[2:]),
    ([CODE_SERVER, DAEMON], "daemon", DAEMON[3:]),
])
def test_the_role_is_read_from_the_command_lines(health: ModuleType, argvs, role, args) -> None:
    assert health.role_of(argvs) == (role, args)


def test_command_lines_are_read_from_proc(health: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "cmdline").write_bytes(b"\0".join(s.encode() for s in CODE_SERVER) + b"\0")
    (tmp_path / "7").mkdir()  # a process that ended: no cmdline
    (tmp_path / "self").mkdir()
    assert health.command_lines(tmp_path) == [CODE_SERVER]


def test_this_test_process_is_found_in_the_real_proc(health: ModuleType) -> None:
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("no /proc on this system")
    assert any("pytest" in " ".join(argv) for argv in health.command_lines())


@pytest.mark.parametrize(("args", "value"), [
    (["-p", "3100"], "3100"), (["--port", "3100"], "3100"), (["--port=3100"], "3100"), ([], "3000"),
    (["-h", "0.0.0.0"], "3000"),
])
def test_options_are_read_in_every_spelling(health: ModuleType, args: list[str], value: str) -> None:
    assert health.option(args, ["-p", "--port"], "3000") == value


class _Handler(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path == "/prefix/server_info" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    _Handler.status = 200


def test_a_webserver_answering_server_info_is_healthy(health: ModuleType, server: ThreadingHTTPServer) -> None:
    port = str(server.server_address[1])
    healthy, message = health.check("webserver", ["-h", "0.0.0.0", "-p", port, "--path-prefix", "/prefix/"])
    assert healthy, message
    assert f"http://127.0.0.1:{port}/prefix/server_info answered 200" in message


def test_a_webserver_answering_an_error_is_unhealthy(health: ModuleType, server: ThreadingHTTPServer) -> None:
    _Handler.status = 503
    healthy, message = health.check("webserver", ["-p", str(server.server_address[1]), "-l", "/prefix"])
    assert not healthy and "503" in message


def test_a_webserver_that_does_not_listen_is_unhealthy(health: ModuleType) -> None:
    healthy, message = health.check("webserver", ["-p", str(closed_port())])
    assert not healthy and "refused" in message.lower()


@pytest.mark.process
def test_a_code_server_that_does_not_listen_is_unhealthy(health: ModuleType) -> None:
    """The real 'dagster api grpc-health-check' runs against a closed port."""
    healthy, message = health.check("code-server", ["-h", "0.0.0.0", "-p", str(closed_port())])
    assert not healthy and message.startswith("code server:")


def test_a_run_worker_is_healthy_without_a_probe(health: ModuleType) -> None:
    assert health.check("other", []) == (True, "no long-running Dagster service in this container; nothing to check")


def test_main_exits_with_the_check_status(health: ModuleType, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(health, "command_lines", lambda: [["dagster-webserver", "-p", str(closed_port())]])
    assert health.main() == 1
    assert capsys.readouterr().out.startswith("unhealthy: webserver:")
    monkeypatch.setattr(health, "command_lines", lambda: [[sys.executable, "-m", "dagster", "api", "execute_run"]])
    assert health.main() == 0


@pytest.mark.integration
def test_a_serving_code_server_is_healthy(health: ModuleType, tmp_path: Path) -> None:
    """A real 'dagster api grpc' server, found the way the container's check finds it."""
    import subprocess
    import time

    (tmp_path / "defs.py").write_text("from dagster import Definitions\ndefs = Definitions()\n", encoding="utf-8")
    port = closed_port()
    dagster = Path(sys.executable).parent / "dagster"
    process = subprocess.Popen([str(dagster), "api", "grpc", "-h", "127.0.0.1", "-p", str(port), "-f",
                                str(tmp_path / "defs.py")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        role, args = "other", []
        while role == "other" and time.monotonic() < deadline:  # until the child has exec'd
            role, args = health.role_of([argv for argv in health.command_lines() if str(port) in argv])
        assert role == "code-server"
        healthy, message = False, ""
        while time.monotonic() < deadline and not healthy:
            healthy, message = health.check(role, args)
            if not healthy:
                time.sleep(0.5)
        assert healthy, message
        assert message == "code server: gRPC connection successful"
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a gRPC server that was still starting may not stop at once
            process.kill()
            process.wait(timeout=60)
