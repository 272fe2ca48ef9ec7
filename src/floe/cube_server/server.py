"""Running the Cube API: a node child of floe, its readiness, and the record other floes find it by.

``CubeServer`` starts ``node server.js`` (``node/server.js`` beside this module, with the
installed packages on ``NODE_PATH``) and waits until it listens and its readiness probe says
the database answers. The child ends with floe: it reads floe's end of a pipe on its standard
input and exits on EOF, and on Linux it also gets SIGTERM when floe's main thread ends.

While ``floe cube serve`` runs, ``.floe/cube/server-<environment>.json`` (mode 0600: it holds the API
secret) says where it listens, so ``floe cube query`` asks it instead of starting its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from floe.cube_server.client import ready
from floe.cube_server.errors import CubeServerError
from floe.cube_server.install import SERVER_SCRIPT, find_node
from floe.processes import child_ends_with_parent, is_running, is_this_host, process_started, this_process

if TYPE_CHECKING:
    from floe.cube_server.database import CubeDatabase



def record_file(environment: str) -> str:
    """The record of the server of one environment (each environment may have its own running)."""
    return f"server-{environment}.json"


def log_file(environment: str, *, for_query: bool = False) -> str:
    """The log of the last server started for an environment (by serve, or for one query)."""
    return f"{'query' if for_query else 'server'}-{environment}.log"


# Cube's settings floe chooses; the user's own CUBEJS_* variables win over these (not over the
# database, which platform.yaml declares).
CUBE_DEFAULTS = {
    # usedPreAggregations in answers, and the model recompiled when its files change.
    "CUBEJS_DEV_MODE": "true",
    "CUBEJS_CACHE_AND_QUEUE_DRIVER": "memory",
    "CUBEJS_REFRESH_WORKER": "true",
    "CUBEJS_SCHEDULED_REFRESH_TIMER": "10",
    "CUBEJS_TELEMETRY": "false",
    "CUBEJS_LOG_LEVEL": "info",
}
_LISTENING_KEY = "floe_cube_listening"
_STOP_GRACE_S = 15.0


@dataclass(frozen=True)
class ServerRecord:
    """A running Cube server, as ``.floe/cube/server-<environment>.json`` records it."""

    pid: int
    host: str
    started: float | None
    port: int
    secret: str
    environment: str
    owner_pid: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        """Whether the recorded server still runs (on this host, not a reused pid)."""
        return is_this_host(self.host) and is_running(self.pid, self.started)


def running_server(cube_dir: Path, environment: str) -> ServerRecord | None:
    """The ``floe cube serve`` running for this project and environment, or None.

    A record whose server is gone (``kill -9`` leaves it behind) is removed.
    """
    path = cube_dir / record_file(environment)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        record = ServerRecord(**document)
    except (OSError, ValueError, TypeError):
        return None
    if not record.alive():
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return record


class CubeServer:
    """One Cube API process over one database and one model folder."""

    def __init__(self, *, modules: Path, model_dir: Path, database: CubeDatabase, secret: str, port: int,
                 log_path: Path, environment: str) -> None:
        self.modules = modules
        self.model_dir = model_dir
        self.database = database
        self.secret = secret
        self.requested_port = port
        self.log_path = log_path
        self.environment = environment
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._listening = threading.Event()
        self._pump: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environ(self) -> dict[str, str]:
        """The child's environment: floe's, Cube's defaults, the user's CUBEJS_*, the database."""
        inherited = dict(os.environ)
        user_cube = {key: value for key, value in inherited.items() if key.startswith("CUBEJS_")}
        return {
            **inherited, **CUBE_DEFAULTS, **user_cube, **self.database.cube_environment(),
            "CUBEJS_API_SECRET": self.secret,
            "NODE_PATH": str(self.modules),
            "FORCE_COLOR": "0",  # plain text in the log
            "FLOE_CUBE_MODEL": str(self.model_dir),
            "FLOE_CUBE_HOST": "127.0.0.1",
            "FLOE_CUBE_PORT": str(self.requested_port),
        }

    def start(self, timeout_s: float = 300) -> None:
        """Start the server and return once it answers (listening, and the database reachable).

        Must be called from the thread that later stops it (the child is told to end with it).

        Raises:
            CubeServerError: node is missing, the server exited, or it was not ready in time.
        """
        node, _ = find_node()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")  # one log per start: the last server's
        self._process = subprocess.Popen(
            [node, str(SERVER_SCRIPT)], cwd=self.model_dir.parent, env=self.environ(), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=log, preexec_fn=child_ends_with_parent(signal.SIGTERM),
        )
        log.close()  # the child holds its own copy
        self._pump = threading.Thread(target=self._read_stdout, args=(self._process.stdout,),
                                      name="floe-cube-stdout", daemon=True)
        self._pump.start()
        deadline = time.monotonic() + timeout_s
        try:
            self._wait(lambda: self._listening.is_set(), deadline, "listen")
            self._wait(lambda: ready(self.url), deadline, "reach the database")
        except BaseException:
            self.stop()
            raise

    def _wait(self, done: Callable[[], bool], deadline: float, what: str) -> None:
        assert self._process is not None
        while not done():
            code = self._process.poll()
            if code is not None:
                raise CubeServerError(f"the Cube server exited ({code}) before it could {what}:\n{self.log_tail()}",
                                      hint=f"the whole log is in {self.log_path}")
            if time.monotonic() > deadline:
                hint = (f"is {self.database.target} up and does it accept user '{self.database.user}'? "
                        f"The log is in {self.log_path}")
                raise CubeServerError(f"the Cube server did not {what} in time:\n{self.log_tail()}", hint=hint)
            time.sleep(0.2)

    def _read_stdout(self, stream: IO[bytes] | None) -> None:
        """Copy the child's output to the log; catch the line that says which port it listens on."""
        if stream is None:
            return
        with self.log_path.open("ab") as log:
            for line in stream:
                if not self._listening.is_set() and _LISTENING_KEY.encode() in line:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        self.port = int(json.loads(line)[_LISTENING_KEY]["port"])
                        self._listening.set()
                        continue
                log.write(line)
                log.flush()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.strip().splitlines()[-lines:]) or "(the log is empty)"

    def wait(self) -> int:
        """Block until the server ends; its exit status.

        Waits in short slices. Ctrl-C's SIGINT may be handed by the kernel to any thread, here
        often the stdout pump; that only marks the signal pending, and the main thread runs the
        handler (KeyboardInterrupt) the next time it executes Python. A single blocking waitpid
        would keep it from ever looking: on a loaded machine 'floe cube serve' then ignored
        Ctrl-C until the test killed it.
        """
        assert self._process is not None
        while True:
            try:
                return self._process.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue

    def stop(self) -> None:
        """End the server (SIGTERM, then SIGKILL after a grace period) and wait for it."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def record(self) -> ServerRecord:
        assert self._process is not None and self.port is not None
        return ServerRecord(pid=self._process.pid, host=this_process().host,
                            started=process_started(self._process.pid), port=self.port, secret=self.secret,
                            environment=self.environment, owner_pid=os.getpid())


def write_record(cube_dir: Path, record: ServerRecord) -> Path:
    """Write the record atomically, readable by its owner only (it holds the API secret)."""
    cube_dir.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(prefix=".server-", suffix=".json", dir=cube_dir)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(asdict(record), out, indent=2)
        os.chmod(scratch, 0o600)
        os.replace(scratch, cube_dir / record_file(record.environment))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(scratch)
        raise
    return cube_dir / record_file(record.environment)


def remove_record(cube_dir: Path, record: ServerRecord) -> None:
    """Remove the record if it still describes ``record`` (a newer serve may have replaced it)."""
    path = cube_dir / record_file(record.environment)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == record.pid:
            path.unlink()
    except (OSError, ValueError):
        pass
