"""The native dev stack: Dagster's UI and daemon serving the floe definitions, as local processes.

Three processes, each the leader of its own process group so that stopping the group stops
everything it started (code servers, run workers, dbt):

* the code server (``dagster api grpc -m floe.orchestration.definitions``): loads the
  definitions once, for both others; runs launched from the UI or the daemon run under it;
* the webserver (the UI), reading the code server through a generated workspace.yaml;
* the daemon (schedules, sensors, the run queue).

Dagster's storage is the platform's (SQLite under .floe/, or PostgreSQL): the same instance
``floe run`` writes to, so runs from either show in the UI. What the stack is (pids, URL,
logs) is kept in ``.floe/dev/state.json`` for ``floe dev --check``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from floe.contract.io import write_text_atomic
from floe.contract.project import ARTIFACTS_ENV, PROJECT_DIR_ENV, CompiledProject
from floe.errors import FloeError
from floe.platform.dagster_probe import ProbeError, locations, reload_location, server_info

DEFINITIONS_MODULE = "floe.orchestration.definitions"
STATE_FILE = "state.json"
_POLL_S = 0.1
_STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class DevOptions:
    """How to serve: where the UI listens, whether the daemon runs, how long to wait for it."""

    host: str = "127.0.0.1"
    port: int = 3000
    daemon: bool = True
    wait_s: float = 180.0


@dataclass
class DevState:
    """What is running; written to ``.floe/dev/state.json``."""

    url: str
    project: str
    environment: str
    dagster_home: str
    pids: dict[str, int]
    logs: dict[str, str]
    started_at: float = field(default_factory=time.time)
    mode: str = "native"

    @classmethod
    def read(cls, path: Path) -> DevState | None:
        """The state file's content, or None when there is none (or it is unreadable)."""
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None


def dev_dir(compiled: CompiledProject) -> Path:
    """Folder of the dev stack's logs, workspace and state."""
    return compiled.output_dir / "dev"


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on ``host:port``."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno in {errno.EADDRINUSE, errno.EACCES}
    return False


