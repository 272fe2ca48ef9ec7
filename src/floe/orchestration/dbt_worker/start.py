"""The parent's side of the dbt worker: start it as a run begins, stop it when the run ends.

See :mod:`floe.orchestration.dbt_worker` for why and how. The worker is announced to the dbt
step through ``FLOE_DBT_WORKER``; the step then runs ``floe-dbt`` instead of ``dbt``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

from floe.orchestration.dbt_worker.protocol import DBT_ENV, PARENT_FD_ENV, PARENT_PID_ENV, WORKER_ENV, taken_path
from floe.processes import owned_prefix, remove_orphaned

LAUNCHER = "floe-dbt"
# The worker's private folder (its socket): <prefix><owner pid>.<owner start>-<random>.
FOLDER_PREFIX = "floe-dbt-"
WORKER_MODULE = "floe.orchestration.dbt_worker.process"
# sun_path holds 108 bytes on Linux (104 on macOS); a longer TMPDIR means no worker.
MAX_SOCKET_PATH = 100
# How long a worker that has served may take to exit after dbt finished.
TAKEN_WORKER_GRACE_S = 10


def listen(socket_path: str) -> socket.socket:
    """The worker's listening socket. The parent makes it and hands it over (pass_fds), so a
    launcher that comes before the worker has even started waits in the backlog."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(1)
    return server


def launcher_executable() -> str | None:
    """``floe-dbt`` beside this interpreter (installed with floe), or None."""
    beside = Path(sys.executable).parent / LAUNCHER
    return str(beside) if beside.is_file() else shutil.which(LAUNCHER)


def worker_launcher() -> str | None:
    """The launcher to run in place of dbt while a worker is announced, else None."""
    return launcher_executable() if os.environ.get(WORKER_ENV) else None


class DbtWorker:
    """A dbt worker process for one invocation, started now, stopped on exit of the block.

    Use as a context manager around the run. When ``floe-dbt`` is not installed or the fast path
    is off (``floe.orchestration.fastpath``), nothing is started and dbt runs as usual.
    """

    def __init__(self, adapter_type: str | None) -> None:
        self._adapter_type = adapter_type
        self._folder: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._previous: dict[str, str | None] = {}
        self._served = False
        self._lifeline: int | None = None  # the write end of the pipe the worker watches

    @property
    def socket_path(self) -> Path | None:
        """Where the worker listens (None when none was started)."""
        return self._folder / "worker.sock" if self._folder else None

    @property
    def pid(self) -> int | None:
        """The worker's process id (None when none was started)."""
        return self._process.pid if self._process is not None else None

    @property
    def served(self) -> bool:
        """Whether a dbt invocation ran in the worker (known once the block has ended)."""
        return self._served

    def __enter__(self) -> DbtWorker:
        from floe.orchestration.fastpath import enabled

        if not enabled() or launcher_executable() is None:
            return self
        # Folders of earlier runs killed before they could remove theirs (their owner is gone).
        remove_orphaned(Path(tempfile.gettempdir()), FOLDER_PREFIX)
        # A private folder: only this user may connect to the worker. Its name records its owner.
        self._folder = Path(tempfile.mkdtemp(prefix=owned_prefix(FOLDER_PREFIX)))
        if len(os.fsencode(self.socket_path)) > MAX_SOCKET_PATH:  # type: ignore[arg-type]
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
            return self
        server = listen(str(self.socket_path))
        args = [sys.executable, "-m", WORKER_MODULE, str(server.fileno()), str(self.socket_path)]
        if self._adapter_type:
            args.append(self._adapter_type)
        # The worker ends when this process does, however it ends: it watches for EOF on a pipe
        # whose write end only this process holds (not inheritable: no other child keeps it open).
        watched, self._lifeline = os.pipe()
        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", PARENT_FD_ENV: str(watched)}
        try:
            self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL, env=env,
                                             pass_fds=(server.fileno(), watched))
        finally:
            server.close()  # the worker has its own copies
            os.close(watched)
        from floe.compiler.dbt_process import dbt_executable

        announced = {WORKER_ENV: str(self.socket_path), DBT_ENV: dbt_executable(), PARENT_PID_ENV: str(os.getpid())}
        self._previous = {name: os.environ.get(name) for name in announced}
        os.environ.update(announced)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._process is None:
            return
        for name, value in self._previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        assert self.socket_path is not None
        if Path(taken_path(str(self.socket_path))).exists():
            # Taken: dbt ran (or runs) there. It ends on its own right after dbt; a launcher
            # killed mid-run leaves it running, hence the bound.
            try:
                self._served = self._process.wait(timeout=TAKEN_WORKER_GRACE_S) >= 0
            except subprocess.TimeoutExpired:
                pass
        if self._process.poll() is None:
            # Never used (no dbt step ran), or orphaned: it holds no state worth keeping.
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