def free_port(host: str = "127.0.0.1", start: int | None = None) -> int:
    """A port nobody listens on: the first free one from ``start``, else any the system gives."""
    if start is not None:
        for candidate in range(start, min(start + 100, 65536)):
            if not port_in_use(host, candidate):
                return candidate
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _tool(name: str) -> str:
    """A console script of this Python environment (beside the interpreter), else from PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


class NativeStack:
    """Start, watch and stop the three processes."""

    def __init__(self, compiled: CompiledProject, options: DevOptions) -> None:
        self.compiled = compiled
        self.options = options
        self.folder = dev_dir(compiled)
        self.url = f"http://{options.host}:{options.port}"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.logs: dict[str, Path] = {}

    def start(self, on_step: Callable[[str], None] = lambda _: None) -> DevState:
        """Start everything and wait until the UI serves the loaded definitions.

        Raises:
            FloeError: The port is taken, a process dies while starting (its log's last lines
                are in the message), or the stack is not ready within ``wait_s``.
        """
        from floe.orchestration.instance import prepare_instance_home

        if port_in_use(self.options.host, self.options.port):
            raise FloeError(f"port {self.options.port} on {self.options.host} is already in use",
                            hint=f"stop what listens there, or choose another port: floe dev --port "
                                 f"{free_port(self.options.host, self.options.port + 1)}")
        self.folder.mkdir(parents=True, exist_ok=True)
        home = prepare_instance_home(self.compiled)
        if self._storage_is_new(home):
            # Three processes creating the same fresh storage at once collide ("table
            # alembic_version already exists"): create it here first, once.
            on_step("creating Dagster's storage")
            from floe.orchestration.instance import open_instance

            open_instance(self.compiled).dispose()
        grpc_port = free_port()
        workspace = self.folder / "workspace.yaml"
        write_text_atomic(workspace, yaml.safe_dump({"load_from": [{"grpc_server": {
            "host": "127.0.0.1", "port": grpc_port, "location_name": self.compiled.artifacts.project.name}}]}))
        env = {**os.environ, "DAGSTER_HOME": str(home), ARTIFACTS_ENV: str(self.compiled.artifacts_path),
               PROJECT_DIR_ENV: str(self.compiled.root), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        deadline = time.monotonic() + self.options.wait_s
        try:
            on_step("loading the definitions (code server)")
            self._spawn("code-server", [_tool("dagster"), "api", "grpc", "-m", DEFINITIONS_MODULE,
                                        "-h", "127.0.0.1", "-p", str(grpc_port)], env)
            # The webserver starts meanwhile (its imports take seconds); it is told to reload the
            # location once the code server listens. The daemon waits for the code server.
            on_step("starting the UI (webserver)")
            self._spawn("webserver", [_tool("dagster-webserver"), "-w", str(workspace), "-h", self.options.host,
                                      "-p", str(self.options.port)], env)
            self._wait_for_port("code-server", grpc_port, deadline)
            if self.options.daemon:
                # Under floe's wrapper, as in Compose and Kubernetes: orchestrator.daemon's mode
                # (restart on a stale heartbeat; in ha, only while holding the lock) is honoured here too.
                on_step(f"starting the daemon (schedules, sensors, run queue; {_daemon_mode(self.compiled)})")
                self._spawn("daemon", [_tool("floe"), "daemon", "run", "--workspace", str(workspace)], env)
            self._wait_for_ui(deadline)
        except BaseException:
            self.stop()
            raise
        state = DevState(url=self.url, project=self.compiled.artifacts.project.name,
                         environment=self.compiled.artifacts.environment_name, dagster_home=str(home),
                         pids={name: process.pid for name, process in self.processes.items()},
                         logs={name: str(path) for name, path in self.logs.items()})
        write_text_atomic(self.folder / STATE_FILE, json.dumps(asdict(state), indent=2))
        return state

    def _storage_is_new(self, home: Path) -> bool:
        """Whether Dagster's storage has not been created yet (always checked for PostgreSQL)."""
        storage = self.compiled.artifacts.environment.orchestrator.storage
        return storage.type != "sqlite" or not (home / "history" / "runs.db").is_file()

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = self.folder / f"{name}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            self.processes[name] = subprocess.Popen(argv, cwd=self.compiled.root, env=env, stdout=out,
                                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                    start_new_session=True)

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise FloeError(f"the {name} exited while starting (exit {process.returncode}):\n"
                                + self._tail(name), hint=f"the whole log: {self.logs[name]}")

    def _tail(self, name: str, lines: int = 12) -> str:
        try:
            text = self.logs[name].read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "  (no log)"
        return "\n".join("  " + line for line in text.strip().splitlines()[-lines:])

    def _wait_for_port(self, name: str, port: int, deadline: float) -> None:
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
            time.sleep(_POLL_S)
        raise FloeError(f"the {name} did not start within {self.options.wait_s:g}s:\n" + self._tail(name),
                        hint="allow more time with --wait, or look at the log")

    def _wait_for_ui(self, deadline: float) -> None:
        """Until the webserver serves the location loaded; reload it if it tried too early."""
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                server_info(self.url, timeout_s=1.0)
                statuses = locations(self.url)
            except ProbeError:
                time.sleep(_POLL_S)
                continue
            if statuses and all(status.status == "LOADED" and not status.error for status in statuses):
                return
            for status in statuses:
                if status.error:
                    self._reload(status.name, deadline)
            time.sleep(_POLL_S)
        raise FloeError(f"the UI was not ready within {self.options.wait_s:g}s:\n" + self._tail("webserver"),
                        hint="allow more time with --wait, or look at the log")

    def _reload(self, location: str, deadline: float) -> None:
        """Ask the webserver to load the location again; fail when it still cannot."""
        try:
            result = reload_location(self.url, location)
        except ProbeError:
            return
        if result is not None and time.monotonic() > deadline - 1:
            raise FloeError(f"the definitions did not load in the UI: {result}",
                            hint=f"logs: {self.logs['code-server']}")

    def wait(self, stop_requested: Callable[[], bool]) -> str | None:
        """Block until ``stop_requested()`` or a process dies; the dead process's report, or None."""
        while not stop_requested():
            for name, process in self.processes.items():
                if process.poll() is not None:
                    return f"the {name} exited (code {process.returncode}):\n{self._tail(name)}"
            time.sleep(0.2)
        return None

    def stop(self) -> list[str]:
        """Stop every process group (TERM, then KILL after a grace period); names of those killed."""
        for process in self.processes.values():
            _signal_group(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + _STOP_GRACE_S
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
        killed = []
        for name, process in self.processes.items():
            if process.poll() is None:
                killed.append(name)
            # The leader may be gone while a child it started (a run, dbt) is still in its group.
            _signal_group(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        with contextlib.suppress(OSError):
            (self.folder / STATE_FILE).unlink()
        return killed


def _daemon_mode(compiled: CompiledProject) -> str:
    """How the daemon is kept running, in a few words for the progress line."""
    daemon = compiled.artifacts.environment.orchestrator.daemon
    if daemon.mode == "single":
        return f"restarted when its heartbeat is {daemon.restart_timeout.total_seconds():g}s old"
    return "mode ha: it runs while this machine holds the lock on Dagster's database"


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
